"""Data-quality rules for canonical statements: row validation and the accounting identity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS, ISSUES_COLUMN

IDENTITY_ITEMS = ("total_assets", "total_liabilities", "total_equity")


def validate_statements(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (good, rejected). A rejected row keeps its key and says why.

    Rejected: a key field missing, an item that is present but not a number (here or, per the normaliser's
    ``issues`` column, in the filing it came from), total assets missing or <= 0.
    Items are coerced to float on the good rows; unknown stays NaN.
    """
    if frame.empty:
        return frame.copy(), pd.DataFrame(columns=["company_id", "record_key", "reason"])
    reasons: list[list[str]] = [[] for _ in range(len(frame))]
    coerced = {}
    for item in CANONICAL_ITEMS:
        if item not in frame.columns:
            coerced[item] = pd.Series(np.nan, index=frame.index)
            continue
        raw = frame[item]
        numeric = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & numeric.isna()
        numeric = numeric.where(np.isfinite(numeric.astype(float)))
        for position in np.flatnonzero(bad.to_numpy()):
            reasons[position].append(f"{item} is not a number ({str(raw.iloc[position])[:40]!r})")
        coerced[item] = numeric.astype(float)
    for field in ("company_id", "period_end", "filed_at", "accession", "currency"):
        missing = frame[field].isna() if field in frame.columns else pd.Series(True, index=frame.index)
        for position in np.flatnonzero(missing.to_numpy()):
            reasons[position].append(f"{field} is missing")
    if ISSUES_COLUMN in frame.columns:
        for position, text in enumerate(frame[ISSUES_COLUMN].fillna("").astype(str)):
            if text:
                reasons[position].append(text)
    assets = coerced["total_assets"]
    for position in np.flatnonzero(assets.isna().to_numpy()):
        if not any(r.startswith("total_assets") for r in reasons[position]):
            reasons[position].append("total_assets is missing")
    for position in np.flatnonzero((assets <= 0).to_numpy()):
        reasons[position].append(f"total_assets <= 0 ({assets.iloc[position]:g})")
    good = frame.copy()
    for item, values in coerced.items():
        good[item] = values
    rejected_mask = np.array([bool(r) for r in reasons])
    rejected = pd.DataFrame(
        {
            "company_id": frame["company_id"].to_numpy()[rejected_mask] if "company_id" in frame else None,
            "record_key": [_record_key(frame.iloc[i]) for i in np.flatnonzero(rejected_mask)],
            "reason": ["; ".join(reasons[i]) for i in np.flatnonzero(rejected_mask)],
        }
    )
    return good.loc[~rejected_mask].copy(), rejected


def _record_key(row: pd.Series) -> str:
    return f"{row.get('period_end')}|{row.get('accession')}"[:128]


@dataclass(frozen=True)
class IdentityReport:
    rows: int
    derived_excluded: int
    incomplete_excluded: int
    checked: int
    violations: int
    worst: pd.DataFrame

    @property
    def violation_share(self) -> float:
        return self.violations / self.checked if self.checked else 0.0


def accounting_identity(frame: pd.DataFrame, tolerance: float = 0.01) -> IdentityReport:
    """Check assets = liabilities + equity within ``tolerance`` x assets.

    Rows where any side was derived from the identity itself are excluded (they would pass by construction)
    and counted, as are rows missing a side.
    """
    derived = frame["derived_items"].fillna("").map(lambda text: set(filter(None, text.split(","))))
    derived_mask = derived.map(lambda items: bool(items & set(IDENTITY_ITEMS))).to_numpy(dtype=bool)
    values = frame[list(IDENTITY_ITEMS)].astype(float)
    incomplete_mask = values.isna().any(axis=1).to_numpy() & ~derived_mask
    checked = frame.loc[~derived_mask & ~incomplete_mask]
    v = checked[list(IDENTITY_ITEMS)].astype(float)
    gap = (v["total_assets"] - v["total_liabilities"] - v["total_equity"]).abs() / v["total_assets"].abs()
    violating = gap > tolerance
    worst = checked.assign(relative_gap=gap)[violating].sort_values("relative_gap", ascending=False)
    columns = [c for c in ("company_id", "period_end", "accession", "relative_gap") if c in worst.columns]
    return IdentityReport(
        rows=len(frame),
        derived_excluded=int(derived_mask.sum()),
        incomplete_excluded=int(incomplete_mask.sum()),
        checked=len(checked),
        violations=int(violating.sum()),
        worst=worst[columns].head(10),
    )
