"""POST /v1/score: the same PD as the pipeline for the same statement, validation that names the field, the
model version that answered, and the champion cache (per version, alias re-read on an interval)."""

from __future__ import annotations

import numpy as np
import pytest

from api.schemas.scoring import MAX_SCORE_BATCH
from api.scoring import ChampionCache, ChampionUnavailable, score_matrix
from risk_assets.core.feature_table import ratio_frame
from risk_assets.storage.model_registry import ModelRegistry
from tests.api.conftest import bearer, settings_for

APPLE = "sec-0000320193"


@pytest.fixture
def score_key(keys):
    return bearer(keys["scorer"])


@pytest.fixture(scope="module")
def registry(api_home):
    settings = settings_for(api_home)
    return ModelRegistry(settings.mlflow_tracking_uri, settings.model_name, settings.mlflow_experiment)


def _items(statement: dict) -> dict:
    return {name: value for name, value in statement["items"].items() if value is not None}


def test_ad_hoc_score_equals_the_pipeline_score_of_the_same_filing(api, keys, score_key, registry):
    read = bearer(keys["reader"])
    listed = api.get(f"/v1/companies/{APPLE}/statements", params={"limit": 500}, headers=read).json()["items"]
    statements = [s for s in listed if (s.get("period_type") or "FY") == "FY"][
        :3
    ]  # annual statements, newest first
    newest, prior_years = statements[0], statements[1:3]
    assert [s["fiscal_year"] for s in statements] == [2025, 2024, 2023]
    stored = api.get(
        f"/v1/companies/{APPLE}/scores/{newest['filed_at']}/drivers", params={"kind": "period"}, headers=read
    ).json()
    body = {
        "statements": [
            {
                "reference": "apple-fy2025",
                "items": _items(newest),
                "fiscal_year": 2025,
                "prior_years": [_items(s) for s in prior_years],
            }
        ],
        "top_drivers": 5,
    }
    assert newest["items"]["market_value_equity"] > 0  # the 10-K cover's public float: the market segment
    response = api.post("/v1/score", json=body, headers=score_key)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_name"] == stored["model_name"] == "corporate_pd_listed_market"
    assert answer["model_version"] == stored["model_version"]
    result = answer["results"][0]
    assert result["segment"] == stored["segment"] == "listed_market"
    assert result["agency_band"] == stored["agency_band"]
    assert result["reference"] == "apple-fy2025"
    assert result["pd"] == pytest.approx(stored["pd"], rel=1e-12)
    assert result["log_odds"] == pytest.approx(stored["log_odds"], rel=1e-12)
    assert result["grade"] == stored["grade"]
    assert [d["feature"] for d in result["drivers"]["contributions"]] == [
        d["feature"] for d in stored["drivers"]["contributions"]
    ]
    for name, value in stored["feature_values"].items():
        if value is None:
            assert result["ratios"][name] is None, name
        else:
            assert result["ratios"][name] == pytest.approx(value, rel=1e-12), name
    drivers = result["drivers"]
    total = drivers["base"] + sum(d["contribution"] for d in drivers["contributions"]) + drivers["other"]
    assert total == pytest.approx(result["log_odds"], abs=1e-9)


def test_a_batch_scores_each_statement_independently(api, score_key):
    small = {
        "total_assets": 100.0,
        "total_liabilities": 95.0,
        "net_income": -20.0,
        "revenue": 50.0,
        "current_assets": 10.0,
        "current_liabilities": 60.0,
    }
    sound = {
        "total_assets": 100.0,
        "total_liabilities": 30.0,
        "net_income": 15.0,
        "revenue": 120.0,
        "current_assets": 60.0,
        "current_liabilities": 20.0,
        "retained_earnings": 50.0,
        "ebit": 20.0,
    }
    batch = [{"reference": "weak", "items": small}, {"reference": "sound", "items": sound}]
    together = api.post("/v1/score", json={"statements": batch}, headers=score_key).json()["results"]
    alone = [
        api.post("/v1/score", json={"statements": [entry]}, headers=score_key).json()["results"][0]
        for entry in batch
    ]
    assert [r["pd"] for r in together] == [r["pd"] for r in alone]
    assert together[0]["pd"] > together[1]["pd"]
    hundred = api.post(
        "/v1/score", json={"statements": [batch[1]] * 100, "top_drivers": 3}, headers=score_key
    )
    results = hundred.json()["results"]
    assert len(results) == 100 and len({r["pd"] for r in results}) == 1
    assert all(len(r["drivers"]["contributions"]) == 3 for r in results)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {"statements": [{"items": {"total_assets": 0}}]},
            "body.statements.0.items.total_assets",
            "greater than 0",
        ),
        ({"statements": [{"items": {"revenue": 5.0}}]}, "body.statements.0.items.total_assets", "required"),
        (
            {"statements": [{"items": {"total_assets": 1.0, "assets_total": 2.0}}]},
            "body.statements.0.items.assets_total",
            "Extra inputs",
        ),
        (
            {"statements": [{"items": {"total_assets": "a lot"}}]},
            "body.statements.0.items.total_assets",
            "valid number",
        ),
        (
            {"statements": [{"items": {"total_assets": 1.0, "revenue": 1e300}}]},
            "body.statements.0.items.revenue",
            "less than or equal",
        ),
        (
            {"statements": [{"items": {"total_assets": 1.0}, "prior_years": [{}, {}, {}]}]},
            "body.statements.0.prior_years",
            "at most 2",
        ),
        ({"statements": []}, "body.statements", "at least 1"),
        (
            {"statements": [{"items": {"total_assets": 1.0}}], "top_drivers": 0},
            "body.top_drivers",
            "greater than",
        ),
        ({"statement": [{"items": {"total_assets": 1.0}}]}, "body.statements", "required"),
    ],
)
def test_validation_names_the_field_and_the_reason(api, score_key, body, field, reason):
    response = api.post("/v1/score", json=body, headers=score_key)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    matching = [e for e in problem["errors"] if e["field"] == field]
    assert matching and reason in matching[0]["reason"], problem
    assert field in problem["detail"]


def test_non_finite_numbers_and_oversized_batches_are_refused(api, score_key):
    text = '{"statements": [{"items": {"total_assets": 1.0, "revenue": NaN}}]}'
    response = api.post("/v1/score", content=text, headers={**score_key, "content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.statements.0.items.revenue"
    too_many = {"statements": [{"items": {"total_assets": 1.0}}] * (MAX_SCORE_BATCH + 1)}
    response = api.post("/v1/score", json=too_many, headers=score_key)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.statements"


def test_the_fast_path_equals_pdmodel_score_on_every_bundled_filing(api_home, registry, warehouse):
    """score_matrix reads the LightGBM booster directly; PDModel.score is the reference."""
    _version, model = registry.load_champion()
    feats = warehouse.read("features")
    ratios = ratio_frame(feats).reindex(columns=model.feature_names).astype(float)
    reference = model.score(ratios, top_drivers=len(model.feature_names))
    fast = score_matrix(model, ratios.to_numpy())
    np.testing.assert_allclose(fast.pd, reference["pd"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(fast.log_odds, reference["log_odds"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(fast.out_of_domain, reference["out_of_domain"].to_numpy())
    assert fast.domain_notes == list(reference["domain_note"])
    for i, drivers in enumerate(reference["drivers"]):
        assert fast.base[i] == pytest.approx(drivers["base"], abs=1e-12)
        by_name = dict(zip(model.feature_names, fast.contributions[i], strict=True))
        for name, value in drivers["contributions"].items():
            assert by_name[name] == pytest.approx(value, abs=1e-12)


class FakeRegistry:
    model_name = "corporate_pd"

    def __init__(self) -> None:
        self.alias: str | None = "1"
        self.alias_reads = 0
        self.loads: list[str] = []
        self.down = False

    def champion_version(self) -> str | None:
        self.alias_reads += 1
        if self.down:
            raise ConnectionError("mlflow is down")
        return self.alias

    def load(self, version: str) -> str:
        self.loads.append(version)
        return f"model v{version}"


def test_champion_cache_rereads_the_alias_on_an_interval_and_loads_each_version_once():
    registry, now = FakeRegistry(), [0.0]
    cache = ChampionCache(lambda: registry, recheck_seconds=30, clock=lambda: now[0])
    assert cache.peek() is None  # nothing loaded: the caller must go through current() (MLflow)
    assert cache.current() == ("1", "model v1")
    assert cache.peek() == ("1", "model v1")
    now[0] = 29.0
    registry.alias = "2"
    assert cache.current() == ("1", "model v1") and registry.alias_reads == 1  # within the interval
    now[0] = 30.0
    assert cache.peek() is None  # a re-check is due
    assert cache.current() == ("2", "model v2")
    registry.alias = "1"
    now[0] = 60.0
    assert cache.current() == ("1", "model v1")
    assert registry.loads == ["1", "2"] and registry.alias_reads == 3
    registry.down = True
    now[0] = 120.0
    assert cache.current() == ("1", "model v1")  # MLflow down: the cached champion keeps answering


def test_no_champion_is_a_503_problem(api_app, keys):
    empty = FakeRegistry()
    empty.alias = None
    cache = ChampionCache(lambda: empty, recheck_seconds=30)
    with pytest.raises(ChampionUnavailable):
        cache.current()
    saved = dict(api_app.state.champions)
    api_app.state.champions.update({segment: cache for segment in saved})
    try:
        from fastapi.testclient import TestClient

        response = TestClient(api_app).post(
            "/v1/score",
            json={"statements": [{"items": {"total_assets": 1.0}}]},
            headers=bearer(keys["scorer"]),
        )
    finally:
        api_app.state.champions.update(saved)
    assert response.status_code == 503 and response.headers["retry-after"] == "60"
    assert "no champion" in response.json()["detail"]
