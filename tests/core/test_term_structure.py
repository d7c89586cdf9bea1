"""The PD term structure: monotone in the horizon, year 1 = the served PD, fitted values reproducible, the fit
recovering known parameters."""

from __future__ import annotations

import numpy as np
import pytest

from risk_assets.core.term_structure import (
    FITTED,
    HORIZON_YEARS,
    TermStructure,
    fit,
    panel_inputs,
    validation_table,
)


def test_cumulative_pds_rise_with_the_horizon_and_start_at_the_served_pd() -> None:
    grid = np.concatenate([np.geomspace(1e-5, 0.99, 400), [0.0, 1.0]])
    cumulative = FITTED.cumulative(grid)
    assert cumulative.shape == (len(grid), HORIZON_YEARS)
    assert (np.diff(cumulative, axis=1) >= 0).all()
    assert np.allclose(cumulative[:-2, 0], grid[:-2])
    assert (cumulative <= 1).all() and (cumulative >= 0).all()  # 1 only by rounding, for PDs near 1
    marginal = FITTED.marginal(grid)
    assert np.allclose(marginal.sum(axis=1), cumulative[:, -1]) and (marginal >= 0).all()


def test_good_credits_hazards_rise_and_poor_credits_fall() -> None:
    good, poor = FITTED.hazards(0.001)[0], FITTED.hazards(0.30)[0]
    assert (np.diff(good) > 0).all() and (np.diff(poor) < 0).all()
    assert good[-1] < FITTED.long_run < poor[-1]


def test_the_fit_recovers_known_parameters() -> None:
    truth = TermStructure(rho=0.6, long_run=0.03)
    rng = np.random.default_rng(7)
    pd1 = np.clip(rng.beta(0.6, 25, size=40_000), 1e-4, 0.9)
    hazards = truth.hazards(pd1)
    draws = rng.random(hazards.shape) < hazards
    default_year = np.where(draws.any(axis=1), draws.argmax(axis=1) + 1.0, np.nan)
    observed = rng.integers(1, HORIZON_YEARS + 1, size=len(pd1)).astype(float)
    default_year = np.where(default_year <= observed, default_year, np.nan)  # censored after what is observed
    fitted = fit(pd1, default_year, observed)
    assert fitted.rho == pytest.approx(0.6, abs=0.05)
    assert fitted.long_run == pytest.approx(0.03, abs=0.004)


def test_refitting_on_the_bundled_panel_reproduces_the_served_parameters() -> None:
    rows = panel_inputs()
    refitted = fit(rows["pd1"], rows["default_year"], rows["observed_years"])
    assert refitted.rho == pytest.approx(FITTED.rho, abs=0.005)
    assert refitted.long_run == pytest.approx(FITTED.long_run, abs=0.0005)
    table = validation_table(FITTED, rows)
    overall = table[table["band"] == "all"].set_index("horizon")
    assert list(overall.index) == [1, 2, 3, 4, 5]
    # calibrated over the whole panel at every horizon, and ranking that fades with the horizon
    assert ((overall["predicted"] / overall["observed"]).between(0.9, 1.1)).all()
    assert overall["auc"].is_monotonic_decreasing and overall.loc[5, "auc"] > 0.6
