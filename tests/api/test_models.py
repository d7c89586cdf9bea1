"""Models: the champion and recent versions with MLflow metrics, the gate's decision and links."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from risk_assets.storage.model_registry import ModelRegistry
from risk_assets.storage.schema import model_decisions
from tests.api.conftest import bearer, settings_for


@pytest.fixture(scope="module")
def registry(api_home):
    settings = settings_for(api_home)
    return ModelRegistry(settings.mlflow_tracking_uri, settings.model_name, settings.mlflow_experiment)


def test_champion_and_versions(api, keys, registry, warehouse):
    body = api.get("/v1/models", headers=bearer(keys["reader"])).json()
    champion = registry.champion_version()
    assert body["name"] == "corporate_pd" and body["champion_version"] == champion
    entry = body["champion"]
    assert entry["version"] == champion and entry["is_champion"] and "champion" in entry["aliases"]
    version = registry.version_info(champion)
    run = registry.client.get_run(version.run_id)
    assert entry["metrics"] == pytest.approx(dict(run.data.metrics))
    assert 0.75 <= entry["metrics"]["holdout_auc"] <= 1.0  # the gate's AUC floor
    assert entry["tags"]["family"] == version.tags["family"]
    with warehouse.engine.connect() as conn:
        decision = (
            conn.execute(
                sa.select(model_decisions).where(
                    model_decisions.c.challenger_version == champion,
                    model_decisions.c.model_name == "corporate_pd",
                )
            )
            .mappings()
            .one()
        )
    assert entry["decision"]["decision"] == decision["decision"] == "promoted"
    assert entry["decision"]["challenger_auc"] == pytest.approx(decision["challenger_auc"])
    links = entry["links"]
    assert links["model_uri"] == f"models:/corporate_pd/{champion}"
    assert links["run_id"] == version.run_id and links["run_uri"] == f"runs:/{version.run_id}/model"
    # a local (sqlite) store: its path stays private, and there is no UI to link to
    assert links["tracking_uri"] is None and links["run_ui"] is None
    versions = [v["version"] for v in body["versions"]]
    assert versions == sorted(versions, key=int, reverse=True) and champion in versions
    one = api.get(f"/v1/models/{champion}", headers=bearer(keys["reader"])).json()
    assert one["version"] == champion and one["metrics"] == entry["metrics"]


def test_each_segment_has_its_registered_model_and_champion(api, keys):
    body = api.get("/v1/models/segments", headers=bearer(keys["reader"])).json()
    by = {item["segment"]: item for item in body["items"]}
    assert set(by) == {"listed_market", "listed_statements", "sme"}
    assert by["listed_market"]["model_name"] == "corporate_pd_listed_market"
    assert by["sme"]["model_name"] == "corporate_pd"
    for item in by.values():
        assert item["champion_version"] and item["champion"]["is_champion"] and item["features"]
        assert item["champion"]["tags"]["segment"] == item["segment"]
    listed = api.get("/v1/models", params={"segment": "listed_market"}, headers=bearer(keys["reader"])).json()
    assert listed["name"] == "corporate_pd_listed_market"
    assert float(listed["champion"]["tags"]["oot_ar"]) > float(listed["champion"]["tags"]["oot_altman_z_ar"])
    bad = api.get("/v1/models", params={"segment": "banks"}, headers=bearer(keys["reader"]))
    assert bad.status_code == 422


def test_unknown_version_and_bad_ids(api, keys):
    read = bearer(keys["reader"])
    missing = api.get("/v1/models/999", headers=read)
    assert missing.status_code == 404 and "999" in missing.json()["detail"]
    assert api.get("/v1/models/latest", headers=read).status_code == 422
    assert api.get("/v1/models", params={"limit": 0}, headers=read).status_code == 422


def test_http_tracking_links(api_app, keys, monkeypatch):
    """With an HTTP tracking server the links point at its UI, and credentials in its URL never leak."""
    from api.routers.models import _public_tracking_uri

    assert (
        _public_tracking_uri("https://user:secret@mlflow.example.com:8443/")
        == "https://mlflow.example.com:8443"
    )
    assert _public_tracking_uri("mysql+pymysql://riskgraph:pw@mysql:3306/mlflow") is None
    assert _public_tracking_uri("sqlite:////var/lib/riskgraph/mlflow.db") is None


def test_population_stability_per_segment_is_served(api, keys):
    body = api.get("/v1/models/stability", headers=bearer(keys["reader"])).json()
    by = {item["segment"]: item for item in body["items"]}
    assert "listed_market" in by
    market = by["listed_market"]
    assert market["model"] == "corporate_pd_listed_market" and market["companies"] >= 10
    statuses = {row["feature"]: row["status"] for row in market["features"]}
    assert statuses["log_real_assets"] == "shift"  # mega-caps against a small-cap panel
    assert set(statuses.values()) <= {"stable", "watch", "shift", "unknown"}
    assert market["score"]["status"] in {"stable", "watch", "shift"}
    assert (
        market["history_recomputed_left_out"] == 0
    )  # every filing's features are the ones it was scored from
    # PSI over time: the champion's filing scores year by year, oldest first, small samples flagged
    years = [point["year"] for point in market["history"]]
    assert years == sorted(set(years)) and len(years) >= 10
    for point in market["history"]:
        assert point["scores"] >= point["companies"] >= 1
        assert point["small_sample"] == (point["scores"] < 100)
        assert point["pd_status"] in {"stable", "watch", "shift"} and point["pd_psi"] >= 0
