"""Weight-of-evidence binning: the classic scorecard transform for a logistic PD model.

Each ratio is cut into quantile bins of the training data (at least ``min_bin_share`` of the rows each) plus a
bin for missing values; a bin's value is its weight of evidence, ln(share of defaults / share of non-defaults),
smoothed by half a count so an empty cell stays finite. Heavy tails cannot pull the fit (a bin is a bin), and
a gap can carry its own evidence. Values are centred on their training mean so a logistic model's drivers
(coefficient x centred value) add up to its log-odds around the intercept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk_assets.core.metrics import assign_bins, quantile_bin_edges


def _edges(column: np.ndarray, max_bins: int, min_bin_share: float) -> np.ndarray:
    """Inner cut points at quantiles of the present values; repeated quantiles collapse (ties stay together)."""
    present = column[~np.isnan(column)]
    if present.size == 0:
        return np.empty(0)
    return quantile_bin_edges(present, max(1, min(max_bins, int(1.0 / min_bin_share))))


def _bin_index(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin per value: 0..len(edges) for present values (right-closed), len(edges) + 1 for missing."""
    index = assign_bins(np.nan_to_num(column, nan=0.0), edges)
    return np.where(np.isnan(column), edges.size + 1, index)


@dataclass
class WoeBinning:
    """Fitted bins and their centred weights of evidence, one list per feature."""

    edges: list[np.ndarray]
    woe: list[np.ndarray]  # per feature: one value per bin, the last for missing values
    mean: np.ndarray

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        max_bins: int = 10,
        min_bin_share: float = 0.05,
        smoothing: float = 0.5,
        directions: np.ndarray | None = None,
    ) -> WoeBinning:
        """``directions[j]`` = +1 / -1 makes feature j's WoE non-decreasing / non-increasing over its present
        bins (pool-adjacent-violators, weighted by bin counts): a monotone scorecard, as credit scorecards
        are built, so a constrained ratio cannot raise risk through a wiggle of its bins."""
        from sklearn.isotonic import isotonic_regression

        y = np.asarray(y, dtype=int)
        bad_total, good_total = y.sum(), (1 - y).sum()
        edges, woe = [], []
        for j in range(x.shape[1]):
            column = x[:, j]
            cuts = _edges(column, max_bins, min_bin_share)
            index = _bin_index(column, cuts)
            n_bins = cuts.size + 2
            bad = np.bincount(index, weights=y, minlength=n_bins)
            good = np.bincount(index, weights=1 - y, minlength=n_bins)
            values = np.log((bad + smoothing) / (bad_total + smoothing * n_bins)) - np.log(
                (good + smoothing) / (good_total + smoothing * n_bins)
            )
            if bad[-1] + good[-1] == 0:
                values[-1] = 0.0  # no missing values in training: a gap later carries no evidence
            direction = 0 if directions is None else int(directions[j])
            counts = (bad + good)[:-1]
            if direction and (counts > 0).sum() > 1:
                filled = counts > 0
                values[:-1][filled] = isotonic_regression(
                    values[:-1][filled], sample_weight=counts[filled], increasing=direction > 0
                )
            edges.append(cuts)
            woe.append(values)
        binning = cls(edges, woe, np.zeros(x.shape[1]))
        binning.mean = binning._raw_woe(x).mean(axis=0)
        return binning

    def _raw_woe(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape, dtype=float)
        for j, (cuts, values) in enumerate(zip(self.edges, self.woe, strict=True)):
            out[:, j] = values[_bin_index(x[:, j], cuts)]
        return out

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Centred weight of evidence per cell (training mean 0 in every column)."""
        return self._raw_woe(x) - self.mean

    def information_value(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """IV per feature on (x, y): sum over bins of (bad share - good share) x WoE, the usual screening figure."""
        y = np.asarray(y, dtype=int)
        out = np.empty(x.shape[1])
        for j, (cuts, values) in enumerate(zip(self.edges, self.woe, strict=True)):
            index = _bin_index(x[:, j], cuts)
            bad = np.bincount(index, weights=y, minlength=values.size) / max(y.sum(), 1)
            good = np.bincount(index, weights=1 - y, minlength=values.size) / max((1 - y).sum(), 1)
            out[j] = float(np.sum((bad - good) * values))
        return out


@dataclass
class WoePreprocessor:
    """The logistic family's input under ``transform='woe'``: centred WoE columns, no missing indicators
    (a gap has its own bin). Same interface as the winsorising preprocessor in core/model.py."""

    binning: WoeBinning
    indicator_columns: np.ndarray
    indicator_mean: np.ndarray

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        max_bins: int = 10,
        min_bin_share: float = 0.05,
        directions: np.ndarray | None = None,
    ) -> WoePreprocessor:
        binning = WoeBinning.fit(x, y, max_bins=max_bins, min_bin_share=min_bin_share, directions=directions)
        return cls(binning, np.empty(0, dtype=int), np.empty(0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return self.binning.transform(x)
