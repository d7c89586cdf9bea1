"""Validation splits that cannot leak: out-of-time cuts, duplicate-aware folds, content-hashed holdouts.

docs/modeling.md "Validation": out-of-time where rows have dates; stratified k-fold with exact duplicate rows kept
in one fold where they have none (the Polish data holds exact duplicates, which would otherwise sit on
both sides of a fold and inflate the AUC).
"""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import date, datetime

import numpy as np
import pandas as pd


def _test_period_start(first_test_year: int) -> pd.Timestamp:
    return pd.Timestamp(year=int(first_test_year), month=1, day=1)


def _years(frame: pd.DataFrame, year_column: str) -> pd.Series:
    years = pd.to_numeric(frame[year_column], errors="raise")
    if years.isna().any():
        raise ValueError(f"{int(years.isna().sum())} rows have no {year_column!r}: they cannot be placed")
    return years


def out_of_time_split(
    frame: pd.DataFrame,
    year_column: str,
    test_from_year: int,
    horizon_months: int | None = None,
    time_column: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on rows with year < test_from_year, test on year >= test_from_year (indexes kept).

    The test period starts on 1 January of ``test_from_year``. With ``time_column`` (the observation date
    t), training rows observed on or after that start are dropped; with ``horizon_months`` as well, so are
    training rows whose label window (t, t + H] reaches the test period (t + H >= start), because their
    label was only known inside it. ``year_column`` is best the year of t, so no row is lost twice.
    """
    if horizon_months is not None and time_column is None:
        raise ValueError("horizon_months needs time_column (the observation date t) to find each window")
    years = _years(frame, year_column)
    train = frame[years < test_from_year]
    test = frame[years >= test_from_year]
    if time_column is not None:
        start = _test_period_start(test_from_year)
        t = pd.to_datetime(train[time_column])
        resolved = t if horizon_months is None else t + pd.DateOffset(months=horizon_months)
        train = train[resolved < start]
    return train, test


def _examples(index: pd.Index, limit: int = 5) -> str:
    shown = ", ".join(repr(value) for value in list(index[:limit]))
    return shown + (", ..." if len(index) > limit else "")


def assert_no_leakage(
    train: pd.DataFrame,
    test: pd.DataFrame,
    year_column: str,
    events: pd.DataFrame | None = None,
    time_column: str = "t",
    horizon_months: int | None = None,
    target_column: str = "target",
) -> None:
    """Raise AssertionError naming the leak when ``train`` knows anything from ``test``'s period.

    Checks: every training year precedes the first test year; when ``time_column`` is in ``train``, no
    training row is observed in the test period and (with ``horizon_months``) no label window reaches it;
    with ``events`` (company_id, event_date), no training label of 1 comes from a first default dated in the
    test period.
    """
    if test.empty:
        raise AssertionError("test set is empty: nothing to validate out of time")
    test_years = _years(test, year_column)
    first_test_year = int(test_years.min())
    start = _test_period_start(first_test_year)
    train_years = _years(train, year_column)

    late = train.index[(train_years >= first_test_year).to_numpy()]
    if len(late):
        raise AssertionError(
            f"year leak: {len(late)} training rows have {year_column} >= {first_test_year}, the first test "
            f"year (index {_examples(late)})"
        )

    has_time = time_column in train.columns
    if has_time:
        t = pd.to_datetime(train[time_column])
        observed_late = train.index[(t >= start).to_numpy()]
        if len(observed_late):
            raise AssertionError(
                f"observation leak: {len(observed_late)} training rows have {time_column} on or after "
                f"{start.date()}, the start of the test period (index {_examples(observed_late)})"
            )
        if horizon_months is not None:
            window_end = t + pd.DateOffset(months=horizon_months)
            reaching = train.index[(window_end >= start).to_numpy()]
            if len(reaching):
                raise AssertionError(
                    f"label-window leak: {len(reaching)} training rows have {time_column} + {horizon_months} "
                    f"months on or after {start.date()}, so their label looks into the test period "
                    f"(index {_examples(reaching)})"
                )

    if events is not None:
        if not has_time or target_column not in train.columns:
            raise ValueError(f"checking events needs {time_column!r} and {target_column!r} in train")
        event_dates = pd.to_datetime(events["event_date"])
        first_default = event_dates.groupby(events["company_id"].to_numpy()).min()
        company_default = train["company_id"].map(first_default)
        revealed = train.index[((train[target_column] == 1) & (company_default >= start)).to_numpy()]
        if len(revealed):
            raise AssertionError(
                f"event leak: {len(revealed)} training rows are labelled 1 by a default on or after "
                f"{start.date()}, inside the test period (index {_examples(revealed)})"
            )


def stratified_group_kfold(y, groups, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train positions, test positions) per fold; a group never spans two folds; folds keep y's share.

    Pass ``duplicate_groups(features)`` as ``groups`` so exact duplicates stay in one fold.
    """
    labels = np.asarray(y).ravel()
    group_ids = np.asarray(groups).ravel()
    if labels.size != group_ids.size:
        raise ValueError(f"y has {labels.size} values, groups has {group_ids.size}")
    if n_splits < 2:
        raise ValueError("n_splits must be at least 2")
    from sklearn.model_selection import StratifiedGroupKFold  # training only: a scoring run's start skips it

    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    placeholder = np.zeros((labels.size, 1))
    return [(train, test) for train, test in splitter.split(placeholder, labels, group_ids)]


_CELL_BYTES = 9  # one tag byte + 8 bytes of value
_EXACT_FLOAT_INT = 2**53  # integers up to this size are exact as float64, so 1 and 1.0 encode alike
_NULL_CELL = bytes(_CELL_BYTES)


def _digest8(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:8]


def _encode_cell(value) -> bytes:
    """Fixed-width code of one cell, equal for equal content: 1 == 1.0, NaN == None == NaT, '1' != 1."""
    if value is None or value is pd.NA or value is pd.NaT:
        return _NULL_CELL
    if isinstance(value, bool | np.bool_):
        return b"b" + struct.pack(">d", 1.0 if value else 0.0)
    if isinstance(value, int | np.integer) and abs(int(value)) > _EXACT_FLOAT_INT:
        return b"i" + _digest8(str(int(value)))
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isnan(number):
            return _NULL_CELL
        return b"n" + struct.pack(">d", number + 0.0)  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, datetime | date):
        return b"d" + _digest8(value.isoformat())
    return b"s" + _digest8(str(value))


def _encode_column(series: pd.Series) -> np.ndarray:
    """(rows, 9) uint8 codes of a column; numpy numeric columns are encoded vectorised, like _encode_cell."""
    dtype = series.dtype
    numeric = isinstance(dtype, np.dtype) and dtype.kind in "fiu"
    if numeric and dtype.kind in "iu" and len(series) and np.abs(series.to_numpy()).max() > _EXACT_FLOAT_INT:
        numeric = False
    if not numeric:
        cells = b"".join(_encode_cell(value) for value in series.tolist())
        return np.frombuffer(cells, dtype=np.uint8).reshape(len(series), _CELL_BYTES)
    values = series.to_numpy(dtype=np.float64) + 0.0
    missing = np.isnan(values)
    codes = np.empty((len(series), _CELL_BYTES), dtype=np.uint8)
    codes[:, 0] = ord("n")
    codes[:, 1:] = np.where(missing, 0.0, values).astype(">f8").view(np.uint8).reshape(-1, 8)
    codes[missing] = 0
    return codes


def _row_content_keys(frame: pd.DataFrame) -> tuple[bytes, list[bytes]]:
    """(header naming the columns, one byte key per row): independent of column order, row order, index."""
    if frame.shape[1] == 0:
        raise ValueError("frame has no columns: rows have no content to compare")
    columns = sorted(frame.columns, key=str)
    header = "\x1f".join(str(column) for column in columns).encode("utf-8")
    codes = np.hstack([_encode_column(frame[column]) for column in columns])
    return header, [row.tobytes() for row in codes]


def duplicate_groups(frame: pd.DataFrame) -> np.ndarray:
    """Group id per row (0, 1, ... in order of first appearance); identical rows, NaN included, share one.

    Pass only the columns that define a duplicate (for the Polish data: the attributes, so rows with the
    same ratios but different labels also land together).
    """
    _, keys = _row_content_keys(frame)
    codes, _ = pd.factorize(pd.Series(keys, dtype=object))
    return codes.astype(np.int64)


def holdout_mask(frame: pd.DataFrame, share: float = 0.2, salt: str = "riskgraph") -> np.ndarray:
    """True for rows in the holdout, decided by a SHA-256 of the salt and each row's content.

    The same row is in or out on every run, in any order, and in later data versions that add rows;
    duplicates land together. The realised share is ``share`` only in expectation.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError("share must lie in [0, 1]")
    header, keys = _row_content_keys(frame)
    prefix = salt.encode("utf-8") + b"\x00" + header + b"\x00"
    draws = [int.from_bytes(hashlib.sha256(prefix + key).digest()[:8], "big") / 2.0**64 for key in keys]
    return np.asarray(draws, dtype=float) < share
