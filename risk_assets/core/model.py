"""PD models with additive drivers and a calibration on data the model was not fit on.

Two families share one interface:

- ``logistic``: an L2-regularised logistic regression on transformed ratios, ``params["transform"]``:
  ``"winsor"`` (default) winsorises at the training 1st/99th percentiles, imputes the training median plus a
  missing indicator and standardises; ``"woe"`` replaces each ratio by the weight of evidence of its quantile
  bin (core/binning.py). Drivers are coefficient x (value - training mean): exact by construction.
- ``lightgbm``: gradient-boosted trees with missing values handled natively and monotone constraints where the
  economics is clear; drivers are TreeSHAP contributions (``pred_contrib``), which sum to the raw score.
  ``params["seeds"] = k`` bags k seeds, ``params["bag"] = [{...}, ...]`` bags settings (each over the
  others): the raw score and the contributions are the members' means.

For both, ``base + sum(contributions) == raw_log_odds`` (the model's log-odds before calibration). The PD is
``sigmoid(a * raw + b + shift)``: (a, b) is a Platt map fitted on out-of-fold raw scores (cross-fitting, so
never on rows the scoring estimator saw), ``shift`` moves the sample's default rate to a configured long-run
rate (a prior-probability correction, Saerens et al. 2002), because the training sample's 6.9% is not the
population's rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

FAMILIES = ("logistic", "lightgbm")


def logit(p: float | np.ndarray) -> Any:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def sigmoid(x: float | np.ndarray) -> Any:
    from scipy.special import expit  # exact in both tails, no overflow warning

    return expit(np.asarray(x, dtype=float))


@dataclass
class Calibration:
    """raw log-odds -> PD: a Platt map (slope, intercept and, when the data asks for it, a curvature), then a
    prior shift from the sample rate to the target rate.

    The curvature term bends the map where the out-of-fold scores say a straight line does not fit (on the US
    listed panel the lowest scores default less often than a line through the rest predicts); it is kept only
    when a likelihood-ratio test finds it at 5% and the map stays increasing over the scores it was fitted on.
    Beyond that range the map continues as a straight line with the slope at the edge, so it stays increasing.
    """

    slope: float
    intercept: float
    sample_rate: float
    target_rate: float
    curvature: float = 0.0
    raw_low: float = -np.inf
    raw_high: float = np.inf

    @property
    def prior_shift(self) -> float:
        return float(logit(self.target_rate) - logit(self.sample_rate))

    def _map(self, raw: np.ndarray) -> np.ndarray:
        x = np.asarray(raw, dtype=float)
        if self.curvature == 0.0:
            return self.slope * x + self.intercept
        inside = np.clip(x, self.raw_low, self.raw_high)
        edge_slope = self.slope + 2 * self.curvature * inside  # the map's slope at the clipped point
        return self.intercept + self.slope * inside + self.curvature * inside**2 + edge_slope * (x - inside)

    def calibrated_log_odds(self, raw: np.ndarray) -> np.ndarray:
        return self._map(raw) + self.prior_shift

    def pd(self, raw: np.ndarray) -> np.ndarray:
        return sigmoid(self.calibrated_log_odds(raw))

    def sample_pd(self, raw: np.ndarray) -> np.ndarray:
        """PD on the training sample's scale (no prior shift): what to test against the sample's outcomes."""
        return sigmoid(self._map(raw))

    def pd_at_rate(self, raw: np.ndarray, rate: float) -> np.ndarray:
        """PD moved to a sample whose default rate is ``rate`` (prior shift from the training sample's rate):
        how two models trained on different samples are tested against the same held-out rows."""
        return replace(self, target_rate=rate).pd(raw)


def fit_platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Unregularised 1-D logistic regression of y on raw log-odds: Newton steps, halved until the
    log-likelihood improves (plain Newton diverges when an overfitted model's raw scores saturate)."""
    x = np.asarray(raw, dtype=float)
    t = np.asarray(y, dtype=float)

    def loss(a: float, b: float) -> float:
        z = a * x + b
        return float(np.sum(np.logaddexp(0.0, z) - t * z))

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(100):
        p = sigmoid(a * x + b)
        w = p * (1 - p) + 1e-12
        grad = np.array([np.sum((p - t) * x), np.sum(p - t)])
        hess = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        scale = 1.0
        while scale > 1e-8:
            candidate = loss(a - scale * step[0], b - scale * step[1])
            if candidate <= current:
                break
            scale /= 2.0
        else:
            break  # no step improves the fit: at the optimum within rounding
        a, b, current = a - scale * step[0], b - scale * step[1], candidate
        if np.max(np.abs(scale * step)) < 1e-10:
            break
    return float(a), float(b)


def fit_curved_platt(raw: np.ndarray, y: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """(slope, intercept, curvature): the Platt map with a quadratic term when it improves the out-of-fold
    likelihood significantly (likelihood-ratio test, 1 df, at ``alpha``) and stays increasing over the scores'
    range; otherwise the straight map (curvature 0)."""
    from scipy.optimize import minimize
    from scipy.stats import chi2

    x = np.asarray(raw, dtype=float)
    t = np.asarray(y, dtype=float)
    slope, intercept = fit_platt(x, t)

    def nll(params: np.ndarray) -> float:
        z = params[0] + params[1] * x + params[2] * x * x
        return float(np.sum(np.logaddexp(0.0, z) - t * z))

    straight = nll(np.array([intercept, slope, 0.0]))
    found = minimize(nll, np.array([intercept, slope, 0.0]), method="BFGS")
    b0, b1, b2 = (float(v) for v in found.x)
    increasing = min(b1 + 2 * b2 * x.min(), b1 + 2 * b2 * x.max()) > 0
    significant = chi2.sf(max(2 * (straight - found.fun), 0.0), 1) < alpha
    if (
        np.isfinite(found.fun) and increasing and significant
    ):  # BFGS may stop on precision with a fine optimum
        return b1, b0, b2
    return slope, intercept, 0.0


MISSING_STRATEGIES = ("native", "impute")
LOGISTIC_TRANSFORMS = ("winsor", "woe")
# PDModel.params keys that configure this module, not LightGBM
_NON_LIGHTGBM_PARAMS = frozenset({"C", "transform", "max_bins", "seeds", "bag"})


class _SeedBag:
    """LightGBM models fitted with different seeds or settings; predicts (and explains) their mean raw score."""

    def __init__(self, members: list[Any]) -> None:
        self.members = members

    def predict(self, frame: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        return np.mean([member.predict(frame, **kwargs) for member in self.members], axis=0)


@dataclass
class _Imputer:
    """Training medians. Used when missingness in the training data is an artefact of how it was collected
    (in the Polish data a missing prior-year sales figure means 96% bankrupt) that would not carry over to
    the companies being scored, where a gap is a concept-map gap."""

    median: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> _Imputer:
        median = np.nanmedian(x, axis=0)
        return cls(np.where(np.isnan(median), 0.0, median))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), self.median, x)

    def fill_for_training(self, x: np.ndarray, seed: int) -> np.ndarray:
        """Gaps filled with values drawn from the column's observed values, for fitting only. A median fill
        would put every gap on one value that trees can single out: 7% of the Polish rows, 31% of them
        bankrupt, would sit on Attr27's median and teach the model that a cover of 0.98 is a warning, which
        is then what a filer with no reported interest expense gets. Drawn values carry no such spike."""
        rng = np.random.default_rng(seed)
        out = np.array(x, dtype=float, copy=True)
        for j in range(out.shape[1]):
            gaps = np.isnan(out[:, j])
            observed = out[~gaps, j]
            if gaps.any():
                out[gaps, j] = rng.choice(observed, int(gaps.sum())) if observed.size else self.median[j]
        return out


@dataclass
class _LogisticPreprocessor:
    lower: np.ndarray
    upper: np.ndarray
    median: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    indicator_columns: np.ndarray  # indices of features that get a missing indicator
    indicator_mean: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> _LogisticPreprocessor:
        lower = np.nanpercentile(x, 1, axis=0)
        upper = np.nanpercentile(x, 99, axis=0)
        clipped = np.clip(x, lower, upper)
        median = np.nanmedian(clipped, axis=0)
        filled = np.where(np.isnan(clipped), median, clipped)
        mean = filled.mean(axis=0)
        scale = filled.std(axis=0)
        scale[scale == 0] = 1.0
        missing = np.isnan(x)
        indicator_columns = np.flatnonzero(missing.mean(axis=0) >= 0.01)
        indicator_mean = missing[:, indicator_columns].mean(axis=0)
        return cls(lower, upper, median, mean, scale, indicator_columns, indicator_mean)

    def transform(self, x: np.ndarray) -> np.ndarray:
        clipped = np.clip(x, self.lower, self.upper)
        filled = np.where(np.isnan(clipped), self.median, clipped)
        z = (filled - self.mean) / self.scale
        indicators = np.isnan(x[:, self.indicator_columns]).astype(float)
        return np.hstack([z, indicators])


@dataclass
class DomainBounds:
    """Training-range envelope: a row far outside it is flagged, not silently trusted."""

    lower: np.ndarray
    upper: np.ndarray
    max_share_outside: float = 0.25
    min_share_present: float = 0.5

    @classmethod
    def fit(cls, x: np.ndarray) -> DomainBounds:
        return cls(np.nanpercentile(x, 0.5, axis=0), np.nanpercentile(x, 99.5, axis=0))

    def check(self, x: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
        """(flag, note) per row. A note is written once per distinct pattern of features outside the range and
        once per share present, not once per row: a whole market's rows share few patterns."""
        present = ~np.isnan(x)
        outside = present & ((x < self.lower) | (x > self.upper))
        share_present = present.mean(axis=1)
        share_outside = outside.sum(axis=1) / np.maximum(present.sum(axis=1), 1)
        flags = (share_outside > self.max_share_outside) | (share_present < self.min_share_present)
        few = share_present < self.min_share_present
        few_note = np.full(len(x), "", dtype=object)
        if few.any():
            shares, which = np.unique(share_present[few], return_inverse=True)
            texts = [f"only {share:.0%} of features available" for share in shares]
            few_note[few] = np.asarray(texts, dtype=object)[which.reshape(-1)]
        any_outside = outside.any(axis=1)
        outside_note = np.full(len(x), "", dtype=object)
        if any_outside.any():
            patterns, which = np.unique(outside[any_outside], axis=0, return_inverse=True)
            texts = []
            for pattern in patterns:
                names_outside = [names[j] for j in np.flatnonzero(pattern)]
                texts.append(f"{len(names_outside)} outside training range: {', '.join(names_outside[:8])}")
            outside_note[any_outside] = np.asarray(texts, dtype=object)[which.reshape(-1)]
        both = few & any_outside
        notes = np.where(few, few_note, outside_note)
        notes[both] = few_note[both] + "; " + outside_note[both]
        return flags, notes.tolist()


def largest_contributions(
    base: np.ndarray, values: np.ndarray, names: list[str], top: int
) -> list[dict[str, Any]]:
    """Per row: the base, the ``top`` contributions largest by absolute size and the rest summed (``other``).

    One argsort over the matrix: a row of a matrix sorts as that row alone would, so ties (features a model never
    splits on contribute exactly 0) pick the same features as a per-row argsort."""
    if len(values) == 0:
        return []
    order = np.argsort(-np.abs(values), axis=1)[:, :top]
    chosen = np.take_along_axis(values, order, axis=1)
    other = values.sum(axis=1) - chosen.sum(axis=1)
    chosen_names = np.asarray(names, dtype=object)[order]
    return [
        {"base": b, "contributions": dict(zip(n, c, strict=True)), "other": o}
        for b, n, c, o in zip(
            np.asarray(base, dtype=float).tolist(),
            chosen_names.tolist(),
            chosen.tolist(),
            other.tolist(),
            strict=True,
        )
    ]


@dataclass
class PDModel:
    """A fitted PD model: estimator + preprocessing + calibration + domain envelope."""

    family: str
    feature_names: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    estimator: Any = None
    preprocessor: Any = None  # _LogisticPreprocessor or binning.WoePreprocessor (logistic family)
    calibration: Calibration | None = None
    domain: DomainBounds | None = None
    monotone: dict[str, int] = field(default_factory=dict)
    missing: str = "native"
    imputer: _Imputer | None = None

    # -- fitting -------------------------------------------------------------------------------
    def _fit_estimator(self, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[Any, Any]:
        if self.family == "logistic":
            directions = np.array([self.monotone.get(name, 0) for name in self.feature_names])
            transform = self.params.get("transform", "winsor")
            if transform == "winsor":
                pre: Any = _LogisticPreprocessor.fit(x)
            elif transform == "woe":
                from risk_assets.core.binning import WoePreprocessor

                pre = WoePreprocessor.fit(
                    x, y, max_bins=int(self.params.get("max_bins", 10)), directions=directions
                )
            else:
                raise ValueError(
                    f"unknown logistic transform {transform!r}; expected one of {LOGISTIC_TRANSFORMS}"
                )
            return self._fit_signed_logistic(pre, x, y, directions, transform), pre
        if self.family == "lightgbm":
            import lightgbm as lgb

            constraints = [self.monotone.get(name, 0) for name in self.feature_names]
            params = {
                "n_estimators": 400,
                "learning_rate": 0.03,
                "num_leaves": 15,
                "min_child_samples": 20,
                "subsample": 0.8,
                "subsample_freq": 1,
                "colsample_bytree": 0.7,
                "reg_lambda": 1.0,
                "monotone_constraints": constraints,
                "monotone_constraints_method": "advanced",
                "verbose": -1,
                "n_jobs": 1,
            } | {k: v for k, v in self.params.items() if k not in _NON_LIGHTGBM_PARAMS}
            frame = pd.DataFrame(x, columns=self.feature_names)
            # A bag averages models: seeds (the luck of row and column subsampling) and, with "bag", settings
            # that see the data differently (bin granularity, step size, leaf size). Its raw score and TreeSHAP
            # contributions are the members' means, so drivers still add up.
            settings = [params | dict(member) for member in self.params.get("bag", [{}])]
            members = [
                lgb.LGBMClassifier(random_state=seed + k, **setting).fit(frame, y)
                for setting in settings
                for k in range(int(self.params.get("seeds", 1)))
            ]
            return (members[0] if len(members) == 1 else _SeedBag(members)), None
        raise ValueError(f"unknown model family {self.family!r}; expected one of {FAMILIES}")

    def _fit_signed_logistic(
        self, pre: Any, x: np.ndarray, y: np.ndarray, directions: np.ndarray, transform: str
    ) -> Any:
        """The logistic model, refitted without any constrained feature whose coefficient comes out against its
        direction (a scorecard's sign check): collinear ratios can flip a sign, and a constraint that does not
        hold in the model is no constraint. A dropped feature keeps its column at zero weight."""
        from sklearn.linear_model import LogisticRegression

        n = len(self.feature_names)
        # WoE already points each constrained feature toward risk: its coefficient must be positive. A winsorised
        # ratio keeps its own scale: its coefficient must have the sign of the direction.
        wanted = np.where(directions != 0, 1.0 if transform == "woe" else directions, 0.0)
        keep = np.ones(pre.transform(x[:1]).shape[1], dtype=bool)
        transformed = pre.transform(x)
        for _ in range(n):
            # class_weight="balanced": the 1:14 imbalance would otherwise let the penalty shrink the rare
            # class's evidence; the Platt map afterwards puts the PDs back on the sample's scale.
            est = LogisticRegression(
                C=self.params.get("C", 0.1), class_weight="balanced", max_iter=5000, tol=1e-8
            )
            est.fit(np.where(keep, transformed, 0.0), y)
            wrong = (est.coef_[0][:n] * wanted < 0) & keep[:n]
            if not wrong.any():
                break
            keep[np.flatnonzero(wrong)] = False
        self.dropped_for_sign_ = [self.feature_names[j] for j in np.flatnonzero(~keep[:n])]
        return est

    def _raw(self, est: Any, pre: Any, x: np.ndarray) -> np.ndarray:
        if self.family == "logistic":
            return est.decision_function(pre.transform(x))
        return est.predict(pd.DataFrame(x, columns=self.feature_names), raw_score=True)

    def fit(
        self,
        frame: pd.DataFrame,
        y: np.ndarray,
        *,
        target_rate: float,
        seed: int = 0,
        calibration_folds: int = 5,
        groups: np.ndarray | None = None,
        calibration_rows: np.ndarray | None = None,
    ) -> PDModel:
        """Fit on ``frame[feature_names]``; calibrate on out-of-fold raw scores; then refit on all rows.

        ``calibration_rows`` (a boolean mask) restricts the calibration map, and the sample rate the prior shift
        starts from, to rows whose default rate is not distorted by how the data was collected (the US listed
        panel's first years hold almost no defaults: failing companies could not enter it then); the estimator
        still learns its ranking from every row."""
        from sklearn.model_selection import StratifiedGroupKFold

        if self.missing not in MISSING_STRATEGIES:
            raise ValueError(f"missing must be one of {MISSING_STRATEGIES}")
        raw_x = self._raw_matrix(frame)
        self.domain = DomainBounds.fit(raw_x)
        self.imputer = _Imputer.fit(raw_x) if self.missing == "impute" else None
        # Fitted on drawn fills, scored (out of fold too, so the Platt map sees what scoring sees) on medians.
        x = self.imputer.fill_for_training(raw_x, seed) if self.imputer is not None else raw_x
        x_scored = self.imputer.transform(raw_x) if self.imputer is not None else raw_x
        y = np.asarray(y, dtype=int)
        if len(np.unique(y)) != 2:
            raise ValueError("training data needs both defaults and non-defaults")
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        oof = np.full(len(y), np.nan)
        fold_of_row = np.full(len(y), -1)
        folds = StratifiedGroupKFold(n_splits=calibration_folds, shuffle=True, random_state=seed)
        for k, (train_idx, test_idx) in enumerate(folds.split(x, y, groups)):
            est, pre = self._fit_estimator(x[train_idx], y[train_idx], seed)
            oof[test_idx] = self._raw(est, pre, x_scored[test_idx])
            fold_of_row[test_idx] = k
        mask = (
            np.ones(len(y), dtype=bool)
            if calibration_rows is None
            else np.asarray(calibration_rows, dtype=bool)
        )
        if len(np.unique(y[mask])) != 2:
            raise ValueError("the calibration rows need both defaults and non-defaults")
        slope, intercept, curvature = fit_curved_platt(oof[mask], y[mask])
        self.estimator, self.preprocessor = self._fit_estimator(x, y, seed)
        self.calibration = Calibration(
            slope,
            intercept,
            float(y[mask].mean()),
            float(target_rate),
            curvature,
            float(oof.min()),
            float(oof.max()),
        )
        self.oof_raw_ = oof  # out-of-fold raw scores (what the Platt map was fitted on) and their folds
        self.oof_fold_ = fold_of_row
        return self

    # -- prediction ----------------------------------------------------------------------------
    def _raw_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        absent = [name for name in self.feature_names if name not in frame.columns]
        if absent:
            raise ValueError(f"missing feature columns: {absent}")
        return frame[self.feature_names].to_numpy(dtype=float, na_value=np.nan)

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The estimator's input: raw values, with training medians in the gaps when ``missing='impute'``."""
        x = self._raw_matrix(frame)
        return self.imputer.transform(x) if self.imputer is not None else x

    def raw_log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        return self._raw(self.estimator, self.preprocessor, self._matrix(frame))

    def predict_pd(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.calibration is not None, "model is not fitted"
        return self.calibration.pd(self.raw_log_odds(frame))

    def contributions(self, frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """(base, per-feature contributions) with base + contributions.sum(axis=1) == raw log-odds."""
        x = self._matrix(frame)
        n = len(self.feature_names)
        if self.family == "logistic":
            pre = self.preprocessor
            transformed = pre.transform(x)
            coef = self.estimator.coef_[0]
            contrib = transformed[:, :n] * coef[:n]  # z has training mean 0
            indicator_coef = coef[n:]
            centred = transformed[:, n:] - pre.indicator_mean
            for k, column in enumerate(pre.indicator_columns):
                contrib[:, column] += centred[:, k] * indicator_coef[k]
            base_value = float(self.estimator.intercept_[0] + np.dot(indicator_coef, pre.indicator_mean))
            base = np.full(len(x), base_value)
        else:
            values = self.estimator.predict(
                pd.DataFrame(x, columns=self.feature_names), raw_score=True, pred_contrib=True
            )
            contrib, base = values[:, :n], values[:, n]
        return base, pd.DataFrame(contrib, columns=self.feature_names, index=frame.index)

    def check_domain(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        assert self.domain is not None, "model is not fitted"
        return self.domain.check(self._raw_matrix(frame), self.feature_names)

    def score(
        self, frame: pd.DataFrame, top_drivers: int = 5, explain: np.ndarray | None = None
    ) -> pd.DataFrame:
        """PD, raw log-odds, domain flag and the top signed drivers per row.

        ``explain``: which rows get drivers (default: all). TreeSHAP costs about fifty predictions a row, so a
        caller that serves most rows' drivers on request computes them only where it stores them; the other rows
        get ``None`` and their log-odds straight from the model (equal to base + contributions up to rounding).
        """
        explain = np.ones(len(frame), dtype=bool) if explain is None else np.asarray(explain, dtype=bool)
        if explain.shape != (len(frame),):
            raise ValueError(f"explain has {explain.shape} entries for {len(frame)} rows")
        raw = np.empty(len(frame))
        drivers = np.full(len(frame), None, dtype=object)
        if explain.any():
            base, contrib = self.contributions(frame[explain])
            values = contrib.to_numpy()
            raw[explain] = base + values.sum(axis=1)
            found = np.empty(int(explain.sum()), dtype=object)
            found[:] = largest_contributions(base, values, self.feature_names, top_drivers)
            drivers[explain] = found
        if not explain.all():
            raw[~explain] = self.raw_log_odds(frame[~explain])
        flags, notes = self.check_domain(frame)
        return pd.DataFrame(
            {
                "pd": self.calibration.pd(raw),
                "log_odds": raw,
                "out_of_domain": flags,
                "domain_note": notes,
                "drivers": drivers,
            },
            index=frame.index,
        )
