"""Drivers of older filing scores: stored without them (only the overlay terms) and without their feature values
(only their digest), served by GET /v1/companies/{id}/scores/{as_of}/drivers from the filing's features row with
the score's own model version, equal to what scoring computes for that row, also once that version is no longer
the champion; refused when the features row no longer holds the values scored."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.commands.graph import run_job
from risk_assets.core.evaluation import usable_features
from risk_assets.core.feature_table import ratio_frame
from risk_assets.core.model import PDModel
from risk_assets.core.segments import SEGMENTS
from risk_assets.defs.modeling.assets import read_training_set
from risk_assets.derive.scores import _predict
from risk_assets.storage.model_registry import ModelRegistry
from risk_assets.storage.objects import open_object_store
from risk_assets.storage.schema import features as features_table
from risk_assets.storage.warehouse import Warehouse
from tests.api.conftest import bearer, settings_for

APPLE = "sec-0000320193"
MARKET = "listed_market"


def _registry(settings, model_name: str) -> ModelRegistry:
    return ModelRegistry(
        settings.mlflow_tracking_uri, model_name, settings.mlflow_experiment, settings.mlflow_artifact_root
    )


def _scoring_time_drivers(warehouse: Warehouse, model: PDModel, rows: pd.DataFrame) -> dict[str, dict]:
    """Drivers as the scoring asset computes them (its _predict, every row explained) for the filing scores
    ``rows``, from their feature rows' ratios in one batch; by accession."""
    feats = warehouse.read("features", where={"company_id": APPLE})
    feats = feats.assign(period_end=pd.to_datetime(feats["period_end"]).dt.date.astype(str))
    wanted = rows.assign(period_end=pd.to_datetime(rows["period_end"]).dt.date.astype(str))
    found = wanted[["accession", "period_end"]].merge(feats, on=["accession", "period_end"], how="left")
    assert found["computed_at"].notna().all()  # every filing score has its feature row
    frame = ratio_frame(found).reindex(columns=model.feature_names).astype(float)
    out = _predict(model, frame, MARKET)
    return {a: json.loads(d) for a, d in zip(found["accession"], out["drivers"], strict=True)}


def _served(client, headers, row) -> dict:
    response = client.get(
        f"/v1/companies/{APPLE}/scores/{row['as_of']}/drivers",
        params={"model_version": row["model_version"], "kind": "period"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _assert_same(served: dict, expected: dict) -> None:
    drivers = served["drivers"]
    assert drivers["base"] == expected["base"] and drivers["other"] == expected["other"]
    assert {d["feature"]: d["contribution"] for d in drivers["contributions"]} == expected["contributions"]
    total = drivers["base"] + sum(d["contribution"] for d in drivers["contributions"]) + drivers["other"]
    assert total == pytest.approx(served["log_odds"], abs=1e-9)
    for driver in drivers["contributions"]:
        assert driver["value"] == served["feature_values"][driver["feature"]]


def _apple_market_scores(warehouse: Warehouse, version: str) -> pd.DataFrame:
    scores = warehouse.read(
        "risk_scores", where={"company_id": APPLE, "kind": "period", "model_version": version}
    )
    return scores[scores["segment"] == MARKET].sort_values("as_of").reset_index(drop=True)


def test_an_older_filing_scores_drivers_are_what_scoring_computes(api, keys, warehouse, api_home):
    settings = settings_for(api_home)
    version, model = _registry(
        settings, SEGMENTS[MARKET].registered_model(settings.model_name)
    ).load_champion()
    scores = _apple_market_scores(warehouse, version)
    kept = scores["drivers"].map(lambda t: "base" in json.loads(t))
    older = scores[~kept]
    assert len(older) >= 3  # older filings keep only their overlay terms
    expected = _scoring_time_drivers(warehouse, model, older)
    read = bearer(keys["reader"])
    for row in older.to_dict("records"):
        served = _served(api, read, row)
        _assert_same(served, expected[row["accession"]])
        assert served["drivers"]["overlay"] == json.loads(row["drivers"])["overlay"]
        assert served["log_odds"] == row["log_odds"]


def test_a_retired_model_versions_scores_get_that_versions_drivers(fresh_api):
    settings = settings_for(fresh_api.home)
    registry = _registry(settings, SEGMENTS[MARKET].registered_model(settings.model_name))
    old_version, old_model = registry.load_champion()
    # Another model for the segment, promoted without the gate; history is rescored under it.
    train = read_training_set(open_object_store(settings.object_store_url), MARKET)
    train = train[~train["holdout"]]
    features = usable_features(train, SEGMENTS[MARKET].features)
    other = PDModel("lightgbm", features, {"n_estimators": 25, "num_leaves": 4}, missing="impute").fit(
        train, train["target"].to_numpy(), target_rate=0.03, calibration_folds=3
    )
    registry.activate()
    with mlflow.start_run(run_name="test: another champion"):
        new_version = registry.log_model(other, train).version
    registry.set_champion(new_version)
    assert run_job("rescore_all").success

    store = fresh_api.warehouse
    old_scores = _apple_market_scores(store, old_version)
    old_scores = old_scores[~old_scores["drivers"].map(lambda t: "base" in json.loads(t))]
    assert len(old_scores) >= 3 and len(_apple_market_scores(store, new_version)) > 0
    expected = _scoring_time_drivers(store, old_model, old_scores)
    under_new = _scoring_time_drivers(store, registry.load(new_version), old_scores)
    read = bearer(fresh_api.keys["reader"])
    for row in old_scores.to_dict("records"):
        served = _served(fresh_api.client, read, row)
        assert served["model_version"] == old_version
        _assert_same(served, expected[row["accession"]])
        assert served["drivers"]["base"] != under_new[row["accession"]]["base"]  # not the champion's drivers


def test_an_older_filing_score_whose_features_were_recomputed_since_is_not_explained(fresh_api):
    """Its digest no longer matches the features row: 409, not drivers of values it was never scored from."""
    settings = settings_for(fresh_api.home)
    version, model = _registry(
        settings, SEGMENTS[MARKET].registered_model(settings.model_name)
    ).load_champion()
    store = fresh_api.warehouse
    scores = _apple_market_scores(store, version)
    row = scores[~scores["drivers"].map(lambda t: "base" in json.loads(t))].iloc[0].to_dict()
    assert row["feature_values"] is None and row["feature_digest"]
    read = bearer(fresh_api.keys["reader"])
    assert _served(fresh_api.client, read, row)["drivers"][
        "contributions"
    ]  # explained while the row is as scored

    filing = sa.and_(
        features_table.c.company_id == APPLE,
        features_table.c.period_end == pd.Timestamp(row["period_end"]).date(),
        features_table.c.accession == row["accession"],
    )
    with store.engine.begin() as conn:
        values = conn.execute(
            sa.select(*[features_table.c[n] for n in model.feature_names]).where(filing)
        ).one()
        name = next(n for n, v in zip(model.feature_names, values, strict=True) if v is not None)
        changed = conn.execute(
            sa.update(features_table).where(filing).values({name: features_table.c[name] + 1.0})
        ).rowcount
    assert changed == 1
    response = fresh_api.client.get(
        f"/v1/companies/{APPLE}/scores/{row['as_of']}/drivers",
        params={"model_version": row["model_version"], "kind": "period"},
        headers=read,
    )
    assert response.status_code == 409, response.text
    assert "recomputed after it was scored" in response.text
