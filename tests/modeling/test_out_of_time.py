"""Out-of-time validation on a SYNTHETIC panel (tests/modeling/synthetic.py): no bundled data set has
defaults over time, so made-up companies carry the mechanics. Leakage is asserted on the actual frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.evaluation import build_panel, evaluate_out_of_time, product_candidates
from risk_assets.core.labels import label_rows
from risk_assets.core.splits import assert_no_leakage, out_of_time_split
from tests.modeling.synthetic import synthetic_panel

TEST_FROM = 2019
START = pd.Timestamp("2019-01-01")


@pytest.fixture(scope="module")
def panel():
    statements, events = synthetic_panel(companies=120)
    return build_panel(statements, events, horizon_months=12, reporting_lag_days=90)


def test_the_synthetic_panel_is_labelled_with_a_horizon(panel) -> None:
    frame = panel.frame
    assert frame["target"].sum() >= 20 and frame["year"].nunique() >= 10
    # Rows observed on or after a default are not training rows; the synthetic companies stop filing at their
    # default, so the only ones left out are statements whose t falls after the default date.
    first = panel.events.groupby("company_id")["event_date"].min()
    after = frame["company_id"].map(first)
    assert not (frame["t"] >= after).any()
    positives = frame[frame["target"] == 1]
    window_end = positives["t"] + pd.DateOffset(months=12)
    assert ((after[positives.index] > positives["t"]) & (after[positives.index] <= window_end)).all()


def test_out_of_time_split_leaks_nothing(panel) -> None:
    frame = panel.frame
    train, test = out_of_time_split(frame, "year", TEST_FROM, horizon_months=12, time_column="t")
    assert len(train) > 300 and len(test) > 100
    # Every test row is observed in the test period; every training row's whole label window closes before it.
    assert (test["t"] >= START).all()
    assert (train["t"] + pd.DateOffset(months=12) < START).all()
    assert set(train.index).isdisjoint(test.index)
    # No test-period event reaches training: relabelling the training rows with the events known before the test
    # period gives exactly the same targets.
    known = panel.events[pd.to_datetime(panel.events["event_date"]) < START]
    relabelled = label_rows(train[["company_id", "period_end", "filed_at"]], known, 12, 90)
    assert relabelled.index.equals(train.index)
    assert (relabelled["target"] == train["target"]).all()
    assert_no_leakage(train, test, "year", events=panel.events, time_column="t", horizon_months=12)
    # Without the purge the windows of late training rows look into the test period: the check names it.
    naive_train = frame[frame["year"] < TEST_FROM]
    assert len(naive_train) > len(train)
    with pytest.raises(AssertionError, match="label-window leak"):
        assert_no_leakage(naive_train, test, "year", events=panel.events, time_column="t", horizon_months=12)


def test_evaluate_out_of_time_trains_before_and_tests_after(panel) -> None:
    evaluation = evaluate_out_of_time(panel, TEST_FROM, product_candidates("native"), seed=1)
    report = evaluation.report
    train, test = out_of_time_split(panel.frame, "year", TEST_FROM, horizon_months=12, time_column="t")
    assert report["data"]["n_train"] == len(train) and report["data"]["n_test"] == len(test)
    for name in ("logistic_woe", "logistic_winsor", "lightgbm"):
        figures = report["models"][name]
        assert figures["n_train"] == len(train) and figures["n_test"] == len(test)
        assert figures["positives"] == int(test["target"].sum())
        assert 0.6 < figures["auc"] <= 1.0 and figures["ar"] == pytest.approx(2 * figures["auc"] - 1)
        assert len(figures["calibration_by_decile"]) >= 5 and figures["psi"] >= 0.0
        assert isinstance(figures["grades"]["monotone"], bool)
        y, p = evaluation.probabilities[name]
        assert np.array_equal(y, test["target"].to_numpy()) and np.all((p > 0) & (p < 1))
    # The synthetic statements carry market value and prior years: every classic score is computed.
    for name in ("altman_z", "altman_z_double_prime", "ohlson_o", "zmijewski"):
        assert report["models"][name]["available"] is True
        assert report["models"][name]["n_train"] == 0
