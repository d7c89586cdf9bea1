"""The model families added for issue 5: WoE-binned logistic, LightGBM seed bags, a Platt fit that cannot diverge,
and PDs moved to another sample's default rate. Drivers must still add up to the raw log-odds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.binning import WoeBinning
from risk_assets.core.model import Calibration, PDModel, fit_platt, logit, sigmoid
from risk_assets.core.polish import load_polish
from risk_assets.core.ratios import MODEL_RATIOS


@pytest.fixture(scope="module")
def polish() -> pd.DataFrame:
    return load_polish(1).sample(1500, random_state=5).reset_index(drop=True)


@pytest.mark.parametrize(
    ("family", "params", "missing"),
    [
        ("logistic", {"C": 0.1, "transform": "woe"}, "native"),
        ("logistic", {"C": 0.1, "transform": "woe"}, "impute"),
        ("lightgbm", {"n_estimators": 40, "seeds": 3}, "native"),
        ("lightgbm", {"bag": [{"n_estimators": 30}, {"n_estimators": 20, "max_bin": 31}]}, "impute"),
    ],
)
def test_drivers_add_up_for_the_new_families(
    polish: pd.DataFrame, family: str, params: dict, missing: str
) -> None:
    model = PDModel(family, list(MODEL_RATIOS), dict(params), missing=missing).fit(
        polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=3
    )
    rows = polish.head(200)
    base, contributions = model.contributions(rows)
    assert np.max(np.abs(base + contributions.sum(axis=1).to_numpy() - model.raw_log_odds(rows))) < 1e-9
    scored = model.score(rows, top_drivers=3)
    assert scored["pd"].between(0, 1).all() and len(scored["drivers"].iloc[0]["contributions"]) == 3


def test_a_seed_bag_is_the_mean_of_its_members(polish: pd.DataFrame) -> None:
    y = polish["target"].to_numpy()
    bag = PDModel("lightgbm", list(MODEL_RATIOS), {"n_estimators": 30, "seeds": 2}).fit(
        polish, y, target_rate=0.02, calibration_folds=3, seed=11
    )
    singles = [
        PDModel("lightgbm", list(MODEL_RATIOS), {"n_estimators": 30}).fit(
            polish, y, target_rate=0.02, calibration_folds=3, seed=s
        )
        for s in (11, 12)
    ]
    rows = polish.head(50)
    expected = (singles[0].raw_log_odds(rows) + singles[1].raw_log_odds(rows)) / 2
    assert np.allclose(bag.raw_log_odds(rows), expected, atol=1e-12)


def test_woe_logistic_uses_the_binned_values(polish: pd.DataFrame) -> None:
    model = PDModel("logistic", list(MODEL_RATIOS), {"C": 0.1, "transform": "woe"}).fit(
        polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=3
    )
    assert isinstance(model.preprocessor.binning, WoeBinning)
    # Within one bin a ratio's value does not matter: two rows differing only inside a bin score the same.
    column = list(MODEL_RATIOS).index("Attr1")
    edges = model.preprocessor.binning.edges[column]
    row = polish.head(1).copy()
    a, b = row.copy(), row.copy()
    a["Attr1"], b["Attr1"] = edges[0] + 1e-6, edges[1] - 1e-6  # both in the second bin (edges[0], edges[1]]
    assert model.raw_log_odds(a)[0] == pytest.approx(model.raw_log_odds(b)[0], abs=1e-12)


def test_unknown_logistic_transform_is_refused(polish: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown logistic transform"):
        PDModel("logistic", list(MODEL_RATIOS), {"transform": "spline"}).fit(
            polish, polish["target"].to_numpy(), target_rate=0.02, calibration_folds=3
        )


def test_platt_converges_on_saturated_scores() -> None:
    # An overfitted model's raw scores: plain Newton steps from (1, 0) run off to slopes of ~1e10 here.
    rng = np.random.default_rng(0)
    raw = np.r_[rng.normal(-12, 4, 900), rng.normal(-2, 4, 100)]
    y = np.r_[np.zeros(900), np.ones(100)]
    slope, intercept = fit_platt(raw, y)
    assert 0 < slope < 5 and np.isfinite(intercept)
    # The maximum-likelihood logistic fit with an intercept reproduces the sample's default rate exactly.
    assert sigmoid(slope * raw + intercept).mean() == pytest.approx(0.1, abs=1e-8)


def test_pd_at_rate_moves_the_odds_from_the_sample_rate() -> None:
    calibration = Calibration(slope=0.8, intercept=-2.0, sample_rate=0.07, target_rate=0.02)
    raw = np.array([-4.0, 0.0, 3.0])
    assert np.allclose(calibration.pd_at_rate(raw, 0.07), calibration.sample_pd(raw))
    assert np.allclose(calibration.pd_at_rate(raw, 0.02), calibration.pd(raw))
    # ln(0.05/0.95) - ln(0.07/0.93) = -2.944439 - (-2.586689) = -0.357750
    shift = logit(calibration.pd_at_rate(raw, 0.05)) - logit(calibration.sample_pd(raw))
    assert np.allclose(shift, np.log(0.05 / 0.95) - np.log(0.07 / 0.93))


@pytest.mark.parametrize(
    ("cv_auc_and_se", "chosen"),
    [
        # listed_market on 2026-12-05: LightGBM ahead by 0.0001 with an SE of 0.0088 -> the scorecard
        (
            {
                "logistic_woe": (0.8224, 0.0079),
                "logistic_winsor": (0.8111, 0.0097),
                "lightgbm": (0.8225, 0.0088),
            },
            "logistic_woe",
        ),
        # the SME segment: LightGBM ahead by seven standard errors -> LightGBM
        (
            {
                "logistic_woe": (0.8401, 0.0090),
                "logistic_winsor": (0.8204, 0.0195),
                "lightgbm": (0.9125, 0.0095),
            },
            "lightgbm",
        ),
        # within the best's SE the order decides, not the AUC: the winsorised model precedes LightGBM
        (
            {"logistic_woe": (0.70, 0.01), "logistic_winsor": (0.795, 0.01), "lightgbm": (0.80, 0.01)},
            "logistic_winsor",
        ),
    ],
    ids=["listed-market-tie-keeps-scorecard", "sme-clear-win-takes-lightgbm", "order-decides-within-se"],
)
def test_a_family_is_chosen_over_a_simpler_one_only_when_it_wins_by_more_than_the_folds_noise(
    cv_auc_and_se: dict[str, tuple[float, float]], chosen: str
) -> None:
    from risk_assets.core.evaluation import simplest_within_one_se

    assert simplest_within_one_se(cv_auc_and_se) == chosen


def test_choosing_among_no_families_is_refused() -> None:
    from risk_assets.core.evaluation import simplest_within_one_se

    with pytest.raises(ValueError):
        simplest_within_one_se({})
