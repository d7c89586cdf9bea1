"""Validation the way a bank's validator reads it: every family trained and measured on rows it never saw.

Two protocols (docs/modeling.md, "Validation"):
- out of time, when rows have dates: a statement panel is placed in time (t = filed_at or period end + lag),
  labelled with a horizon (core/labels.py), split at 1 January of a test year with the label windows that
  reach the test period purged from training, and the split is checked for leaks on the actual frames;
- stratified k-fold, repeated, when they have none (a labelled ratio table): exact duplicate rows share a fold,
  every family sees identical folds, and the spread over folds gives a standard error.

Figures per model: ROC AUC, accuracy ratio, KS, Brier, log loss, calibration by decile, the default rate per
master-scale grade (which must rise with the grade) with Jeffreys and binomial tests, and the PSI between the
development and test scores. PDs are tested on the sample's scale (``Calibration.sample_pd``): the outcomes
are the sample's, whatever long-run rate the PDs are later shifted to. The classic scores are reported beside
the models on the same test rows (core/benchmarks.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from risk_assets.core.benchmarks import ClassicScore, classic_figures
from risk_assets.core.champion import two_sided_binomial_p
from risk_assets.core.field_features import FIELD_FEATURES, MONOTONE, compute_field_features
from risk_assets.core.labels import (
    DEFAULT_EVENT_KINDS,
    DEFAULT_HORIZON_MONTHS,
    DEFAULT_REPORTING_LAG_DAYS,
    label_and_exclude,
    observation_times,
)
from risk_assets.core.master_scale import grade_for_pd
from risk_assets.core.metrics import (
    calibration_by_decile,
    default_rate_by_grade,
    monotone_increasing,
    population_stability_index,
    roc_auc,
    summary_metrics,
)
from risk_assets.core.model import PDModel
from risk_assets.core.ratios import MODEL_RATIOS, compute_ratio_frame
from risk_assets.core.splits import (
    assert_no_leakage,
    duplicate_groups,
    out_of_time_split,
    stratified_group_kfold,
)

# Directions where the economics is unambiguous: more profit, equity or liquidity never raises risk.
MONOTONE_DIRECTIONS: dict[str, int] = {
    "Attr1": -1,  # net profit / total assets
    "Attr2": 1,  # total liabilities / total assets
    "Attr3": -1,  # working capital / total assets
    "Attr6": -1,  # retained earnings / total assets
    "Attr7": -1,  # EBIT (pre-tax profit in the data) / total assets
    "Attr8": -1,  # book value of equity / total liabilities (inverse leverage)
    "Attr17": -1,  # total assets / total liabilities (inverse leverage)
    "Attr10": -1,  # equity / total assets
}

# The product's LightGBM: PDModel's defaults (small leaves, slow learning, subsampled rows and columns, monotone
# constraints); bench/model_quality.py measures them against its tuned bag (BEST_PARAMS).
LIGHTGBM_PARAMS: dict[str, Any] = {}


@dataclass(frozen=True)
class Candidate:
    """A model family with its settings, as the pipeline, `riskgraph evaluate` and the benchmark train it."""

    name: str
    family: str
    params: Mapping[str, Any]
    missing: str = "impute"
    monotone: bool = True  # MONOTONE_DIRECTIONS on LightGBM (the logistic family ignores them)

    def build(self, features: Sequence[str], directions: Mapping[str, int] | None = None) -> PDModel:
        """A PDModel over ``features``, constrained by ``directions`` (default: the Polish attributes')."""
        chosen = MONOTONE_DIRECTIONS if directions is None else directions
        return PDModel(
            self.family,
            list(features),
            dict(self.params),
            monotone={k: v for k, v in chosen.items() if k in features} if self.monotone else {},
            missing=self.missing,
        )


def product_candidates(missing: str = "impute") -> list[Candidate]:
    """Every family the product trains: the logistic model on WoE bins and on winsorised ratios, LightGBM."""
    return [
        Candidate("logistic_woe", "logistic", {"C": 0.1, "transform": "woe"}, missing),
        Candidate("logistic_winsor", "logistic", {"C": 0.1, "transform": "winsor"}, missing),
        Candidate("lightgbm", "lightgbm", dict(LIGHTGBM_PARAMS), missing),
    ]


# The listed segments' LightGBM: few, shallow trees (four leaves, 100 rows a leaf, L2 5). On the US listed panel's
# training years the product's settings reached out-of-fold AUC 0.775 and these 0.806 (2026-12-05): 350 defaults
# do not support deeper interactions.
LISTED_LIGHTGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.03,
    "num_leaves": 4,
    "min_child_samples": 100,
    "reg_lambda": 5.0,
}


def listed_candidates() -> list[Candidate]:
    """The listed segments' families: the logistic model (WoE, winsorised) and the shallow LightGBM."""
    return [
        Candidate("logistic_woe", "logistic", {"C": 0.1, "transform": "woe"}, "impute"),
        Candidate("logistic_winsor", "logistic", {"C": 0.1, "transform": "winsor"}, "impute"),
        Candidate("lightgbm", "lightgbm", dict(LISTED_LIGHTGBM_PARAMS), "impute"),
    ]


#: How the pipeline picks a segment's family (simplicity order: the order of ``product_candidates``).
SELECTION_RULE = (
    "the simplest family whose cross-validated (out-of-fold) AUC on the training rows is within one "
    "standard error of the best's (logistic on WoE bins, then on winsorised ratios, then LightGBM)"
)


def simplest_within_one_se(cv: Mapping[str, tuple[float, float]]) -> str:
    """The one-standard-error rule (Breiman et al. 1984): ``cv`` maps each family, simplest first, to its mean
    out-of-fold AUC and that mean's standard error. A more complex family must beat the simpler ones by more than
    the noise of the folds, so that a 0.0001 AUC difference does not swap a scorecard for a tree ensemble."""
    if not cv:
        raise ValueError("no family to choose from")
    best = max(cv, key=lambda name: cv[name][0])
    floor = cv[best][0] - cv[best][1]
    return next(name for name, (auc, _) in cv.items() if auc >= floor)


# The most accurate LightGBM found for a labelled ratio table (bench/model_quality.py, chosen on folds the
# benchmark does not report): five settings averaged, three with fewer, stronger rounds than the pipeline's (no
# row or column subsampling, no L2 penalty; differing in step size, rounds, bin granularity, leaf size) and two
# extremely randomised ones, so the members cut the ratios differently.
_STRONG = {
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 1.0,
    "subsample_freq": 0,
    "colsample_bytree": 1.0,
    "reg_lambda": 0.0,
}
LIGHTGBM_BAG_PARAMS: dict[str, Any] = {
    **_STRONG,
    "bag": [
        {"learning_rate": 0.1, "n_estimators": 100},
        {"learning_rate": 0.05, "n_estimators": 200},
        {"learning_rate": 0.1, "n_estimators": 200, "max_bin": 127, "min_child_samples": 30},
        {"learning_rate": 0.05, "n_estimators": 400, "extra_trees": True},
        {"learning_rate": 0.05, "n_estimators": 400, "extra_trees": True, "colsample_bytree": 0.5},
    ],
}


def evaluation_candidates(missing: str = "native") -> list[Candidate]:
    """What `riskgraph evaluate` trains: the product's families plus the unconstrained LightGBM bag. The bag ranks
    best on labelled tables but explains a score with five models' TreeSHAP, so the pipeline does not serve it."""
    return [
        *product_candidates(missing),
        Candidate("lightgbm_bag", "lightgbm", LIGHTGBM_BAG_PARAMS, missing, monotone=False),
    ]


# -- figures ----------------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def grade_backtest(y: np.ndarray, p: np.ndarray, alpha: float = 0.05) -> dict[str, Any]:
    """Default rate per master-scale grade, whether it rises with the grade, and the per-grade tests.

    ``monotone``: the observed rate never falls from one populated grade to the next. With a handful of
    defaults per grade a fall is often noise, so each fall is also tested (Fisher's exact test, one-sided: is the
    lower grade's rate really above the higher one's?) and ``monotone_within_noise`` is False only when a fall
    is significant at ``alpha``. ``failing_grades``: Jeffreys p below alpha / number of grades (Bonferroni, as
    the champion gate).
    """
    from scipy.stats import fisher_exact

    grades = [grade_for_pd(float(v)) for v in p]
    table = default_rate_by_grade(y, grades, p)
    rates = table["observed_rate"].to_numpy(dtype=float)
    violations = []
    for i in range(len(rates) - 1):
        if rates[i + 1] < rates[i]:
            lower, higher = table.iloc[i], table.iloc[i + 1]
            contingency = [
                [int(lower["defaults"]), int(lower["n"] - lower["defaults"])],
                [int(higher["defaults"]), int(higher["n"] - higher["defaults"])],
            ]
            p_value = float(fisher_exact(contingency, alternative="greater").pvalue)
            violations.append({"grades": f"{lower['grade']}->{higher['grade']}", "fisher_p": p_value})
    per_grade_alpha = alpha / max(len(table), 1)
    failing = table.loc[table["jeffreys_p"] < per_grade_alpha, "grade"].astype(str).tolist()
    return {
        "table": table.to_dict("records"),
        "monotone": bool(monotone_increasing(rates)) if len(rates) else True,
        "monotone_within_noise": all(v["fisher_p"] >= alpha for v in violations),
        "violations": violations,
        "jeffreys_alpha_per_grade": per_grade_alpha,
        "failing_grades": failing,
    }


def validation_figures(y, p, dev_p=None, alpha: float = 0.05) -> dict[str, Any]:
    """Everything a validator reads for one model on one test set (``p`` on the sample's scale)."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    figures: dict[str, Any] = summary_metrics(y, p)
    figures["n"] = int(y.size)
    figures["positives"] = int(y.sum())
    figures["mean_pd"] = float(p.mean())
    figures["observed_rate"] = float(y.mean())
    figures["mean_pd_binomial_p"] = two_sided_binomial_p(int(y.sum()), int(y.size), float(p.mean()))
    figures["calibration_by_decile"] = calibration_by_decile(y, p).to_dict("records")
    figures["grades"] = grade_backtest(y, p, alpha)
    figures["psi"] = population_stability_index(dev_p, p) if dev_p is not None else None
    return _clean(figures)


def corrected_standard_error(values: Sequence[float], n_train: float, n_test: float) -> float:
    """Nadeau & Bengio (2003) standard error of a mean over resampled folds: sqrt((1/J + n_test/n_train) var).

    Folds of repeated k-fold share training rows, so the naive std/sqrt(J) is too small; the correction keeps
    a repeat from looking like new data.
    """
    array = np.asarray(values, dtype=float)
    if array.size < 2:
        return float("nan")
    return float(math.sqrt((1.0 / array.size + n_test / n_train) * array.var(ddof=1)))


# -- a user's statement panel ------------------------------------------------------------------------------


@dataclass
class Panel:
    """Labelled statement rows (t, year of t, target, ratios) plus what was left out and why."""

    frame: pd.DataFrame
    events: pd.DataFrame
    horizon_months: int
    reporting_lag_days: int
    excluded: dict[str, int] = field(default_factory=dict)
    classic: dict[str, ClassicScore] = field(default_factory=dict)


def _financial(statements: pd.DataFrame) -> np.ndarray:
    from risk_assets.core.sectors import is_financial_ksic, is_financial_sic

    flags = np.zeros(len(statements), dtype=bool)
    if "sic" in statements.columns:
        flags |= (
            statements["sic"].map(lambda v: bool(v) and not pd.isna(v) and is_financial_sic(v)).to_numpy()
        )
    if "induty_code" in statements.columns:
        flags |= (
            statements["induty_code"]
            .map(lambda v: bool(v) and not pd.isna(v) and is_financial_ksic(v))
            .to_numpy()
        )
    return flags


def build_panel(
    statements: pd.DataFrame,
    events: pd.DataFrame,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    reporting_lag_days: int = DEFAULT_REPORTING_LAG_DAYS,
    observed_until=None,
    with_classic: bool = True,
    default_kinds: Sequence[str] = DEFAULT_EVENT_KINDS,
) -> Panel:
    """Statements + default events -> training rows: t, labels with a horizon, ratios known at t, classic scores.

    Financial firms (a ``sic`` or ``induty_code`` column saying so) and non-annual rows are left out; every
    exclusion is counted by reason. Ratios and classic scores use only versions filed on or before each t.
    """
    excluded: dict[str, int] = {}
    rows = statements.reset_index(drop=True).copy()
    if "period_type" in rows.columns:
        annual = rows["period_type"].fillna("FY") == "FY"
        if (~annual).any():
            excluded["not an annual statement"] = int((~annual).sum())
        rows = rows[annual].reset_index(drop=True)
    financial = _financial(rows)
    if financial.any():
        excluded["financial firm (out of the model's scope)"] = int(financial.sum())
        rows = rows[~financial].reset_index(drop=True)
    rows["filed_at"] = observation_times(rows, reporting_lag_days)  # t: what the point-in-time joins key on
    ratios = compute_ratio_frame(rows)
    classic = {}
    if with_classic:
        from risk_assets.core.benchmarks import classic_from_statements

        classic = classic_from_statements(rows)
    event_frame = events.copy()
    event_frame["event_date"] = pd.to_datetime(event_frame["event_date"])
    keys = rows[["company_id", "period_end", "filed_at"]]
    labelled, dropped = label_and_exclude(
        keys,
        event_frame,
        horizon_months,
        reporting_lag_days,
        default_kinds=default_kinds,
        observed_until=observed_until,
    )
    for reason, count in dropped["excluded_reason"].value_counts().items():
        excluded[str(reason)] = int(count)
    frame = rows.loc[labelled.index].copy()
    fields = compute_field_features(rows)
    for name in FIELD_FEATURES:
        frame[name] = fields.loc[labelled.index, name]
    frame["t"] = labelled["t"]
    frame["target"] = labelled["target"].astype(int)
    frame["year"] = frame["t"].dt.year
    for name in MODEL_RATIOS:
        frame[name] = ratios.loc[labelled.index, name]
    classic = {
        name: ClassicScore(
            score.name,
            score.risk[labelled.index],
            None if score.probability is None else score.probability[labelled.index],
            score.reasons[labelled.index],
            score.note,
        )
        for name, score in classic.items()
    }
    frame = frame.reset_index(drop=True)
    defaults = event_frame[event_frame["kind"].isin(list(default_kinds))]
    return Panel(frame, defaults, horizon_months, reporting_lag_days, excluded, classic)


def usable_features(
    frame: pd.DataFrame, candidates: Sequence[str], min_share_present: float = 0.05
) -> list[str]:
    """Features present in at least ``min_share_present`` of the rows (an all-empty ratio teaches nothing)."""
    return [
        name
        for name in candidates
        if name in frame.columns and frame[name].notna().mean() >= min_share_present
    ]


def _check_trainable(y: np.ndarray, what: str, folds: int = 5) -> None:
    positives = int(np.sum(y))
    if positives < folds or positives > y.size - folds:
        raise ValueError(
            f"{what} has {positives} defaults in {y.size} rows: at least {folds} of each class are "
            "needed to fit and calibrate on rows the model did not see"
        )


@dataclass
class Evaluation:
    """A report (JSON-ready) and the test predictions per model for the plots."""

    report: dict[str, Any]
    predictions: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (y, PD or risk score)
    probabilities: dict[
        str, tuple[np.ndarray, np.ndarray]
    ]  # name -> (y, PD), models and probabilistic classics
    models: dict[str, PDModel] = field(default_factory=dict)


def _fit(
    candidate: Candidate,
    features: Sequence[str],
    train: pd.DataFrame,
    y: np.ndarray,
    seed: int,
    groups: np.ndarray | None,
    target_rate: float | None,
    calibration_folds: int,
    directions: Mapping[str, int] | None = None,
) -> PDModel:
    return candidate.build(features, directions).fit(
        train,
        y,
        target_rate=target_rate or float(y.mean()),
        seed=seed,
        groups=groups,
        calibration_folds=calibration_folds,
    )


def field_directions(features: Sequence[str]) -> dict[str, int]:
    """Monotone directions of the field features a model sees (both sizes free when market size is among them,
    as in core/segments.py)."""
    from risk_assets.core.segments import UNCONSTRAINED_LISTED

    free = UNCONSTRAINED_LISTED if "log_real_mve" in features else frozenset()
    return {k: v for k, v in MONOTONE.items() if k in features and k not in free}


def evaluate_out_of_time(
    panel: Panel,
    test_from_year: int,
    candidates: Sequence[Candidate],
    *,
    seed: int = 0,
    target_rate: float | None = None,
    calibration_folds: int = 5,
    field_candidates: Sequence[Candidate] = (),
    progress=None,
) -> Evaluation:
    """Train every candidate on years before ``test_from_year`` and test on the rest (label windows purged).

    Each candidate is fitted on the Polish attributes and, for ``field_candidates``, on the field features
    (core/field_features.py, named ``field_<candidate>``). The best is chosen by its cross-validated AUC on the
    training years (out-of-fold, the folds the calibration is cross-fitted on), never by the test."""
    frame = panel.frame
    train, test = out_of_time_split(
        frame, "year", test_from_year, horizon_months=panel.horizon_months, time_column="t"
    )
    if test.empty:
        raise ValueError(f"no rows observed in or after {test_from_year}: nothing to test on")
    assert_no_leakage(
        train, test, "year", events=panel.events, time_column="t", horizon_months=panel.horizon_months
    )
    y_train, y_test = train["target"].to_numpy(), test["target"].to_numpy()
    _check_trainable(
        y_train, f"the training period (before {test_from_year}, windows purged)", calibration_folds
    )
    if y_test.min() == y_test.max():
        raise ValueError(
            f"the test period (from {test_from_year}) has {int(y_test.sum())} defaults in "
            f"{y_test.size} rows: AUC needs both classes"
        )
    features = usable_features(train, MODEL_RATIOS)
    fields = usable_features(train, FIELD_FEATURES) if set(FIELD_FEATURES) <= set(train.columns) else []
    groups = pd.factorize(train["company_id"])[0]
    models, predictions, probabilities, figures = {}, {}, {}, {}
    # The Polish attribute families as before, and the field features' families (the listed segments' set)
    runs = [(c.name, c, features, None) for c in candidates]
    if fields:
        runs += [(f"field_{c.name}", c, fields, field_directions(fields)) for c in field_candidates]
    for step, (name, candidate, columns, directions) in enumerate(runs, start=1):
        if progress is not None:
            progress(f"[{step}/{len(runs)}] fitting {name} on {len(columns)} features, {y_train.size} rows")
        model = _fit(
            candidate, columns, train, y_train, seed, groups, target_rate, calibration_folds, directions
        )
        p_test = model.calibration.sample_pd(model.raw_log_odds(test))
        p_dev = model.calibration.sample_pd(model.raw_log_odds(train))
        figures[name] = {
            "family": candidate.family,
            "params": _clean(dict(candidate.params)),
            "missing": candidate.missing,
            "features": "field" if directions is not None else "polish",
            "cv_auc": roc_auc(y_train, model.oof_raw_),
            **validation_figures(y_test, p_test, p_dev),
            "n_train": int(y_train.size),
            "n_test": int(y_test.size),
            "positives_train": int(y_train.sum()),
        }
        models[name] = model
        predictions[name] = probabilities[name] = (y_test, p_test)
    test_rows = test.index.to_numpy()
    for name, score in panel.classic.items():
        figures[name] = _clean(classic_figures(score, frame["target"].to_numpy(), test_rows))
        available = score.available()[test_rows]
        if figures[name]["available"]:
            predictions[name] = (y_test[available], score.risk[test_rows][available])
            if score.probability is not None:
                probabilities[name] = (y_test[available], score.probability[test_rows][available])
    years = frame["year"]
    report = {
        "protocol": {
            "kind": "out_of_time",
            "test_from_year": int(test_from_year),
            "horizon_months": panel.horizon_months,
            "reporting_lag_days": panel.reporting_lag_days,
            "seed": seed,
            "pd_scale": "sample (no prior shift): tested against the sample's outcomes",
            "label_windows_purged": True,
        },
        "data": {
            "rows": int(len(frame)),
            "companies": int(frame["company_id"].nunique()),
            "years": [int(years.min()), int(years.max())],
            "positives": int(frame["target"].sum()),
            "excluded": panel.excluded,
            "n_train": int(len(train)),
            "n_test": int(len(test)),
            "train_rows_purged": int(((years < test_from_year).sum()) - len(train)),
            "features": features,
            "field_features": fields,
        },
        "models": figures,
        "best": max(models, key=lambda name: figures[name]["cv_auc"]),
        "selection_rule": "highest cross-validated AUC on the training years (out-of-fold), never the test's",
    }
    return Evaluation(report, predictions, probabilities, models)


def _best(figures: Mapping[str, Mapping[str, Any]], candidates: Sequence[Candidate]) -> str:
    """k-fold: the folds are the validation; the best mean AUC over them."""
    return max((c.name for c in candidates), key=lambda name: figures[name]["auc"])


# -- k-fold on a labelled table ----------------------------------------------------------------------------


def _fold_figures(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """summary_metrics without the counts (a fold's counts are not averaged)."""
    return {k: v for k, v in summary_metrics(y, p).items() if k not in ("n", "positives")}


def _summarise(per_fold: list[dict[str, float]], n_train: float, n_test: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in per_fold[0]:
        values = [fold[key] for fold in per_fold if fold[key] is not None]
        if not values:
            out[key], out[f"{key}_se"] = None, None
            continue
        out[key] = float(np.mean(values))
        out[f"{key}_se"] = corrected_standard_error(values, n_train, n_test)
    return out


@dataclass(frozen=True)
class _FoldJob:
    """One family fitted on one fold's training rows: the unit `evaluate_kfold` spreads over processes."""

    candidate: Candidate
    repeat: int
    fold: int
    train_idx: np.ndarray
    test_idx: np.ndarray


def _run_fold(
    job: _FoldJob,
    frame: pd.DataFrame,
    features: Sequence[str],
    y: np.ndarray,
    groups: np.ndarray,
    seed: int,
    target_rate: float | None,
    calibration_folds: int,
) -> tuple[_FoldJob, np.ndarray, np.ndarray | None, float]:
    """(job, test-fold PDs, development PDs on the first repeat, seconds). Seeded by the repeat alone, so the
    result does not depend on which process runs it or in what order."""
    started = time.monotonic()
    train = frame.iloc[job.train_idx]
    model = _fit(
        job.candidate,
        features,
        train,
        y[job.train_idx],
        seed + job.repeat,
        groups[job.train_idx],
        target_rate,
        calibration_folds,
    )
    p = model.calibration.sample_pd(model.raw_log_odds(frame.iloc[job.test_idx]))
    dev = model.calibration.sample_pd(model.raw_log_odds(train)) if job.repeat == 0 else None
    return job, p, dev, time.monotonic() - started


def _seconds_left(
    pending: Sequence[_FoldJob], seconds: Mapping[str, Sequence[float]], workers: int
) -> float | None:
    """Wall seconds the pending jobs may take, each at its family's mean so far, spread over the workers; None
    while a pending family has no fold measured (families differ in cost: the bag fits five models a fold, and
    a guess from the cheap ones would promise too little). Jobs finish roughly in submission order."""
    if any(not seconds[job.candidate.name] for job in pending):
        return None
    return sum(float(np.mean(seconds[job.candidate.name])) for job in pending) / max(1, workers)


def default_workers() -> int:
    """One process per usable core (joblib counts the cgroup and affinity limits): LightGBM runs one thread per
    fit here, and folds are independent."""
    from joblib import cpu_count

    return max(1, cpu_count())


def evaluate_kfold(
    frame: pd.DataFrame,
    features: Sequence[str],
    target: str,
    candidates: Sequence[Candidate],
    *,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    classic: Mapping[str, ClassicScore] | None = None,
    target_rate: float | None = None,
    calibration_folds: int = 5,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> Evaluation:
    """Repeated stratified k-fold: identical folds for every candidate, exact duplicates in one fold.

    Headline figures are means over the folds x repeats with the corrected standard error; the calibration,
    grade and PSI figures are read on the first repeat's pooled out-of-fold PDs. Every (family, fold) fit is an
    independent job run on ``workers`` processes (joblib); the figures are the same for any number of them.
    ``progress`` hears one line per fitted fold (a family's fit can take minutes on a large table).
    """
    from joblib import Parallel, delayed

    frame = frame.reset_index(drop=True)
    y = frame[target].to_numpy(dtype=int)
    _check_trainable(y, "the table", folds)
    groups = duplicate_groups(frame[list(features)])
    splits = [stratified_group_kfold(y, groups, folds, seed + r) for r in range(repeats)]
    sizes = [(len(tr), len(te)) for split in splits for tr, te in split]
    n_train, n_test = float(np.mean([s[0] for s in sizes])), float(np.mean([s[1] for s in sizes]))
    # In the candidates' order, cheap families first: the first progress lines come within seconds (costliest
    # first would pack the processes a little tighter, after a minute or more of silence).
    jobs = [
        _FoldJob(candidate, r, fold, train_idx, test_idx)
        for candidate in candidates
        for r, split in enumerate(splits)
        for fold, (train_idx, test_idx) in enumerate(split, start=1)
    ]
    per_fold: dict[str, list[tuple[int, int, dict[str, float]]]] = {c.name: [] for c in candidates}
    oof = {c.name: np.full(len(y), np.nan) for c in candidates}
    dev: dict[str, list[tuple[int, np.ndarray]]] = {c.name: [] for c in candidates}
    seconds: dict[str, list[float]] = {c.name: [] for c in candidates}
    started = time.monotonic()
    run = Parallel(n_jobs=max(1, workers), return_as="generator_unordered")
    results = run(
        delayed(_run_fold)(job, frame, features, y, groups, seed, target_rate, calibration_folds)
        for job in jobs
    )
    for done, (job, p, dev_p, took) in enumerate(results, start=1):
        name = job.candidate.name
        figures_of_fold = _fold_figures(y[job.test_idx], p)
        per_fold[name].append((job.repeat, job.fold, figures_of_fold))
        seconds[name].append(took)
        if job.repeat == 0:
            oof[name][job.test_idx] = p
            dev[name].append((job.fold, dev_p))
        if progress is not None:
            left = _seconds_left(jobs[done:], seconds, workers)
            progress(
                f"[{done}/{len(jobs)}] {name}: repeat {job.repeat + 1}/{repeats}, fold {job.fold}/{folds}, "
                f"AUC {figures_of_fold['auc']:.3f} ({time.monotonic() - started:.0f}s in; "
                + (
                    f"about {left:.0f}s more)"
                    if left is not None
                    else "the rest is estimated after each family's first fold)"
                )
            )
    figures: dict[str, Any] = {}
    predictions, probabilities = {}, {}
    for candidate in candidates:
        name = candidate.name
        # Fold order, not finishing order: the summaries and the pooled development sample do not depend on
        # which process finished first.
        ordered = [f for _, _, f in sorted(per_fold[name], key=lambda item: item[:2])]
        development = np.concatenate([d for _, d in sorted(dev[name], key=lambda item: item[0])])
        pooled = validation_figures(y, oof[name], development)
        figures[name] = {
            "family": candidate.family,
            "params": _clean(dict(candidate.params)),
            "missing": candidate.missing,
            **pooled,
            **_clean(_summarise(ordered, n_train, n_test)),
            "fold_auc": [float(f["auc"]) for f in ordered],
            "n_train": int(round(n_train)),
            "n_test": int(len(y)),
            "positives": int(y.sum()),
        }
        predictions[name] = probabilities[name] = (y, oof[name])
    for name, score in (classic or {}).items():
        summary = classic_figures(score, y)
        if summary["available"]:
            per_fold = []
            for split in splits:
                for _, test_idx in split:
                    risk, labels = score.risk[test_idx], y[test_idx]
                    present = ~np.isnan(risk)
                    if present.sum() and labels[present].min() != labels[present].max():
                        per_fold.append({"auc": roc_auc(labels[present], risk[present])})
            if per_fold:
                summary["auc_se"] = corrected_standard_error([f["auc"] for f in per_fold], n_train, n_test)
            present = score.available()
            predictions[name] = (y[present], score.risk[present])
            if score.probability is not None:
                probabilities[name] = (y[present], score.probability[present])
        figures[name] = _clean(summary | {"n_test": int(len(y))})
    report = {
        "protocol": {
            "kind": "stratified_kfold",
            "folds": folds,
            "repeats": repeats,
            "seed": seed,
            "duplicates_in_one_fold": True,
            "standard_error": "Nadeau-Bengio corrected, over folds x repeats",
            "pd_scale": "sample (no prior shift): tested against the sample's outcomes",
        },
        "data": {
            "rows": int(len(y)),
            "positives": int(y.sum()),
            "features": list(features),
            "duplicate_rows": int(len(y) - len(np.unique(groups))),
        },
        "models": figures,
        "best": _best(figures, candidates),
    }
    return Evaluation(report, predictions, probabilities, {})


def report_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """One line per model (fitted families first, then the classic scores) for printing."""
    rows = []
    for name, figures in report["models"].items():
        available = figures.get("available", True)
        rows.append(
            {
                "model": name,
                "auc": figures.get("auc") if available else None,
                "auc_se": figures.get("auc_se"),
                "ar": figures.get("ar") if available else None,
                "ks": figures.get("ks") if available else None,
                "brier": figures.get("brier") if available else None,
                "n_train": figures.get("n_train"),
                "n_test": figures.get("n_available", figures.get("n_test")),
                "positives": figures.get("positives"),
                "note": "" if available else f"not available: {figures.get('reason', '')}",
            }
        )
    return pd.DataFrame(rows)
