"""The alert rule: compare a company's consecutive scores under the same model.

An alert is raised when the grade worsened, or the PD jumped by at least ``pd_factor`` times AND by at least
``pd_floor`` in absolute terms (so 0.01% -> 0.03% is not news, 1% -> 2.5% is).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from risk_assets.core.master_scale import is_downgrade


@dataclass(frozen=True)
class AlertRule:
    pd_factor: float = 2.0
    pd_floor: float = 0.005

    def reasons(self, previous_pd: float, previous_grade: str, pd: float, grade: str) -> list[str]:
        found = []
        if is_downgrade(previous_grade, grade):
            found.append(f"downgrade {previous_grade}->{grade}")
        if pd >= self.pd_factor * previous_pd and pd - previous_pd >= self.pd_floor:
            found.append(f"pd_jump x{pd / previous_pd:.1f}" if previous_pd > 0 else "pd_jump")
        return found


def score_alerts(
    scores: pd.DataFrame, rule: AlertRule, now: dt.datetime
) -> tuple[list[dict[str, Any]], list[tuple]]:
    """Alerts for the pending rows of ``scores`` (period scores served with a PD: company_id, as_of,
    model_version, pd, grade, alert_pending): each compared with the company's score of the latest earlier as_of
    under the same model version. Returns (alert rows, (company_id, as_of, model_version) of every pending row
    evaluated, with or without an earlier score). One sort and shift for the whole market, not a filter per
    company: as_of is unique per (company, model version, kind), so the previous row is the earlier score."""
    if scores.empty:
        return [], []
    ordered = scores.sort_values(["company_id", "model_version", "as_of"], kind="stable")
    same = ordered.groupby(["company_id", "model_version"], sort=False)
    previous = pd.DataFrame(
        {
            "previous_as_of": same["as_of"].shift(1),
            "previous_pd": same["pd"].shift(1),
            "previous_grade": same["grade"].shift(1),
            "has_previous": same.cumcount().to_numpy() > 0,
        },
        index=ordered.index,
    )
    pending = ordered["alert_pending"].astype(bool).to_numpy()
    rows = ordered[pending].join(previous[pending])
    handled = list(zip(rows["company_id"], rows["as_of"], rows["model_version"], strict=True))
    alerts = []
    for row in rows[rows["has_previous"]].itertuples(index=False):
        reasons = rule.reasons(float(row.previous_pd), str(row.previous_grade), float(row.pd), str(row.grade))
        if reasons:
            alerts.append(
                {
                    "company_id": row.company_id,
                    "as_of": row.as_of,
                    "model_version": row.model_version,
                    "previous_as_of": row.previous_as_of,
                    "previous_pd": float(row.previous_pd),
                    "pd": float(row.pd),
                    "previous_grade": str(row.previous_grade),
                    "grade": str(row.grade),
                    "reasons": "; ".join(reasons)[:200],
                    "kind": "score",
                    "created_at": now,
                }
            )
    return alerts, handled
