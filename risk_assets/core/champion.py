"""The champion gate: one written rule, applied to challenger and champion on the same held-out rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

from risk_assets.core.master_scale import grade_for_pd
from risk_assets.core.metrics import default_rate_by_grade, summary_metrics


@dataclass(frozen=True)
class GateRule:
    auc_floor: float = 0.75
    auc_tolerance: float = 0.01
    alpha: float = 0.05

    @property
    def text(self) -> str:
        return (
            f"Promote the challenger when, on the same held-out rows, its AUC >= {self.auc_floor:.2f} (floor), "
            f"its AUC is not below the champion's by more than {self.auc_tolerance:.3f}, and its calibration "
            f"passes: the Jeffreys test of every grade at a {self.alpha:.0%} family-wise level (Bonferroni across "
            f"grades) and a two-sided binomial test of the mean PD against the observed default rate at "
            f"{self.alpha:.0%}. Otherwise the champion keeps the alias."
        )


@dataclass
class Figures:
    """What a model scored on the held-out rows (PDs on the sample's scale, without the prior shift)."""

    auc: float
    ar: float
    ks: float
    brier: float
    n: int
    defaults: int
    mean_pd: float
    observed_rate: float
    mean_pd_p_value: float
    worst_grade_jeffreys_p: float
    failing_grades: list[str] = field(default_factory=list)

    def calibration_passes(self, alpha: float) -> bool:
        return self.mean_pd_p_value >= alpha and not self.failing_grades

    def as_dict(self) -> dict:
        return asdict(self)


def two_sided_binomial_p(defaults: int, n: int, pd: float) -> float:
    """Two-sided p-value of observing ``defaults`` in ``n`` when the true rate is ``pd``."""
    return float(stats.binomtest(defaults, n, pd, alternative="two-sided").pvalue)


def evaluate(y: np.ndarray, sample_pd: np.ndarray, alpha: float = 0.05) -> Figures:
    y = np.asarray(y, dtype=int)
    p = np.asarray(sample_pd, dtype=float)
    if np.isnan(p).any():
        raise ValueError("NaN PDs on the held-out rows")
    summary = summary_metrics(y, p)
    grades = [grade_for_pd(float(v)) for v in p]
    by_grade = default_rate_by_grade(y, grades, p)
    # Ten grades each tested at 5% would reject a perfectly calibrated model 40% of the time: Bonferroni.
    per_grade_alpha = alpha / max(len(by_grade), 1)
    failing = by_grade.loc[by_grade["jeffreys_p"] < per_grade_alpha, "grade"].astype(str).tolist()
    mean_pd = float(p.mean())
    return Figures(
        auc=summary["auc"],
        ar=summary["ar"],
        ks=summary["ks"],
        brier=summary["brier"],
        n=int(y.size),
        defaults=int(y.sum()),
        mean_pd=mean_pd,
        observed_rate=float(y.mean()),
        mean_pd_p_value=two_sided_binomial_p(int(y.sum()), int(y.size), mean_pd),
        worst_grade_jeffreys_p=float(by_grade["jeffreys_p"].min()),
        failing_grades=failing,
    )


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(challenger: Figures, champion: Figures | None, rule: GateRule) -> Decision:
    """Apply the rule. The first version has no champion to beat but still needs the floor and calibration."""
    problems = []
    if challenger.auc < rule.auc_floor:
        problems.append(f"AUC {challenger.auc:.4f} below the floor {rule.auc_floor:.2f}")
    if champion is not None and challenger.auc < champion.auc - rule.auc_tolerance:
        problems.append(
            f"AUC {challenger.auc:.4f} worse than the champion's {champion.auc:.4f} by more than {rule.auc_tolerance}"
        )
    if challenger.mean_pd_p_value < rule.alpha:
        problems.append(
            f"mean PD {challenger.mean_pd:.4f} vs observed {challenger.observed_rate:.4f} "
            f"(binomial p={challenger.mean_pd_p_value:.3g})"
        )
    if challenger.failing_grades:
        problems.append(f"Jeffreys test fails for grade(s) {', '.join(challenger.failing_grades)}")
    if problems:
        return Decision(False, "kept: " + "; ".join(problems))
    if champion is None:
        return Decision(True, f"first champion: AUC {challenger.auc:.4f} >= floor, calibration passes")
    return Decision(
        True, f"promoted: AUC {challenger.auc:.4f} vs champion {champion.auc:.4f}, calibration passes"
    )
