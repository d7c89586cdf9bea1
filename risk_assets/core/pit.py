"""Point-in-time joins: what was known at a date, never what was published after it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def prior_year_versions(frame: pd.DataFrame, years_back: int = 1) -> pd.DataFrame:
    """For each row, the version of the same company's fiscal year ``fiscal_year - years_back`` that was the
    latest filed on or before this row's ``filed_at`` (all-NaN row when none was known then).

    Returns a frame aligned to ``frame.index`` with the same columns.
    """
    result = pd.DataFrame(index=frame.index, columns=frame.columns, dtype=object)
    if frame.empty:
        return result
    filed = pd.to_datetime(frame["filed_at"])
    keyed = frame.assign(_filed=filed, _year=frame["fiscal_year"].astype(int))
    candidates = keyed.sort_values("_filed")
    groups = {key: group for key, group in candidates.groupby(["company_id", "_year"])}
    positions = []
    for index, row in keyed.iterrows():
        group = groups.get((row["company_id"], row["_year"] - years_back))
        if group is None:
            positions.append((index, None))
            continue
        known = group[group["_filed"] <= row["_filed"]]
        positions.append((index, known.index[-1] if len(known) else None))
    found = [(i, j) for i, j in positions if j is not None]
    if found:
        targets, sources = zip(*found, strict=True)
        result.loc[list(targets)] = frame.loc[list(sources)].to_numpy()
    return result.infer_objects()


def latest_known(frame: pd.DataFrame, as_of: pd.Timestamp | str, keys: tuple[str, ...]) -> pd.DataFrame:
    """Per ``keys``, the row with the greatest ``filed_at`` on or before ``as_of``."""
    cutoff = pd.Timestamp(as_of)
    known = frame[pd.to_datetime(frame["filed_at"]) <= cutoff]
    ordered = known.assign(_filed=pd.to_datetime(known["filed_at"])).sort_values("_filed")
    return ordered.groupby(list(keys)).tail(1).drop(columns="_filed")


def as_float(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
