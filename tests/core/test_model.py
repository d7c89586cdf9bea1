"""PD models: additive drivers, calibration on unseen rows, the prior shift, missing values, domain flags."""

import math

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.model import Calibration, PDModel, fit_platt, logit, sigmoid
from risk_assets.core.polish import load_polish
from risk_assets.core.ratios import MODEL_RATIOS


@pytest.fixture(scope="module")
def polish() -> pd.DataFrame:
    frame = load_polish(1)
    return frame.sample(2500, random_state=3).reset_index(drop=True)


@pytest.mark.parametrize("family", ["logistic", "lightgbm"])
@pytest.mark.parametrize("missing", ["native", "impute"])
def test_base_plus_contributions_equals_raw_log_odds(polish: pd.DataFrame, family: str, missing: str) -> None:
    params = {"C": 0.1} if family == "logistic" else {"n_estimators": 60}
    model = PDModel(family, list(MODEL_RATIOS), params, missing=missing).fit(
        polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=3
    )
    rows = polish.head(300)
    base, contributions = model.contributions(rows)
    raw = model.raw_log_odds(rows)
    assert np.max(np.abs(base + contributions.sum(axis=1).to_numpy() - raw)) < 1e-9
    scored = model.score(rows, top_drivers=5)
    for drivers, value in zip(scored["drivers"], scored["log_odds"], strict=True):
        total = drivers["base"] + sum(drivers["contributions"].values()) + drivers["other"]
        assert math.isclose(total, value, abs_tol=1e-9)
        assert len(drivers["contributions"]) == 5


def test_prior_shift_moves_the_odds_by_the_ratio_of_rates() -> None:
    calibration = Calibration(slope=1.0, intercept=0.0, sample_rate=0.0694, target_rate=0.02)
    # logit(0.02) - logit(0.0694) = ln(0.02/0.98) - ln(0.0694/0.9306) = -3.8918203 - (-2.5960000...) ~= -1.29582
    assert calibration.prior_shift == pytest.approx(math.log(0.02 / 0.98) - math.log(0.0694 / 0.9306))
    raw = np.array([-3.0, 0.0, 2.0])
    assert np.allclose(
        logit(calibration.pd(raw)) - logit(calibration.sample_pd(raw)), calibration.prior_shift
    )
    assert np.allclose(calibration.sample_pd(raw), sigmoid(raw))


def test_platt_recovers_a_known_map() -> None:
    rng = np.random.default_rng(7)
    raw = rng.normal(size=200_000)
    y = rng.random(raw.size) < sigmoid(0.6 * raw - 1.2)
    slope, intercept = fit_platt(raw, y)
    assert slope == pytest.approx(0.6, abs=0.02) and intercept == pytest.approx(-1.2, abs=0.02)


def test_calibration_is_fitted_on_rows_the_scoring_model_did_not_see(polish: pd.DataFrame) -> None:
    model = PDModel("lightgbm", list(MODEL_RATIOS), {"n_estimators": 60}).fit(
        polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=3
    )
    in_sample = model.raw_log_odds(polish)
    # Out-of-fold scores are less extreme than in-sample ones: the Platt map was fitted on the former.
    assert np.std(model.oof_raw_) < np.std(in_sample)
    sample = model.calibration.sample_pd(model.oof_raw_)
    assert sample.mean() == pytest.approx(polish["target"].mean(), abs=0.01)


def test_impute_ignores_gaps_native_uses_them(polish: pd.DataFrame) -> None:
    """In the Polish data a missing Attr21 (no prior-year sales) means ~96% bankrupt; the impute strategy
    must not read that signal, the native one does."""
    row = polish[polish["target"] == 0].head(1).copy()
    gap = row.copy()
    gap["Attr21"] = np.nan
    for missing, moves in (("impute", False), ("native", True)):
        model = PDModel("lightgbm", list(MODEL_RATIOS), {"n_estimators": 80}, missing=missing).fit(
            polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=3
        )
        median_row = row.copy()
        median_row["Attr21"] = np.nanmedian(polish["Attr21"])
        shift = model.raw_log_odds(gap)[0] - model.raw_log_odds(median_row)[0]
        assert bool(abs(shift) > 1.0) is moves, (missing, shift)


@pytest.mark.parametrize("column", ["Attr21", "Attr27"])
def test_imputed_gaps_leave_no_spike_at_the_median(polish: pd.DataFrame, column: str) -> None:
    """Trees fitted on median-filled gaps learn the gaps back at the median (Attr27: 7% of the rows, 31% of
    them bankrupt, all at a cover of 0.98), so a filer with a gap, or with that very value, gets the gaps' risk.
    Fitted on drawn fills, the median scores like its neighbours."""
    model = PDModel("lightgbm", list(MODEL_RATIOS), {}, missing="impute").fit(
        polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=2
    )
    rows = polish[polish["target"] == 0].head(300)
    observed = polish[column].dropna()

    def mean_raw(value: float) -> float:
        return float(model.raw_log_odds(rows.assign(**{column: value})).mean())

    neighbours = [mean_raw(observed.quantile(q)) for q in (0.4, 0.45, 0.55, 0.6)]
    at_median = mean_raw(float(observed.median()))
    assert min(neighbours) - 0.5 <= at_median <= max(neighbours) + 0.5, (at_median, neighbours)


def test_one_class_refused_and_unknown_family() -> None:
    frame = pd.DataFrame({name: [0.1, 0.2, 0.3, 0.4] for name in MODEL_RATIOS})
    with pytest.raises(ValueError, match="both defaults and non-defaults"):
        PDModel("logistic", list(MODEL_RATIOS)).fit(frame, np.zeros(4), target_rate=0.02)
    with pytest.raises(ValueError, match="unknown model family"):
        PDModel("svm", list(MODEL_RATIOS)).fit(
            frame, np.array([0, 1, 0, 1]), target_rate=0.02, calibration_folds=2
        )


def test_rows_far_outside_the_training_range_are_flagged(polish: pd.DataFrame) -> None:
    model = PDModel("logistic", list(MODEL_RATIOS), {"C": 0.1}, missing="impute").fit(
        polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=3
    )
    typical = polish.head(50)
    flags, _ = model.check_domain(typical)
    assert flags.mean() < 0.2
    extreme = typical.head(1).copy()
    extreme[list(MODEL_RATIOS)] = 1e9
    empty = typical.head(1).copy()
    empty[list(MODEL_RATIOS)] = np.nan
    flags, notes = model.check_domain(pd.concat([extreme, empty]))
    assert flags.tolist() == [True, True]
    assert "outside training range" in notes[0] and "of features available" in notes[1]


def test_curved_platt_is_kept_only_when_the_data_bends_and_stays_increasing():
    from risk_assets.core.model import Calibration, fit_curved_platt

    rng = np.random.default_rng(9)
    raw = rng.normal(-3, 0.8, 40000)
    straight_y = (rng.uniform(size=raw.size) < 1 / (1 + np.exp(-raw))).astype(int)
    assert fit_curved_platt(raw, straight_y)[2] == 0.0
    bent = -3 + 0.8 * (raw + 3) + 0.1 * (raw + 3) ** 2  # steeper at the high end, increasing throughout
    bent_y = (rng.uniform(size=raw.size) < 1 / (1 + np.exp(-bent))).astype(int)
    slope, intercept, curvature = fit_curved_platt(raw, bent_y)
    assert curvature == pytest.approx(0.1, abs=0.05)
    calibration = Calibration(slope, intercept, 0.05, 0.05, curvature, float(raw.min()), float(raw.max()))
    grid = np.linspace(raw.min() - 5, raw.max() + 5, 400)
    assert np.all(np.diff(calibration.pd(grid)) > 0)  # increasing inside and beyond the fitted range


@pytest.mark.parametrize("family", ["logistic", "lightgbm"])
def test_drivers_are_computed_only_for_the_rows_asked_for(polish: pd.DataFrame, family: str) -> None:
    params = {"C": 0.1} if family == "logistic" else {"n_estimators": 60}
    model = PDModel(family, list(MODEL_RATIOS), params).fit(
        polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=3
    )
    rows = polish.head(300)
    everything = model.score(rows)
    explain = np.arange(len(rows)) % 4 == 1
    part = model.score(rows, explain=explain)
    # explained rows: what scoring every row gives, to the bit
    assert list(part["drivers"][explain]) == list(everything["drivers"][explain])
    assert part["log_odds"][explain].tolist() == everything["log_odds"][explain].tolist()
    # the others: no drivers, the model's own log-odds and PD (equal to base + contributions up to rounding)
    assert part["drivers"][~explain].isna().all()
    assert part["log_odds"][~explain].tolist() == model.raw_log_odds(rows[~explain]).tolist()
    assert part["pd"][~explain].tolist() == model.predict_pd(rows[~explain]).tolist()
    np.testing.assert_allclose(part["log_odds"], everything["log_odds"], rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(
        part[["out_of_domain", "domain_note"]], everything[["out_of_domain", "domain_note"]]
    )
    assert model.score(rows, explain=np.zeros(len(rows), dtype=bool))["drivers"].isna().all()
    with pytest.raises(ValueError, match="explain has"):
        model.score(rows, explain=explain[:-1])
