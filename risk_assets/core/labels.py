"""Default labels with a horizon, placed in time (docs/modeling.md, "Labels").

A statement row is observed at t = its ``filed_at`` (when the market could first read it) or, when the
source gives no filing date, at period end + a reporting lag. Its label is 1 when the company's FIRST
default falls in (t, t + H months], else 0. Rows observed on or after the first default are not training
rows (the company is already in default, grade "D"): ``label_rows`` drops them and ``label_and_exclude``
also returns them with the reason, so a caller can count or log what was left out.

Optionally, with ``observed_until`` (the last date the default events are known to be complete), rows
whose window (t, t + H] runs past that date are excluded too: a 0 there only means "not seen yet".
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

#: Event kinds that are a default (the labels' positives) and kinds that end one; every event source and the
#: CSV import use these names.
DEFAULT_EVENT_KINDS: tuple[str, ...] = (
    "bankruptcy",
    "default",
    "rehabilitation_filing",
    "creditor_bank_management",
)
CURE_EVENT_KINDS: tuple[str, ...] = ("emergence",)
EVENT_KINDS: tuple[str, ...] = DEFAULT_EVENT_KINDS + CURE_EVENT_KINDS

DEFAULT_HORIZON_MONTHS = 12
DEFAULT_REPORTING_LAG_DAYS = 90

REASON_AFTER_DEFAULT = "observed_on_or_after_default"
REASON_WINDOW_NOT_OBSERVED = "label_window_not_observed"


def in_default(keys: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """Per row of ``keys`` (company_id, as_of): is the company in default on that day? Yes when its latest default
    event on or before ``as_of`` has not been followed, on or before ``as_of``, by a later cure (emergence). The one
    definition of "in default" (grade D, PD 1) for scoring; vectorised (one as-of merge per event kind), so a
    whole market's rows cost one pass over the events, not one filter per row."""
    if keys.empty:
        return np.zeros(0, dtype=bool)
    rows = pd.DataFrame(
        {
            "company_id": keys["company_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(keys["as_of"]).to_numpy(),
            "_row": np.arange(len(keys)),
        }
    )
    events = (
        events[["company_id", "event_date", "kind"]].copy()
        if len(events)
        else pd.DataFrame(columns=["company_id", "event_date", "kind"])
    )
    events["company_id"] = events["company_id"].astype(str)
    events["event_date"] = pd.to_datetime(events["event_date"])

    def latest(kinds: tuple[str, ...], column: str) -> pd.Series:
        chosen = events[events["kind"].isin(kinds)][["company_id", "event_date"]].rename(
            columns={"event_date": column}
        )
        merged = pd.merge_asof(
            rows.sort_values("as_of"),
            chosen.sort_values(column),
            left_on="as_of",
            right_on=column,
            by="company_id",
            direction="backward",
        )
        return merged.set_index("_row")[column].reindex(rows["_row"])

    last_default, last_cure = latest(DEFAULT_EVENT_KINDS, "_default"), latest(CURE_EVENT_KINDS, "_cure")
    defaulted = last_default.notna().to_numpy()
    cured = (last_cure.notna() & (last_cure > last_default)).to_numpy()
    return defaulted & ~cured


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def observation_time(period_end, filed_at=None, reporting_lag_days: int = DEFAULT_REPORTING_LAG_DAYS) -> date:
    """t = filed_at when known (None/NaT/NaN count as unknown), else period_end + reporting_lag_days."""
    if not _missing(filed_at):
        return _as_date(filed_at)
    if _missing(period_end):
        raise ValueError("neither filed_at nor period_end is known: the row cannot be placed in time")
    return _as_date(period_end) + timedelta(days=reporting_lag_days)


def _to_naive_days(series: pd.Series) -> pd.Series:
    """Datetimes truncated to the day (tz-aware values in UTC first), so same-day events compare equal."""
    values = pd.to_datetime(series)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.dt.normalize()


def _observation_times(rows: pd.DataFrame, reporting_lag_days: int) -> pd.Series:
    period_end = _to_naive_days(rows["period_end"])
    lagged = period_end + pd.Timedelta(days=reporting_lag_days)
    t = _to_naive_days(rows["filed_at"]).fillna(lagged) if "filed_at" in rows.columns else lagged
    if t.isna().any():
        raise ValueError(f"{int(t.isna().sum())} rows have neither filed_at nor period_end")
    return t


def observation_times(rows: pd.DataFrame, reporting_lag_days: int = DEFAULT_REPORTING_LAG_DAYS) -> pd.Series:
    """t per row (datetime64, day): ``filed_at`` where known, else ``period_end`` + the reporting lag."""
    return _observation_times(rows, reporting_lag_days)


def _first_defaults(events: pd.DataFrame, default_kinds: Collection[str] | None) -> pd.DataFrame:
    if default_kinds is not None:
        events = events[events["kind"].isin(list(default_kinds))]
    dates = _to_naive_days(events["event_date"])
    if dates.isna().any():
        raise ValueError("events contain a missing event_date")
    first = pd.DataFrame({"company_id": events["company_id"].to_numpy(), "first_default": dates.to_numpy()})
    return first.groupby("company_id", as_index=False)["first_default"].min()


def _label_all(
    rows: pd.DataFrame,
    events: pd.DataFrame,
    horizon_months: int,
    reporting_lag_days: int,
    default_kinds: Collection[str] | None,
    observed_until,
) -> pd.DataFrame:
    """Every row with t, first_default, target and excluded_reason (None for training rows)."""
    if horizon_months < 1:
        raise ValueError("horizon_months must be at least 1")
    labelled = rows.copy()
    labelled["t"] = _observation_times(rows, reporting_lag_days)
    first = _first_defaults(events, default_kinds)
    if first.empty:
        first_default = pd.Series(pd.NaT, index=labelled.index, dtype="datetime64[ns]")
    else:
        # merge (not map) so company ids of different types (int vs text) raise instead of never matching
        merged = labelled[["company_id"]].merge(first, on="company_id", how="left", validate="many_to_one")
        first_default = pd.Series(merged["first_default"].to_numpy(), index=labelled.index)
    horizon_end = labelled["t"] + pd.DateOffset(
        months=horizon_months
    )  # calendar months, end-of-month clamped
    in_window = (first_default > labelled["t"]) & (first_default <= horizon_end)
    labelled["target"] = in_window.astype(int)

    reason = pd.Series(None, index=labelled.index, dtype=object)
    if observed_until is not None:
        limit = pd.Timestamp(observed_until).normalize()
        # A default seen inside the window is a certain 1 even if the window runs past the limit.
        reason[(horizon_end > limit) & ~in_window] = REASON_WINDOW_NOT_OBSERVED
    reason[first_default.notna() & (labelled["t"] >= first_default)] = REASON_AFTER_DEFAULT
    labelled["excluded_reason"] = reason
    return labelled


def label_rows(
    rows: pd.DataFrame,
    events: pd.DataFrame,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    reporting_lag_days: int = DEFAULT_REPORTING_LAG_DAYS,
    *,
    default_kinds: Collection[str] | None = None,
    observed_until=None,
) -> pd.DataFrame:
    """Training rows: ``rows`` (index kept) plus ``t`` (datetime64, day) and ``target`` (0/1).

    rows: company_id, period_end, optional filed_at (NaT allowed per row). events: company_id, event_date,
    kind; every event counts as a default unless ``default_kinds`` names the kinds that do.
    Rows observed on or after the company's first default (and, with ``observed_until``, rows whose label
    window is not fully observed) are left out; ``label_and_exclude`` returns them too.
    """
    return label_and_exclude(
        rows,
        events,
        horizon_months,
        reporting_lag_days,
        default_kinds=default_kinds,
        observed_until=observed_until,
    )[0]


def label_and_exclude(
    rows: pd.DataFrame,
    events: pd.DataFrame,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    reporting_lag_days: int = DEFAULT_REPORTING_LAG_DAYS,
    *,
    default_kinds: Collection[str] | None = None,
    observed_until=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the labelled rows ``label_rows`` returns, the rows left out with ``t``, ``target`` and
    ``excluded_reason``) from one labelling pass."""
    labelled = _label_all(rows, events, horizon_months, reporting_lag_days, default_kinds, observed_until)
    dropped = labelled["excluded_reason"].notna()
    return labelled[~dropped].drop(columns=["excluded_reason"]), labelled[dropped]
