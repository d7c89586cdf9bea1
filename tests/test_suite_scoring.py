"""The segment suite as served, on the materialised bundled graph: overlays, insufficient data, stability."""

from __future__ import annotations

import json
from pathlib import Path

from risk_assets.core.master_scale import agency_band
from risk_assets.settings import Settings
from risk_assets.storage.objects import open_object_store
from risk_assets.storage.warehouse import Warehouse

SAMSUNG = "dart-00126380"


def warehouse() -> Warehouse:
    return Warehouse(Settings.from_env().warehouse_url)


def test_stale_statements_raise_the_current_pd_and_say_why(graph_env: Path) -> None:
    current = warehouse().read("risk_scores", where={"company_id": SAMSUNG, "kind": "current"}).iloc[-1]
    drivers = json.loads(current["drivers"])
    terms = {term["name"]: term for term in drivers["overlay"]}
    # Samsung's newest statement was filed in March 2024: more than 15 months before any scoring date since mid-2025
    assert "stale_statements" in terms and "filed" in terms["stale_statements"]["reason"]
    assert current["pd"] > current["model_pd"]
    assert (
        agency_band(current["pd"]) != agency_band(current["model_pd"])
        or current["pd"] > 1.5 * current["model_pd"]
    )


def test_population_stability_is_measured_per_segment(graph_env: Path) -> None:
    from risk_assets.core.monitoring import STABILITY_KEY

    objects = open_object_store(Settings.from_env().object_store_url)
    figures = json.loads(objects.get(STABILITY_KEY))
    assert {"listed_market", "listed_statements"} <= set(figures)
    market = figures["listed_market"]
    assert market["model"] == "corporate_pd_listed_market" and market["companies"] >= 10
    names = {row["feature"] for row in market["features"]}
    assert {"mve_tl", "tl_ta", "log_real_assets"} <= names
    # fourteen mega and large caps against a small-cap panel: size has shifted, and the check says so
    size = next(row for row in market["features"] if row["feature"] == "log_real_assets")
    assert size["status"] == "shift" and size["psi"] > 0.25


def test_psi_history_reads_a_capped_sample_of_companies_the_same_every_run() -> None:
    import pandas as pd

    from risk_assets.defs.scoring.checks import HISTORY_COMPANIES, _history_companies

    market = pd.Series([f"c{i:06d}" for i in range(HISTORY_COMPANIES * 2 + 7)])
    picked = _history_companies(market)
    assert len(picked) == len(set(picked)) == HISTORY_COMPANIES and set(picked) <= set(market)
    assert (
        _history_companies(market.sample(frac=1, random_state=3)) == picked
    )  # order of reading is no matter
    assert picked != sorted(market)[:HISTORY_COMPANIES]  # drawn across the market, not the first ids by name
    assert _history_companies(market[:12]) == sorted(market[:12])  # a small market is read whole
