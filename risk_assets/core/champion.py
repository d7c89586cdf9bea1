"""The champion gate: one written rule, applied to challenger and champion on the same held-out rows.

What a model validator asks of a challenger before it serves (each test at ``alpha``, 5% by default):

- **Discrimination.** Its AUC is at least the floor, and it does not rank worse than the champion: refused when
  DeLong's paired test on the same rows says the challenger's AUC is below the champion's (one-sided p < alpha).
  A fixed tolerance (0.01 before) is below the AUC's own standard error on a few hundred defaults and says
  nothing about significance.
- **Calibration level.** The mean PD passes a two-sided binomial test against the observed default rate.
- **Calibration slope.** Outcomes regressed on logit(PD) (Cox 1958): the likelihood-ratio tests of slope = 1 and
  of (intercept, slope) = (0, 1) jointly are not rejected. Stretching the log-odds 1.5x around the same mean PD
  passes the level test and fails this one.
- **Per grade, as served.** The PDs given are the PDs served (calibrated to the segment's long-run rate, with
  case weights when the held-out rows are a sample that over-represents defaults); each master-scale grade they
  fall in passes a two-sided Jeffreys test of its observed default rate against its mean PD, at alpha divided by
  the number of grades (Bonferroni). A failing grade says whether the model under- or over-predicts there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from risk_assets.core.master_scale import grade_for_pd, grade_index
from risk_assets.core.metrics import calibration_slope_intercept, summary_metrics


@dataclass(frozen=True)
class GateRule:
    auc_floor: float = 0.75
    auc_tolerance: float = 0.0  # kept for configurations written before the paired test; not used by the rule
    alpha: float = 0.05

    @property
    def text(self) -> str:
        return (
            f"Promote the challenger when, on the same held-out rows, its AUC >= {self.auc_floor:.2f} (floor); "
            f"DeLong's paired test does not find its AUC below the champion's (one-sided p >= {self.alpha:.0%}); "
            f"the mean PD passes a two-sided binomial test against the observed rate; the calibration slope and "
            f"intercept (outcomes on logit PD) are not rejected as (0, 1) by likelihood-ratio tests; and every "
            f"grade it serves passes a two-sided Jeffreys test at {self.alpha:.0%} family-wise (Bonferroni), all "
            f"at {self.alpha:.0%}. Otherwise the champion keeps the alias."
        )


@dataclass
class Figures:
    """What a model scored on the held-out rows, with the PDs it serves."""

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
    slope: float = 1.0
    intercept: float = 0.0
    p_slope: float = 1.0
    p_joint: float = 1.0
    grades: list[dict] = field(default_factory=list)
    weighted: bool = False

    def calibration_passes(self, alpha: float) -> bool:
        return (
            self.mean_pd_p_value >= alpha
            and not self.failing_grades
            and self.p_slope >= alpha
            and self.p_joint >= alpha
        )

    def as_dict(self) -> dict:
        return asdict(self)


def two_sided_binomial_p(defaults: int, n: int, pd: float) -> float:
    """Two-sided p-value of observing ``defaults`` in ``n`` when the true rate is ``pd``."""
    from scipy import stats  # imported by the gate's runs only (a run's start skips SciPy's ~1.5 s)

    return float(stats.binomtest(defaults, n, pd, alternative="two-sided").pvalue)


def two_sided_jeffreys_p(defaults: float, n: float, pd: float) -> float:
    """Two-sided Jeffreys test: twice the smaller tail of Beta(d + 1/2, n - d + 1/2) at the PD (counts may be
    weighted, so not integers)."""
    from scipy import stats

    cdf = float(stats.beta.cdf(pd, defaults + 0.5, n - defaults + 0.5))
    return min(1.0, 2 * min(cdf, 1 - cdf))


def served_grade_table(y: np.ndarray, p: np.ndarray, weights: np.ndarray, alpha: float) -> list[dict]:
    grades = np.array([grade_for_pd(float(v)) for v in p])
    labels = sorted(set(grades), key=grade_index)
    per_grade_alpha = alpha / max(len(labels), 1)
    rows = []
    for label in labels:
        mine = grades == label
        n = float(weights[mine].sum())
        defaults = float((weights * y)[mine].sum())
        mean_pd = float(np.average(p[mine], weights=weights[mine]))
        p_value = two_sided_jeffreys_p(defaults, n, mean_pd)
        observed = defaults / n if n else float("nan")
        rows.append(
            {
                "grade": label,
                "rows": int(mine.sum()),
                "n": n,
                "defaults": defaults,
                "mean_pd": mean_pd,
                "observed_rate": observed,
                "jeffreys_p": p_value,
                "fails": p_value < per_grade_alpha,
                "direction": "under-predicts" if observed > mean_pd else "over-predicts",
            }
        )
    return rows


def evaluate(
    y: np.ndarray, served_pd: np.ndarray, alpha: float = 0.05, weights: np.ndarray | None = None
) -> Figures:
    """Gate figures for PDs as served on held-out rows; ``weights`` (core.metrics.population_weights) when the
    rows are a sample whose default rate is not the population's the PDs are calibrated to."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(served_pd, dtype=float)
    if np.isnan(p).any():
        raise ValueError("NaN PDs on the held-out rows")
    w = np.ones(y.size) if weights is None else np.asarray(weights, dtype=float)
    summary = summary_metrics(y, p)
    table = served_grade_table(y, p, w, alpha)
    failing = [f"{row['grade']} ({row['direction']})" for row in table if row["fails"]]
    effective_n = int(round(w.sum()))
    effective_defaults = int(round(float((w * y).sum())))
    mean_pd = float(np.average(p, weights=w))
    slope = calibration_slope_intercept(y, p, weights=None if weights is None else w)
    return Figures(
        auc=summary["auc"],
        ar=summary["ar"],
        ks=summary["ks"],
        brier=summary["brier"],
        n=int(y.size),
        defaults=int(y.sum()),
        mean_pd=mean_pd,
        observed_rate=effective_defaults / max(effective_n, 1),
        mean_pd_p_value=two_sided_binomial_p(min(effective_defaults, effective_n), effective_n, mean_pd),
        worst_grade_jeffreys_p=float(min(row["jeffreys_p"] for row in table)),
        failing_grades=failing,
        slope=slope["slope"],
        intercept=slope["intercept"],
        p_slope=slope["p_slope"],
        p_joint=slope["p_joint"],
        grades=table,
        weighted=weights is not None,
    )


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(
    challenger: Figures, champion: Figures | None, rule: GateRule, paired: dict | None = None
) -> Decision:
    """Apply the rule. The first version has no champion to beat but still needs the floor and calibration.

    ``paired``: core.metrics.delong_test(y, challenger scores, champion scores) on the same rows; without it (a
    champion scored elsewhere) the challenger is refused only for a lower AUC than the champion's."""
    problems = []
    if challenger.auc < rule.auc_floor:
        problems.append(f"AUC {challenger.auc:.4f} below the floor {rule.auc_floor:.2f}")
    if champion is not None:
        if paired is not None and paired["p_a_worse"] < rule.alpha:
            problems.append(
                f"AUC {challenger.auc:.4f} below the champion's {champion.auc:.4f} (DeLong difference "
                f"{paired['difference']:+.4f}, SE {paired['se']:.4f}, one-sided p="
                f"{paired['p_a_worse']:.3g})"
            )
        elif paired is None and challenger.auc < champion.auc:
            problems.append(f"AUC {challenger.auc:.4f} below the champion's {champion.auc:.4f}")
    if challenger.mean_pd_p_value < rule.alpha:
        problems.append(
            f"mean PD {challenger.mean_pd:.4f} vs observed {challenger.observed_rate:.4f} "
            f"(binomial p={challenger.mean_pd_p_value:.3g})"
        )
    if challenger.p_slope < rule.alpha or challenger.p_joint < rule.alpha:
        problems.append(
            f"calibration slope {challenger.slope:.3f}, intercept {challenger.intercept:.3f} "
            f"(p slope=1: {challenger.p_slope:.3g}; p (0, 1): {challenger.p_joint:.3g})"
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
