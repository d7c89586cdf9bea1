"""Validation metrics against figures worked out by hand on small arrays (arithmetic in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from risk_assets.core.metrics import (
    accuracy_ratio,
    binomial_test,
    brier_score,
    calibration_by_decile,
    default_rate_by_grade,
    jeffreys_test,
    ks_statistic,
    log_loss,
    monotone_increasing,
    population_stability_index,
    roc_auc,
    summary_metrics,
)

Y = [0, 0, 1, 1]
S = [0.1, 0.4, 0.35, 0.8]


def test_roc_auc_counts_pairs():
    # (bad, good) pairs: 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes -> 3 of 4 = 0.75
    assert roc_auc(Y, S) == pytest.approx(0.75)


def test_roc_auc_ties_count_one_half():
    # bads 0.2, 0.7; goods 0.2, 0.5. pairs: (0.2,0.2) tie 0.5, (0.2,0.5) 0, (0.7,0.2) 1, (0.7,0.5) 1
    # -> 2.5 / 4 = 0.625
    assert roc_auc([0, 1, 0, 1], [0.2, 0.2, 0.5, 0.7]) == pytest.approx(0.625)
    # all scores equal: every pair is a tie -> 0.5
    assert roc_auc([0, 1, 1, 0], [3, 3, 3, 3]) == pytest.approx(0.5)


def test_roc_auc_refuses_one_class_and_nan():
    with pytest.raises(ValueError):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError):
        roc_auc([0, 2], [0.1, 0.2])


def test_accuracy_ratio_is_gini():
    # 2 * 0.75 - 1 = 0.5
    assert accuracy_ratio(Y, S) == pytest.approx(0.5)


def test_ks_statistic():
    # thresholds 0.1: F_bad 0/2, F_good 1/2 -> 0.5; 0.35: 1/2 vs 1/2 -> 0; 0.4: 1/2 vs 2/2 -> 0.5; 0.8: 1 vs 1
    assert ks_statistic(Y, S) == pytest.approx(0.5)


def test_ks_statistic_with_ties():
    # y=[0,1,0,1,1], s=[1,1,2,2,3]; bads {1,2,3}, goods {1,2}
    # s<=1: F_bad 1/3, F_good 1/2 -> 1/6; s<=2: 2/3 vs 1 -> 1/3; s<=3: 1 vs 1 -> 0  => KS = 1/3
    assert ks_statistic([0, 1, 0, 1, 1], [1, 1, 2, 2, 3]) == pytest.approx(1 / 3)


def test_brier_score():
    # ((0.2-0)^2 + (0.6-1)^2 + (0.9-1)^2) / 3 = (0.04 + 0.16 + 0.01) / 3 = 0.07
    assert brier_score([0, 1, 1], [0.2, 0.6, 0.9]) == pytest.approx(0.07)


def test_brier_refuses_probabilities_outside_unit_interval():
    with pytest.raises(ValueError):
        brier_score([0, 1], [0.5, 1.2])


def test_log_loss():
    # -(ln 0.8 + ln 0.6 + ln 0.9) / 3 = (0.2231436 + 0.5108256 + 0.1053605) / 3 = 0.2797766
    assert log_loss([0, 1, 1], [0.2, 0.6, 0.9]) == pytest.approx(0.2797765636, rel=1e-9)


def test_log_loss_clips_certain_wrong_predictions():
    # p=0 for a default: clipped to eps=1e-15 -> -ln(1e-15) / 1 = 34.538776
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))


def test_calibration_by_decile_keeps_ties_together():
    # p sorted: 0.1 x4, 0.2 x2, 0.3 x2 (n=8), 4 bins. np.quantile (linear) at 0.25/0.5/0.75:
    # positions 7*q = 1.75 -> 0.1; 3.5 -> 0.1 + 0.5*(0.2-0.1) = 0.15; 5.25 -> 0.2 + 0.25*(0.3-0.2) = 0.225
    # right-closed bins: (-inf,0.1] gets all four 0.1s, (0.1,0.15] is empty (dropped), (0.15,0.225] the 0.2s,
    # (0.225,inf) the 0.3s -> 3 bins.
    p = [0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3]
    y = [0, 0, 0, 1, 0, 1, 1, 1]
    table = calibration_by_decile(y, p, n_bins=4)
    assert table["bin"].tolist() == [1, 2, 3]
    assert table["n"].tolist() == [4, 2, 2]
    assert table["defaults"].tolist() == [1, 1, 2]
    assert table["observed_rate"].tolist() == pytest.approx([0.25, 0.5, 1.0])
    assert table["mean_pd"].tolist() == pytest.approx([0.1, 0.2, 0.3])


def test_calibration_by_decile_even_bins():
    # ten distinct PDs 0.01..0.10 in 5 bins: quantile positions 9*0.2 = 1.8, 3.6, 5.4, 7.2 give edges
    # 0.028, 0.046, 0.064, 0.082 -> two PDs per bin; bin 1 = {0.01, 0.02} mean 0.015, y 0,0 -> 0 defaults
    p = [0.01 * k for k in range(1, 11)]
    y = [0, 0, 0, 1, 0, 0, 1, 0, 1, 1]
    table = calibration_by_decile(y, p, n_bins=5)
    assert table["n"].tolist() == [2, 2, 2, 2, 2]
    assert table["defaults"].tolist() == [0, 1, 0, 1, 2]
    assert table["mean_pd"].tolist() == pytest.approx([0.015, 0.035, 0.055, 0.075, 0.095])


def test_population_stability_index_by_hand():
    # expected 1..10, 2 bins: median edge 5.5 -> expected shares 5/10, 5/10
    # actual [1, 6, 7, 8]: 1 value <= 5.5, 3 above -> shares 1/4, 3/4
    # PSI = (0.25-0.5)*ln(0.25/0.5) + (0.75-0.5)*ln(0.75/0.5) = 0.25*ln 2 + 0.25*ln 1.5
    #     = 0.1732868 + 0.1013663 = 0.2746531
    expected = list(range(1, 11))
    assert population_stability_index(expected, [1, 6, 7, 8], n_bins=2) == pytest.approx(0.2746530722)


def test_population_stability_index_empty_bin_uses_eps():
    # actual all above the median: shares 0 -> eps=1e-4, and 1
    # PSI = (1e-4 - 0.5)*ln(1e-4/0.5) + (1 - 0.5)*ln(1/0.5) = -0.4999*(-8.5171932) + 0.5*0.6931472 = 4.6043185
    expected = list(range(1, 11))
    assert population_stability_index(expected, [7, 8, 9], n_bins=2) == pytest.approx(4.6043184667)


def test_population_stability_index_identical_is_zero():
    scores = np.linspace(0.0, 1.0, 101)
    assert population_stability_index(scores, scores) == pytest.approx(0.0)


def test_binomial_test_by_hand():
    # P(X >= 3 | 10, 0.1) = 1 - (0.9^10 + 10*0.1*0.9^9 + 45*0.01*0.9^8)
    #                     = 1 - (0.3486784401 + 0.3874204890 + 0.1937102445) = 0.0701908264
    assert binomial_test(3, 10, 0.1) == pytest.approx(0.0701908264, rel=1e-9)
    # zero defaults can never be "too many": P(X >= 0) = 1
    assert binomial_test(0, 10, 0.1) == pytest.approx(1.0)


def test_binomial_test_refuses_bad_counts():
    with pytest.raises(ValueError):
        binomial_test(11, 10, 0.1)
    with pytest.raises(ValueError):
        binomial_test(1, 10, 1.5)


def test_jeffreys_test_against_scipy_beta():
    # p = Beta(d + 1/2, n - d + 1/2).cdf(pd) with d=5, n=100, pd=0.02 -> Beta(5.5, 95.5).cdf(0.02)
    assert jeffreys_test(5, 100, 0.02) == pytest.approx(stats.beta.cdf(0.02, 5.5, 95.5))
    # 5 defaults of 100 against a 2% PD: the PD clearly underestimates -> small p
    assert jeffreys_test(5, 100, 0.02) < 0.05


def test_jeffreys_test_literal_value():
    # d=0, n=1: Beta(1/2, 3/2), whose cdf is (2/pi) * (arcsin(sqrt x) + sqrt(x (1 - x))).
    # At x = 0.25: arcsin(0.5) = pi/6, sqrt(0.1875) = 0.4330127 -> 1/3 + (2/pi)*0.4330127 = 0.6089978
    assert jeffreys_test(0, 1, 0.25) == pytest.approx(0.6089977810, rel=1e-9)


def test_default_rate_by_grade_orders_by_master_scale():
    grades = ["10", "3", "10", "3", "3", "3"]
    pds = [0.3, 0.002, 0.5, 0.002, 0.002, 0.002]
    y = [1, 0, 1, 1, 0, 0]
    table = default_rate_by_grade(y, grades, pds)
    # "3" before "10" (the master scale order, not text order)
    assert table["grade"].tolist() == ["3", "10"]
    assert table["n"].tolist() == [4, 2]
    assert table["defaults"].tolist() == [1, 2]
    assert table["observed_rate"].tolist() == pytest.approx([0.25, 1.0])
    assert table["mean_pd"].tolist() == pytest.approx([0.002, 0.4])
    # grade 3: P(X >= 1 | 4, 0.002) = 1 - 0.998^4 = 1 - 0.992023968 = 0.007976032
    # grade 10: P(X >= 2 | 2, 0.4) = 0.4^2 = 0.16
    assert table["binomial_p"].tolist() == pytest.approx([0.007976031984, 0.16])
    # Jeffreys: Beta(1 + 1/2, 4 - 1 + 1/2).cdf(0.002) and Beta(2.5, 0.5).cdf(0.4)
    assert table["jeffreys_p"].tolist() == pytest.approx(
        [stats.beta.cdf(0.002, 1.5, 3.5), stats.beta.cdf(0.4, 2.5, 0.5)]
    )


def test_monotone_increasing():
    assert monotone_increasing([0.001, 0.002, 0.002, 0.05])
    assert not monotone_increasing([0.001, 0.002, 0.002, 0.05], strict=True)
    assert not monotone_increasing([0.01, 0.005, 0.02])
    assert monotone_increasing([0.3])
    with pytest.raises(ValueError):
        monotone_increasing([0.1, float("nan")])


def test_summary_metrics():
    summary = summary_metrics(Y, S)
    # Brier: (0.1^2 + 0.4^2 + 0.65^2 + 0.2^2) / 4 = (0.01 + 0.16 + 0.4225 + 0.04) / 4 = 0.158125
    # log loss: -(ln 0.9 + ln 0.6 + ln 0.35 + ln 0.8) / 4
    expected_log_loss = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert summary == pytest.approx(
        {
            "auc": 0.75,
            "ar": 0.5,
            "ks": 0.5,
            "brier": 0.158125,
            "log_loss": expected_log_loss,
            "n": 4.0,
            "positives": 2.0,
        }
    )


def _brute_force_auc_and_components(y, score):
    pos, neg = score[y == 1], score[y == 0]
    kernel = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return kernel.mean(), kernel.mean(axis=1), kernel.mean(axis=0)


def test_delong_matches_the_u_statistic_by_brute_force():
    from risk_assets.core.metrics import delong_test

    rng = np.random.default_rng(5)
    y = (rng.uniform(size=400) < 0.2).astype(int)
    a = y * 0.8 + rng.normal(size=400)
    b = np.round(y * 0.5 + rng.normal(size=400), 1)  # ties
    result = delong_test(y, a, b)
    auc_a, v10_a, v01_a = _brute_force_auc_and_components(y, a)
    auc_b, v10_b, v01_b = _brute_force_auc_and_components(y, b)
    m, n = y.sum(), (1 - y).sum()
    s10, s01 = np.cov(np.vstack([v10_a, v10_b])), np.cov(np.vstack([v01_a, v01_b]))
    variance = (s10 / m + s01 / n) @ np.array([1, -1]) @ np.array([1, -1])
    assert result["auc_a"] == pytest.approx(auc_a) and result["auc_b"] == pytest.approx(auc_b)
    assert result["se"] == pytest.approx(np.sqrt(variance))
    same = delong_test(y, a, a)
    assert same["difference"] == 0 and same["p_two_sided"] == 1.0
    with pytest.raises(ValueError, match="two defaults"):
        delong_test(np.array([1, 0, 0]), np.array([0.3, 0.1, 0.2]), np.array([0.3, 0.1, 0.2]))


def test_calibration_slope_of_true_and_distorted_pds():
    from risk_assets.core.metrics import calibration_slope_intercept

    rng = np.random.default_rng(11)
    logit = rng.normal(-3, 1, 30000)
    y = (rng.uniform(size=logit.size) < 1 / (1 + np.exp(-logit))).astype(int)
    true = calibration_slope_intercept(y, 1 / (1 + np.exp(-logit)))
    assert true["slope"] == pytest.approx(1.0, abs=0.06) and true["p_joint"] > 0.01
    timid = calibration_slope_intercept(y, 1 / (1 + np.exp(-(-3 + 0.5 * (logit + 3)))))
    assert timid["slope"] == pytest.approx(2.0, abs=0.15) and timid["p_slope"] < 1e-6
    high = calibration_slope_intercept(y, 1 / (1 + np.exp(-(logit + 0.7))))
    assert high["intercept_in_the_large"] == pytest.approx(-0.7, abs=0.08) and high["p_joint"] < 1e-6


def test_population_weights_move_a_sample_to_the_target_rate():
    from risk_assets.core.metrics import population_weights

    y = np.r_[np.ones(100), np.zeros(900)].astype(int)
    w = population_weights(y, 0.1, 0.02)
    assert (w * y).sum() / w.sum() == pytest.approx(0.02)
    with pytest.raises(ValueError):
        population_weights(y, 0.0, 0.02)
