"""Validation metrics for PD models: discrimination, calibration, stability and grade back-testing.

Written on numpy/scipy so training, champion selection, monitoring and the API compute the same figures.
``y`` is 0/1 (1 = default); ``score`` is anything where higher means riskier; ``p`` is a probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

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


def roc_auc(y, score) -> float:
    """Area under the ROC curve via Mann-Whitney ranks: a tied (bad, good) pair counts one half."""
    labels = _labels(y)
    scores = _numbers(score, "score", labels.size)
    n_bad = int(labels.sum())
    n_good = labels.size - n_bad
    if n_bad == 0 or n_good == 0:
        raise ValueError("AUC needs both classes in y")
    ranks = stats.rankdata(scores)  # average ranks give ties the 1/2 credit
    rank_sum_bad = ranks[labels == 1].sum()
    return float((rank_sum_bad - n_bad * (n_bad + 1) / 2.0) / (n_bad * n_good))


def accuracy_ratio(y, score) -> float:
    """Accuracy ratio (Gini coefficient) = 2 * AUC - 1, the CAP-curve figure banks report."""
    return 2.0 * roc_auc(y, score) - 1.0


def ks_statistic(y, score) -> float:
    """Kolmogorov-Smirnov distance max_s |F_bad(s) - F_good(s)|, evaluated at every distinct score."""
    labels = _labels(y)
    scores = _numbers(score, "score", labels.size)
    n_bad = int(labels.sum())
    n_good = labels.size - n_bad
    if n_bad == 0 or n_good == 0:
        raise ValueError("KS needs both classes in y")
    thresholds = np.unique(scores)
    cdf_bad = np.searchsorted(np.sort(scores[labels == 1]), thresholds, side="right") / n_bad
    cdf_good = np.searchsorted(np.sort(scores[labels == 0]), thresholds, side="right") / n_good
    return float(np.max(np.abs(cdf_bad - cdf_good)))


def brier_score(y, p) -> float:
    """Mean squared difference between PD and outcome."""
    labels = _labels(y)
    probabilities = _probabilities(p, labels.size)
    return float(np.mean((probabilities - labels) ** 2))


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
    return float(stats.binom.sf(defaults - 1, n, pd))


def jeffreys_test(defaults: int, n: int, pd: float) -> float:
    """ECB/EBA Jeffreys test: p = Beta(d + 1/2, n - d + 1/2).cdf(pd).

    The Jeffreys-prior posterior of the default rate puts probability p below the PD; a small p means the
    observed rate is credibly above the PD, i.e. the PD underestimates risk.
    """
    _check_count_test(defaults, n, pd)
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
