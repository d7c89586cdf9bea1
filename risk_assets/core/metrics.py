"""Validation metrics for PD models: discrimination, calibration, stability and grade back-testing.

One module so training, champion selection, monitoring and the API compute the same figures. The textbook ones
come from scikit-learn (AUC, Brier, log loss) and scipy (KS); this module adds the input checks that give a clear
error (labels other than 0/1, NaN, one class only) and the credit-risk figures no library has: calibration by
decile with ties kept in one bin, PSI, binomial and Jeffreys tests per grade, DeLong, the calibration line.
``y`` is 0/1 (1 = default); ``score`` is anything where higher means riskier; ``p`` is a probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from risk_assets.core.master_scale import grade_index


def _labels(y) -> np.ndarray:
    values = np.asarray(y, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("no observations")
    if np.isnan(values).any() or not np.isin(values, (0.0, 1.0)).all():
        raise ValueError("y must contain only 0 and 1")
    return values.astype(int)


def _numbers(values, name: str, n: int) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if array.size != n:
        raise ValueError(f"{name} has {array.size} values, y has {n}")
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN")
    return array


def _probabilities(p, n: int) -> np.ndarray:
    array = _numbers(p, "p", n)
    if ((array < 0.0) | (array > 1.0)).any():
        raise ValueError("p must lie in [0, 1]")
    return array


def _both_classes(y, score, metric: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(labels, scores, bad count, good count), checked for a discrimination metric that needs both classes."""
    labels = _labels(y)
    scores = _numbers(score, "score", labels.size)
    n_bad = int(labels.sum())
    n_good = labels.size - n_bad
    if n_bad == 0 or n_good == 0:
        raise ValueError(f"{metric} needs both classes in y")
    return labels, scores, n_bad, n_good


def roc_auc(y, score) -> float:
    """Area under the ROC curve (scikit-learn's): a tied (bad, good) pair counts one half."""
    from sklearn.metrics import roc_auc_score

    labels, scores, _, _ = _both_classes(y, score, "AUC")
    return float(roc_auc_score(labels, scores))


def accuracy_ratio(y, score) -> float:
    """Accuracy ratio (Gini coefficient) = 2 * AUC - 1, the CAP-curve figure banks report."""
    return 2.0 * roc_auc(y, score) - 1.0


def ks_statistic(y, score) -> float:
    """Kolmogorov-Smirnov distance max_s |F_bad(s) - F_good(s)| between the two classes' scores (scipy's)."""
    labels, scores, _, _ = _both_classes(y, score, "KS")
    from scipy import stats  # SciPy only where a test is computed (~1.5 s to import)

    return float(stats.ks_2samp(scores[labels == 1], scores[labels == 0]).statistic)


def brier_score(y, p) -> float:
    """Mean squared difference between PD and outcome."""
    from sklearn.metrics import brier_score_loss

    labels = _labels(y)
    return float(brier_score_loss(labels, _probabilities(p, labels.size), pos_label=1))


def log_loss(y, p, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood; PDs are clipped to [eps, 1 - eps] so a 0 or 1 PD stays finite."""
    labels = _labels(y)
    probabilities = np.clip(_probabilities(p, labels.size), eps, 1.0 - eps)
    return float(-np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1.0 - probabilities)))


def quantile_bin_edges(reference: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner edges at the reference's quantiles; repeated edges collapse so ties never straddle two bins."""
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    edges = np.quantile(reference, np.linspace(0.0, 1.0, n_bins + 1))
    return np.unique(edges[1:-1])


def assign_bins(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Bin index per value with right-closed bins (edge_{i-1}, edge_i]; outside values go to the end bins."""
    return np.searchsorted(inner_edges, values, side="left")


def calibration_by_decile(y, p, n_bins: int = 10) -> pd.DataFrame:
    """Observed default rate against mean PD in quantile bins of PD.

    Bins are right-closed intervals between quantiles of ``p``; equal PDs always share a bin, so a bin may
    hold more than its share and empty bins are dropped. Bins are numbered 1.. from the lowest PD.
    """
    labels = _labels(y)
    probabilities = _probabilities(p, labels.size)
    bins = assign_bins(probabilities, quantile_bin_edges(probabilities, n_bins))
    frame = pd.DataFrame({"bin": bins, "p": probabilities, "y": labels})
    table = (
        frame.groupby("bin", sort=True)
        .agg(
            n=("y", "size"),
            mean_pd=("p", "mean"),
            observed_rate=("y", "mean"),
            defaults=("y", "sum"),
            min_pd=("p", "min"),
            max_pd=("p", "max"),
        )
        .reset_index(drop=True)
    )
    table.insert(0, "bin", np.arange(1, len(table) + 1))
    table["defaults"] = table["defaults"].astype(int)
    return table


def population_stability_index(expected_scores, actual_scores, n_bins: int = 10, eps: float = 1e-4) -> float:
    """PSI = sum (a_i - e_i) * ln(a_i / e_i) over bins cut at the expected scores' quantiles.

    A bin share of 0 is replaced by ``eps`` (shares are not renormalised) so an empty bin adds a large but
    finite term. Common reading: < 0.1 stable, 0.1-0.25 drifting, > 0.25 shifted.
    """
    expected = np.asarray(expected_scores, dtype=float).ravel()
    actual = np.asarray(actual_scores, dtype=float).ravel()
    if expected.size == 0 or actual.size == 0:
        raise ValueError("PSI needs non-empty expected and actual scores")
    if np.isnan(expected).any() or np.isnan(actual).any():
        raise ValueError("scores contain NaN")
    inner_edges = quantile_bin_edges(expected, n_bins)
    bin_count = inner_edges.size + 1
    expected_share = np.bincount(assign_bins(expected, inner_edges), minlength=bin_count) / expected.size
    actual_share = np.bincount(assign_bins(actual, inner_edges), minlength=bin_count) / actual.size
    expected_share = np.where(expected_share == 0.0, eps, expected_share)
    actual_share = np.where(actual_share == 0.0, eps, actual_share)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


def _check_count_test(defaults: int, n: int, pd_value: float) -> None:
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= defaults <= n:
        raise ValueError(f"defaults={defaults} must lie in [0, n={n}]")
    if math.isnan(pd_value) or not 0.0 <= pd_value <= 1.0:
        raise ValueError(f"pd={pd_value!r} must lie in [0, 1]")


def binomial_test(defaults: int, n: int, pd: float) -> float:
    """One-sided p-value P(X >= defaults | X ~ Bin(n, pd)): small means more defaults than the PD allows.

    Assumes independent defaults, so it rejects too often when defaults are correlated.
    """
    _check_count_test(defaults, n, pd)
    from scipy import stats

    return float(stats.binom.sf(defaults - 1, n, pd))


def jeffreys_test(defaults: int, n: int, pd: float) -> float:
    """ECB/EBA Jeffreys test: p = Beta(d + 1/2, n - d + 1/2).cdf(pd).

    The Jeffreys-prior posterior of the default rate puts probability p below the PD; a small p means the
    observed rate is credibly above the PD, i.e. the PD underestimates risk.
    """
    _check_count_test(defaults, n, pd)
    from scipy import stats

    return float(stats.beta.cdf(pd, defaults + 0.5, n - defaults + 0.5))


def _grade_sort_key(label) -> tuple[int, int | str]:
    try:
        return (0, grade_index(label))
    except ValueError:
        return (1, str(label))


def default_rate_by_grade(y, grades, pds) -> pd.DataFrame:
    """Back-test per grade: counts, observed vs mean PD, and the Jeffreys and binomial p-values.

    Grades are ordered by the master scale ("1".."10", "D"); labels outside it follow in text order.
    """
    labels = _labels(y)
    probabilities = _probabilities(pds, labels.size)
    grade_values = np.asarray(grades, dtype=object).ravel()
    if grade_values.size != labels.size:
        raise ValueError(f"grades has {grade_values.size} values, y has {labels.size}")
    frame = pd.DataFrame({"grade": grade_values, "y": labels, "p": probabilities})
    rows = []
    for grade in sorted(frame["grade"].unique(), key=_grade_sort_key):
        members = frame[frame["grade"] == grade]
        n = len(members)
        defaults = int(members["y"].sum())
        mean_pd = float(members["p"].mean())
        rows.append(
            {
                "grade": grade,
                "n": n,
                "defaults": defaults,
                "observed_rate": defaults / n,
                "mean_pd": mean_pd,
                "jeffreys_p": jeffreys_test(defaults, n, mean_pd),
                "binomial_p": binomial_test(defaults, n, mean_pd),
            }
        )
    columns = ["grade", "n", "defaults", "observed_rate", "mean_pd", "jeffreys_p", "binomial_p"]
    return pd.DataFrame(rows, columns=columns)


def monotone_increasing(values: Sequence[float], strict: bool = False) -> bool:
    """True when values never decrease (never stay equal either, if ``strict``); NaN is refused."""
    array = np.asarray(values, dtype=float).ravel()
    if np.isnan(array).any():
        raise ValueError("values contain NaN")
    steps = np.diff(array)
    return bool(np.all(steps > 0) if strict else np.all(steps >= 0))


def summary_metrics(y, p) -> dict[str, float]:
    """The headline figures logged for every model run."""
    labels = _labels(y)
    return {
        "auc": roc_auc(labels, p),
        "ar": accuracy_ratio(labels, p),
        "ks": ks_statistic(labels, p),
        "brier": brier_score(labels, p),
        "log_loss": log_loss(labels, p),
        "n": float(labels.size),
        "positives": float(labels.sum()),
    }


def _midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    from scipy.stats import rankdata

    return rankdata(values, method="average")


def delong_test(y, score_a, score_b) -> dict[str, float]:
    """DeLong, DeLong and Clarke-Pearson (1988): are two AUCs measured on the same rows different?

    The fast form of Sun and Xu (2014): the AUCs' structural components from mid-ranks (O(n log n)), their
    covariance, and a normal test of the difference. ``difference`` = AUC(a) - AUC(b); ``p_a_worse`` is the
    one-sided p-value of "a ranks worse than b" (small when a is significantly below b).
    """
    from scipy.stats import norm

    y = _labels(y)
    a = _numbers(score_a, "score_a", y.size)
    b = _numbers(score_b, "score_b", y.size)
    positive, negative = y == 1, y == 0
    m, n = int(positive.sum()), int(negative.sum())
    if m < 2 or n < 2:
        raise ValueError("DeLong's test needs at least two defaults and two non-defaults")
    aucs, v10, v01 = [], [], []
    for score in (a, b):
        pos, neg = score[positive], score[negative]
        whole = _midranks(np.concatenate([pos, neg]))
        within_pos, within_neg = _midranks(pos), _midranks(neg)
        aucs.append((whole[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((whole[:m] - within_pos) / n)  # per default: share of non-defaults it outranks
        v01.append(1.0 - (whole[m:] - within_neg) / m)  # per non-default: share of defaults outranking it
    s10, s01 = np.cov(np.vstack(v10)), np.cov(np.vstack(v01))
    covariance = s10 / m + s01 / n
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    difference = aucs[0] - aucs[1]
    se = float(np.sqrt(max(variance, 0.0)))
    z = difference / se if se > 0 else 0.0
    return {
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "difference": float(difference),
        "se": se,
        "z": float(z),
        "p_two_sided": float(2 * norm.sf(abs(z))),
        "p_a_worse": float(norm.cdf(z)),
    }


def population_weights(y, sample_rate: float, target_rate: float) -> np.ndarray:
    """Case weights turning a sample with default rate ``sample_rate`` into one with ``target_rate`` (defaults
    weighted target/sample, survivors (1 - target)/(1 - sample)): how PDs calibrated to a population rate are
    back-tested on a sample that over-represents its defaults."""
    y = _labels(y)
    for name, rate in (("sample_rate", sample_rate), ("target_rate", target_rate)):
        if not 0.0 < rate < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {rate!r}")
    return np.where(y == 1, target_rate / sample_rate, (1 - target_rate) / (1 - sample_rate))


def calibration_slope_intercept(y, p, weights=None) -> dict[str, float]:
    """Logistic recalibration of outcomes on logit(PD) (Cox 1958): slope 1 and intercept 0 when calibrated.

    Returns the slope and intercept with standard errors; the calibration-in-the-large intercept (slope held at
    1, logit(PD) as an offset); and likelihood-ratio p-values for slope = 1 and for (intercept, slope) = (0, 1)
    jointly. A slope below 1 means the PDs are too spread out (too extreme), above 1 too timid. ``weights``: case
    weights (``population_weights``); the tests use the weighted likelihood scaled to the sample size.
    """
    from scipy.optimize import minimize
    from scipy.stats import chi2

    y = _labels(y).astype(float)
    x = np.log(np.clip(_probabilities(p, y.size), 1e-12, 1 - 1e-12))
    x = x - np.log1p(-np.clip(_probabilities(p, y.size), 1e-12, 1 - 1e-12))
    w = np.ones_like(y) if weights is None else _numbers(weights, "weights", y.size)
    w = w * (y.size / w.sum())

    def nll(params: np.ndarray, slope_fixed: float | None = None) -> float:
        intercept = params[0]
        slope = params[1] if slope_fixed is None else slope_fixed
        z = intercept + slope * x
        return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)))

    full = minimize(nll, np.array([0.0, 1.0]), method="BFGS")
    large = minimize(lambda v: nll(v, 1.0), np.array([0.0]), method="BFGS")
    identity = nll(np.array([0.0, 1.0]))
    intercept, slope = (float(v) for v in full.x)
    z = intercept + slope * x
    q = 1 / (1 + np.exp(-z))
    info = np.array(
        [
            [np.sum(w * q * (1 - q)), np.sum(w * q * (1 - q) * x)],
            [np.sum(w * q * (1 - q) * x), np.sum(w * q * (1 - q) * x * x)],
        ]
    )
    se = np.sqrt(np.diag(np.linalg.pinv(info)))
    return {
        "slope": slope,
        "slope_se": float(se[1]),
        "intercept": intercept,
        "intercept_se": float(se[0]),
        "intercept_in_the_large": float(large.x[0]),
        "p_slope": float(chi2.sf(max(2 * (large.fun - full.fun), 0.0), 1)),
        "p_joint": float(chi2.sf(max(2 * (identity - full.fun), 0.0), 2)),
    }
