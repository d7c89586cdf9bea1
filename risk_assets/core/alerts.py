"""The alert rule: compare a company's consecutive scores under the same model.

An alert is raised when the grade worsened, or the PD jumped by at least ``pd_factor`` times AND by at least
``pd_floor`` in absolute terms (so 0.01% -> 0.03% is not news, 1% -> 2.5% is).
"""

from __future__ import annotations

from dataclasses import dataclass

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
