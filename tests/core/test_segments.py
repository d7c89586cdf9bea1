"""Segments: the rule that picks a company's model, and constraints that hold in every family."""

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.evaluation import MONOTONE_DIRECTIONS, listed_candidates
from risk_assets.core.model import PDModel
from risk_assets.core.ratios import POLISH_ALIASES
from risk_assets.core.segments import (
    LISTED_MARKET,
    LISTED_STATEMENTS,
    SEGMENTS,
    SME,
    UNCONSTRAINED_LISTED,
    choose_segment,
)


def test_choose_segment_records_why():
    segment, reason = choose_segment(
        listed=True, market_value=3.2e12, market_value_source="public float", source="SEC filer"
    )
    assert segment == LISTED_MARKET and "public float" in reason and "SEC filer" in reason
    assert choose_segment(listed=True, market_value=float("nan"))[0] == LISTED_STATEMENTS
    assert choose_segment(listed=True, market_value=None)[0] == LISTED_STATEMENTS
    assert choose_segment(listed=False, market_value=5e6)[0] == SME


def test_segments_have_distinct_models_and_no_aliases():
    names = {SEGMENTS[s].registered_model("corporate_pd") for s in SEGMENTS}
    assert names == {"corporate_pd", "corporate_pd_listed_market", "corporate_pd_listed_statements"}
    assert not set(POLISH_ALIASES) & set(SEGMENTS[SME].features)
    assert {"Attr8", "Attr17", "Attr7"} <= set(SEGMENTS[SME].monotone)
    assert (
        "mve_tl" in SEGMENTS[LISTED_MARKET].features and "mve_tl" not in SEGMENTS[LISTED_STATEMENTS].features
    )
    # the statement-only segment constrains size (no market size to interact with); the market one frees both
    assert "log_real_assets" in SEGMENTS[LISTED_STATEMENTS].monotone
    assert not UNCONSTRAINED_LISTED & set(SEGMENTS[LISTED_MARKET].monotone)


def _panel(seed: int = 3, n: int = 4000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    profit = rng.normal(0.05, 0.1, n)
    leverage = rng.uniform(0.1, 1.2, n)
    # a second, noisy copy of profit that a model could use to undo the first one's constraint
    echo = profit + rng.normal(0, 0.02, n)
    logit = -3.5 - 8 * profit + 2.0 * leverage + 3.0 * np.sin(12 * echo)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"profit": profit, "leverage": leverage, "echo": echo}), y


@pytest.mark.parametrize(
    "family,params",
    [
        ("logistic", {"transform": "woe"}),
        ("logistic", {"transform": "winsor"}),
        ("lightgbm", {"n_estimators": 80}),
    ],
)
def test_constrained_directions_hold_in_every_family(family, params):
    frame, y = _panel()
    directions = {"profit": -1, "leverage": 1, "echo": -1}
    model = PDModel(family, list(frame.columns), params, monotone=directions, missing="impute")
    model.fit(frame, y, target_rate=0.03, calibration_folds=3)
    grid = pd.DataFrame({"profit": np.linspace(-0.3, 0.4, 60), "leverage": 0.6, "echo": 0.05})
    assert np.all(np.diff(model.raw_log_odds(grid)) <= 1e-9)  # more profit never raises risk
    grid = pd.DataFrame(
        {"profit": 0.05, "leverage": np.linspace(0.0, 1.5, 60), "echo": np.linspace(-0.3, 0.4, 60)}
    )
    raw = model.raw_log_odds(grid.assign(echo=0.05))
    assert np.all(np.diff(raw) >= -1e-9)  # more leverage never lowers it
    raw_echo = model.raw_log_odds(grid.assign(leverage=0.6))
    assert np.all(np.diff(raw_echo) <= 1e-9)


def test_polish_inverse_leverage_is_constrained():
    assert MONOTONE_DIRECTIONS["Attr8"] == -1 and MONOTONE_DIRECTIONS["Attr17"] == -1


def test_listed_candidates_are_the_three_families():
    assert [c.family for c in listed_candidates()] == ["logistic", "logistic", "lightgbm"]
