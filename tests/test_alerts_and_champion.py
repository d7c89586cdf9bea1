"""Alerts on a changed statement, and the champion gate through a real MLflow store, on a materialised copy."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from risk_assets.commands.graph import run_job
from risk_assets.core.evaluation import usable_features
from risk_assets.core.model import PDModel
from risk_assets.core.segments import SEGMENTS
from risk_assets.defs.modeling.assets import read_training_set
from risk_assets.settings import Settings
from risk_assets.storage.model_registry import ModelRegistry
from risk_assets.storage.objects import open_object_store
from risk_assets.storage.warehouse import Warehouse
from tests.support.statements import change_statement_in_place, latest_statement

HOME_DEPOT = "sec-0000354950"


def warehouse() -> Warehouse:
    return Warehouse(Settings.from_env().warehouse_url)


MARKET = "listed_market"  # the segment the bundled SEC filers are scored in


def registry() -> ModelRegistry:
    s = Settings.from_env()
    name = SEGMENTS[MARKET].registered_model(s.model_name)
    return ModelRegistry(s.mlflow_tracking_uri, name, s.mlflow_experiment, s.mlflow_artifact_root)


def test_a_worse_latest_statement_raises_exactly_one_alert_once(graph_copy: Path) -> None:
    store = warehouse()
    alerts_before = store.read("risk_alerts")
    latest = latest_statement(store, HOME_DEPOT)
    scores = store.read("risk_scores", where={"company_id": HOME_DEPOT, "kind": "period"}).sort_values(
        "as_of"
    )
    previous_pd = float(scores.iloc[-2]["pd"])

    # A loss year wiping out the equity: the latest filing, as the warehouse holds it, changed in place.
    assets = float(latest["total_assets"])
    loss = {
        "net_income": -0.25 * assets,
        "pretax_income": -0.25 * assets,
        "ebit": -0.2 * assets,
        "retained_earnings": -0.3 * assets,
        "total_equity": 0.01 * assets,
        "total_liabilities": 0.99 * assets,
        "operating_cash_flow": -0.1 * assets,
    }
    change_statement_in_place(store, latest, loss)
    assert run_job("rescore_all").success

    scores = store.read("risk_scores", where={"company_id": HOME_DEPOT, "kind": "period"}).sort_values(
        "as_of"
    )
    assert float(scores.iloc[-1]["pd"]) >= 2 * previous_pd + 0.005
    alerts_after = store.read("risk_alerts")
    new = alerts_after.merge(
        alerts_before[["company_id", "as_of", "model_version"]], how="left", indicator=True
    )
    new = new[new["_merge"] == "left_only"]
    assert list(new["company_id"]) == [HOME_DEPOT]
    assert str(new.iloc[0]["as_of"]) == str(latest["filed_at"])
    assert "pd_jump" in new.iloc[0]["reasons"] or "downgrade" in new.iloc[0]["reasons"]

    # Nothing new on a second run: the same scores carry no news.
    assert run_job("rescore_all").success
    again = store.read("risk_alerts")
    pd.testing.assert_frame_equal(
        again.sort_values(["company_id", "as_of"]).reset_index(drop=True),
        alerts_after.sort_values(["company_id", "as_of"]).reset_index(drop=True),
    )


def _register(model: PDModel, example: pd.DataFrame) -> str:
    reg = registry()
    reg.activate()
    with mlflow.start_run(run_name="test challenger"):
        return reg.log_model(model, example).version


def test_the_gate_keeps_a_worse_challenger_and_promotes_a_better_one(graph_copy: Path) -> None:
    store, reg = warehouse(), registry()
    champion_before = reg.champion_version()
    frame = read_training_set(open_object_store(Settings.from_env().object_store_url), MARKET)
    train = frame[~frame["holdout"]]
    decided = {"model_name": reg.model_name}

    # Worse: the same family fitted on shuffled labels (no signal).
    shuffled = np.random.default_rng(0).permutation(train["target"].to_numpy())
    features = usable_features(train, SEGMENTS[MARKET].features)
    worse = PDModel("logistic", features, {"C": 0.1}, missing="impute").fit(
        train, shuffled, target_rate=0.03, seed=1
    )
    worse_version = _register(worse, train)
    assert run_job("retrain", assets=["champion_model"]).success
    assert reg.champion_version() == champion_before
    decision = store.read("model_decisions", where={**decided, "challenger_version": worse_version}).iloc[0]
    assert decision["decision"] == "kept"
    assert decision["champion_version_after"] == champion_before
    assert decision["challenger_auc"] < decision["champion_auc"] - 0.01
    assert "below the champion's" in decision["reason"] and "DeLong" in decision["reason"]
    assert reg.version_info(worse_version).tags["gate_decision"] == "kept"

    # Better or equal: the champion's own model, registered again, passes the same rule.
    scores_before = store.read("risk_alerts")
    better_version = _register(reg.load(champion_before), train)
    assert run_job("retrain", assets=["champion_model"]).success
    assert reg.champion_version() == better_version
    decision = store.read("model_decisions", where={**decided, "challenger_version": better_version}).iloc[0]
    assert decision["decision"] == "promoted"
    assert decision["champion_version_before"] == champion_before
    assert abs(decision["challenger_auc"] - decision["champion_auc"]) < 1e-12

    # Rescoring history under the new champion adds rows, raises no alert.
    assert run_job("rescore_all").success
    new_rows = store.read(
        "risk_scores", where={"model_name": reg.model_name, "model_version": better_version}
    )
    assert len(new_rows) > 0
    assert len(store.read("risk_alerts")) == len(scores_before)
