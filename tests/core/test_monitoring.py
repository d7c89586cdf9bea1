"""Population stability: PSI of a score and of each feature, with missing values as their own bin."""

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.monitoring import feature_stability, psi_with_missing, score_stability, status_of


def test_same_distribution_is_stable_a_shift_is_not():
    rng = np.random.default_rng(2)
    dev = rng.normal(size=5000)
    assert psi_with_missing(dev, rng.normal(size=5000)) < 0.02
    assert psi_with_missing(dev, rng.normal(1.0, 1, 5000)) > 0.25


def test_a_feature_going_missing_is_a_shift():
    rng = np.random.default_rng(3)
    dev = rng.normal(size=4000)
    pop = rng.normal(size=4000)
    pop[:2000] = np.nan
    table = feature_stability(
        pd.DataFrame({"x": dev, "y": dev}), pd.DataFrame({"x": pop, "y": dev}), ["x", "y"]
    )
    by = table.set_index("feature")
    assert by.loc["x", "status"] == "shift" and by.loc["x", "missing_population"] == pytest.approx(0.5)
    assert by.loc["y", "status"] == "stable"


def test_statuses_and_score_stability():
    assert (status_of(0.05), status_of(0.1), status_of(0.3), status_of(float("nan"))) == (
        "stable",
        "watch",
        "shift",
        "unknown",
    )
    rng = np.random.default_rng(4)
    result = score_stability(rng.beta(1, 30, 3000), rng.beta(1, 10, 300))
    assert result["status"] == "shift" and result["n_population"] == 300
    assert score_stability([], [0.1])["status"] == "unknown"
