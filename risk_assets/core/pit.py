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
    # One as-of merge instead of a filter per row: each row asks for (company, year - years_back) filed on or
    # before its own filing date; among versions filed the same day the later row of ``frame`` wins.
    filed = pd.to_datetime(frame["filed_at"]).to_numpy()
    year = frame["fiscal_year"].astype(int).to_numpy()
    company = frame["company_id"].astype(str).to_numpy()
    candidates = pd.DataFrame(
        {"_company": company, "_year": year, "_filed": filed, "_source": np.arange(len(frame))}
    ).sort_values(["_filed", "_source"], kind="stable")
    asked = pd.DataFrame(
        {"_company": company, "_year": year - years_back, "_filed": filed, "_target": np.arange(len(frame))}
    ).sort_values("_filed", kind="stable")
    found = pd.merge_asof(asked, candidates, on="_filed", by=["_company", "_year"], direction="backward")
    found = found[found["_source"].notna()]
    if len(found):
        targets = frame.index[found["_target"].to_numpy()]
        sources = frame.index[found["_source"].astype(int).to_numpy()]
        result.loc[targets] = frame.loc[sources].to_numpy()
    return result.infer_objects()


def latest_known(frame: pd.DataFrame, as_of: pd.Timestamp | str, keys: tuple[str, ...]) -> pd.DataFrame:
    """Per ``keys``, the row with the greatest ``filed_at`` on or before ``as_of``."""
    cutoff = pd.Timestamp(as_of)
    known = frame[pd.to_datetime(frame["filed_at"]) <= cutoff]
    ordered = known.assign(_filed=pd.to_datetime(known["filed_at"])).sort_values("_filed")
    return ordered.groupby(list(keys)).tail(1).drop(columns="_filed")


def as_float(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def known_versions(
    frame: pd.DataFrame, as_of: pd.Timestamp | str, period_types: tuple[str, ...] = ("FY",)
) -> pd.DataFrame:
    """The view a model trained at ``as_of`` may use: per (company_id, period_end), the latest version filed
    on or before ``as_of``, of the given period types (annual only by default). Works on statements and
    features alike (both carry company_id, period_end, accession, filed_at and period_type).

    Apple FY2009: net income 5,704m as of 2009-12-31 (the 10-K of 2009-10-27), 8,235m from 2010-01-25 (10-K/A).
    """
    if frame.empty:
        return frame.copy()
    types = frame["period_type"] if "period_type" in frame.columns else pd.Series("FY", index=frame.index)
    rows = frame[types.isin(period_types) & (pd.to_datetime(frame["filed_at"]) <= pd.Timestamp(as_of))]
    rows = rows.assign(_filed=pd.to_datetime(rows["filed_at"])).sort_values(
        ["_filed", "accession"], kind="stable"
    )
    return rows.groupby(["company_id", "period_end"]).tail(1).drop(columns="_filed").reset_index(drop=True)
