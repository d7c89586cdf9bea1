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


def test_stability_over_time_dates_the_shift():
    from risk_assets.core.monitoring import SMALL_SAMPLE, stability_over_time

    rng = np.random.default_rng(11)
    development = pd.DataFrame({"x": rng.normal(size=4000)})
    development_pd = 1 / (1 + np.exp(-(development["x"].to_numpy() - 4)))

    def year(label: int, n: int, shift: float) -> pd.DataFrame:
        x = rng.normal(shift, 1, n)
        return pd.DataFrame(
            {
                "as_of": pd.Timestamp(f"{label}-06-30"),
                "company_id": [f"c{i % 50}" for i in range(n)],
                "model_pd": 1 / (1 + np.exp(-(x - 4))),
                "x": x,
            }
        )

    scored = pd.concat([year(2021, 3000, 0.0), year(2022, 3000, 1.0), year(2023, 40, 0.0)])
    points = stability_over_time(development_pd, development, scored, ["x"])
    assert [p["year"] for p in points] == [2021, 2022, 2023]
    first, second, third = points
    assert first["pd_status"] == "stable" and first["features_shift"] == 0 and not first["small_sample"]
    assert (
        second["pd_status"] == "shift" and second["features_shift"] == 1 and second["largest_feature"] == "x"
    )
    assert second["largest_psi"] == pytest.approx(
        second["pd_psi"], rel=0.2
    )  # the PD moves with its one input
    assert third["scores"] == 40 < SMALL_SAMPLE and third["small_sample"] and third["companies"] == 40
    assert stability_over_time(development_pd, development, scored.iloc[0:0], ["x"]) == []
