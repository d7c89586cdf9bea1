"""The champion gate's rule, unit by unit (the MLflow round trip is in tests/test_alerts_and_champion.py).

Issue 5: the challenger takes `champion` only when, on the same held-out rows, its AUC is not worse than the
champion's by more than a tolerance and its calibration passes: a Jeffreys test per grade (5%, Bonferroni across
grades) and a two-sided binomial test of the mean PD against the observed default rate at 5%.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from risk_assets.core.champion import Figures, GateRule, decide, evaluate

RULE = GateRule(auc_floor=0.75, auc_tolerance=0.01, alpha=0.05)


def figures(auc: float, mean_pd_p: float = 0.5, failing: list[str] | None = None) -> Figures:
    return Figures(auc=auc, ar=2 * auc - 1, ks=0.5, brier=0.05, n=1000, defaults=50, mean_pd=0.05,
                   observed_rate=0.05, mean_pd_p_value=mean_pd_p, worst_grade_jeffreys_p=0.3,
                   failing_grades=failing or [])


def test_a_first_version_is_promoted_when_it_passes_floor_and_calibration() -> None:
    decision = decide(figures(0.80), None, RULE)
    assert decision.promote and decision.reason.startswith("first champion")


def test_a_worse_challenger_is_refused() -> None:
    decision = decide(figures(0.80), figures(0.82), RULE)  # 0.80 < 0.82 - 0.01
    assert not decision.promote
    assert "worse than the champion's 0.8200 by more than 0.01" in decision.reason


def test_a_slightly_worse_challenger_within_tolerance_is_promoted() -> None:
    assert decide(figures(0.8150), figures(0.82), RULE).promote


def test_a_better_challenger_is_promoted() -> None:
    decision = decide(figures(0.85), figures(0.82), RULE)
    assert decision.promote and decision.reason == "promoted: AUC 0.8500 vs champion 0.8200, calibration passes"


def test_a_better_but_miscalibrated_challenger_is_refused() -> None:
    decision = decide(figures(0.90, mean_pd_p=0.01), figures(0.82), RULE)
    assert not decision.promote and "binomial p=0.01" in decision.reason
    decision = decide(figures(0.90, failing=["7"]), figures(0.82), RULE)
    assert not decision.promote and "Jeffreys test fails for grade(s) 7" in decision.reason


def test_below_the_floor_is_refused_even_without_a_champion() -> None:
    decision = decide(figures(0.70), None, RULE)
    assert not decision.promote and "below the floor 0.75" in decision.reason


def test_evaluate_by_hand_calibrated_single_grade() -> None:
    # 200 rows, PD 3% each (grade 7: [2%, 5%)), 6 defaults: observed 3% = mean PD.
    y = np.r_[np.ones(6), np.zeros(194)].astype(int)
    p = np.full(200, 0.03)
    result = evaluate(y, p)
    assert result.mean_pd == pytest.approx(0.03) and result.observed_rate == pytest.approx(0.03)
    assert result.mean_pd_p_value == pytest.approx(stats.binomtest(6, 200, 0.03).pvalue)
    assert result.worst_grade_jeffreys_p == pytest.approx(stats.beta.cdf(0.03, 6.5, 194.5))
    assert result.failing_grades == [] and result.calibration_passes(0.05)
    assert result.auc == 0.5  # one PD for everyone: every pair is a tie


def test_evaluate_by_hand_underestimated_grade_fails() -> None:
    # 200 rows at PD 1% (grade 6: [1%, 2%)) with 10 defaults: Beta(10.5, 190.5).cdf(0.01) is far below 5%.
    y = np.r_[np.ones(10), np.zeros(190)].astype(int)
    p = np.full(200, 0.01)
    result = evaluate(y, p)
    assert result.failing_grades == ["6"]
    assert result.mean_pd_p_value == pytest.approx(stats.binomtest(10, 200, 0.01).pvalue)
    assert result.mean_pd_p_value < 0.05 and not result.calibration_passes(0.05)


def test_bonferroni_spares_a_grade_that_fails_only_at_the_unadjusted_level() -> None:
    # Two grades. Grade 7: 100 rows at PD 2%, 5 defaults: Jeffreys p = Beta(5.5, 95.5).cdf(0.02) ~ 0.0388, below
    # 5% but above 5%/2 = 2.5%. Grade 3: 100 rows at PD 0.2% with no default. Neither fails under Bonferroni.
    jeffreys = stats.beta.cdf(0.02, 5.5, 95.5)
    assert 0.025 < jeffreys < 0.05
    y = np.r_[np.ones(5), np.zeros(95), np.zeros(100)].astype(int)
    p = np.r_[np.full(100, 0.02), np.full(100, 0.002)]
    result = evaluate(y, p)
    assert result.worst_grade_jeffreys_p == pytest.approx(jeffreys)
    assert result.failing_grades == []


def test_nan_pds_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.array([0, 1]), np.array([0.1, np.nan]))


def test_the_rule_text_states_the_issue_rule() -> None:
    text = RULE.text
    assert "not below the champion's by more than 0.010" in text
    assert "Jeffreys test of every grade at a 5% family-wise level (Bonferroni across grades)" in text
    assert "two-sided binomial test of the mean PD against the observed default rate at 5%" in text
