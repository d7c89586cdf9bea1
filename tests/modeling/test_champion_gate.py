"""The champion gate's rule, unit by unit (the MLflow round trip is in tests/test_alerts_and_champion.py).

Issue 10: the challenger takes `champion` only when, on the same held-out rows, DeLong's paired test does not find
its AUC below the champion's, and its served PDs pass the level (binomial), slope (Cox recalibration) and per-grade
(two-sided Jeffreys, Bonferroni) tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from risk_assets.core.champion import Figures, GateRule, decide, evaluate, two_sided_jeffreys_p
from risk_assets.core.metrics import delong_test, population_weights, roc_auc

RULE = GateRule(auc_floor=0.75, alpha=0.05)


def figures(
    auc: float, mean_pd_p: float = 0.5, failing: list[str] | None = None, p_slope: float = 0.5
) -> Figures:
    return Figures(
        auc=auc,
        ar=2 * auc - 1,
        ks=0.5,
        brier=0.05,
        n=1000,
        defaults=50,
        mean_pd=0.05,
        observed_rate=0.05,
        mean_pd_p_value=mean_pd_p,
        worst_grade_jeffreys_p=0.3,
        failing_grades=failing or [],
        p_slope=p_slope,
        p_joint=0.5,
    )


def _population(n: int = 20000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from known PDs (log-odds normal around logit 3%)."""
    rng = np.random.default_rng(seed)
    log_odds = rng.normal(np.log(0.03 / 0.97), 1.2, n)
    p = 1 / (1 + np.exp(-log_odds))
    return (rng.uniform(size=n) < p).astype(int), p


def test_a_first_version_is_promoted_when_it_passes_floor_and_calibration() -> None:
    decision = decide(figures(0.80), None, RULE)
    assert decision.promote and decision.reason.startswith("first champion")


def test_a_significantly_worse_challenger_is_refused_an_insignificantly_worse_one_promoted() -> None:
    y, p = _population()
    rng = np.random.default_rng(1)
    champion_score = np.log(p) + rng.normal(0, 0.3, p.size)
    much_worse = np.log(p) + rng.normal(0, 2.0, p.size)
    slightly_worse = champion_score + rng.normal(0, 0.05, p.size)
    refused = delong_test(y, much_worse, champion_score)
    assert refused["p_a_worse"] < 0.05
    decision = decide(
        figures(roc_auc(y, much_worse)), figures(roc_auc(y, champion_score)), RULE, paired=refused
    )
    assert not decision.promote and "DeLong" in decision.reason
    close = delong_test(y, slightly_worse, champion_score)
    assert close["difference"] < 0 and close["p_a_worse"] >= 0.05
    assert decide(
        figures(roc_auc(y, slightly_worse)), figures(roc_auc(y, champion_score)), RULE, paired=close
    ).promote


def test_a_better_challenger_is_promoted() -> None:
    decision = decide(figures(0.85), figures(0.82), RULE)
    assert (
        decision.promote and decision.reason == "promoted: AUC 0.8500 vs champion 0.8200, calibration passes"
    )


def test_stretched_log_odds_at_the_same_mean_pd_fail_the_slope_test_the_true_pds_pass() -> None:
    y, p = _population()
    logit = np.log(p / (1 - p))
    centre = logit.mean()
    stretched = 1 / (1 + np.exp(-(centre + 1.5 * (logit - centre))))
    # shift so the mean PD matches the true one: the level test alone cannot see it
    shift = 0.0
    for _ in range(50):
        candidate = 1 / (1 + np.exp(-(np.log(stretched / (1 - stretched)) + shift)))
        shift += (p.mean() - candidate.mean()) * 30
    stretched = 1 / (1 + np.exp(-(np.log(stretched / (1 - stretched)) + shift)))
    assert stretched.mean() == pytest.approx(p.mean(), rel=0.02)
    true, bad = evaluate(y, p), evaluate(y, stretched)
    assert true.calibration_passes(0.05) and true.slope == pytest.approx(1.0, abs=0.1)
    assert bad.mean_pd_p_value >= 0.05  # the level is right
    assert bad.slope < 0.75 and bad.p_slope < 0.05 and not bad.calibration_passes(0.05)
    decision = decide(bad, None, RULE)
    assert not decision.promote and "calibration slope" in decision.reason


def test_a_grade_that_under_predicts_three_times_is_caught_with_its_direction() -> None:
    y, p = _population()
    rng = np.random.default_rng(3)
    served = p.copy()
    grade7 = (served >= 0.01342) & (served < 0.03)
    # outcomes of that grade drawn at three times its PD
    y = np.where(grade7, (rng.uniform(size=p.size) < 3 * served).astype(int), y)
    result = evaluate(y, served)
    assert "7 (under-predicts)" in result.failing_grades
    assert not decide(result, None, RULE).promote


def test_served_pds_are_tested_on_a_sample_weighted_back_to_their_population() -> None:
    # PDs at 2% on rows that over-sample defaults to 8%: weighted, the level and the grade pass
    n = 5000
    y = np.r_[np.ones(400), np.zeros(n - 400)].astype(int)
    p = np.full(n, 0.02)
    unweighted = evaluate(y, p)
    assert unweighted.mean_pd_p_value < 0.05 and unweighted.failing_grades
    weighted = evaluate(y, p, weights=population_weights(y, 0.08, 0.02))
    assert weighted.observed_rate == pytest.approx(0.02, abs=0.001)
    assert weighted.mean_pd_p_value >= 0.05 and weighted.failing_grades == [] and weighted.weighted


def test_two_sided_jeffreys_by_hand() -> None:
    cdf = stats.beta.cdf(0.01, 10.5, 190.5)
    assert two_sided_jeffreys_p(10, 200, 0.01) == pytest.approx(2 * min(cdf, 1 - cdf))
    assert two_sided_jeffreys_p(0, 670, 0.0092) < 0.01  # zero defaults where six were expected: over-predicts


def test_below_the_floor_is_refused_even_without_a_champion() -> None:
    decision = decide(figures(0.70), None, RULE)
    assert not decision.promote and "below the floor 0.75" in decision.reason


def test_evaluate_by_hand_calibrated_single_grade() -> None:
    # 200 rows, PD 3% each, 6 defaults: observed 3% = mean PD.
    y = np.r_[np.ones(6), np.zeros(194)].astype(int)
    p = np.full(200, 0.03)
    result = evaluate(y, p)
    assert result.mean_pd == pytest.approx(0.03) and result.observed_rate == pytest.approx(0.03)
    assert result.mean_pd_p_value == pytest.approx(stats.binomtest(6, 200, 0.03).pvalue)
    assert result.failing_grades == []
    assert result.auc == 0.5  # one PD for everyone: every pair is a tie


def test_nan_pds_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.array([0, 1]), np.array([0.1, np.nan]))


def test_the_rule_text_states_the_rule() -> None:
    text = RULE.text
    assert "DeLong's paired test" in text and "one-sided" in text
    assert "calibration slope and intercept" in text
    assert "two-sided Jeffreys test at 5% family-wise (Bonferroni)" in text
    assert "two-sided binomial test" in text
