"""GET /v1/companies/{id}/peers: a company's PD and ratios as percentiles of its sector and size band, checked
against what the other routes serve (the scores list and the companies' profiles)."""

from __future__ import annotations

import pytest

from risk_assets.core.peers import MIN_PEERS
from tests.api.conftest import bearer

APPLE = "sec-0000320193"
WALMART = "sec-0000104169"


@pytest.fixture
def read(keys):
    return bearer(keys["reader"])


def test_apples_peers_are_manufacturers_and_its_pd_percentile_matches_the_scores(api, read):
    body = api.get(f"/v1/companies/{APPLE}/peers", headers=read).json()
    # too few manufacturers above $100bn on the bundled data: the group widens to the sector, and says so
    assert body["basis"] == "sector" and body["sector"] == "Manufacturing"
    assert body["size_band"] == "$100bn and over"
    assert APPLE not in body["peer_ids"] and body["peers"] == len(body["peer_ids"]) >= MIN_PEERS
    scores = {
        s["company_id"]: s for s in api.get("/v1/scores", params={"limit": 500}, headers=read).json()["items"]
    }
    for peer in body["peer_ids"]:
        profile = api.get(f"/v1/companies/{peer}", headers=read).json()
        assert profile["company"]["sector"] == "Manufacturing"
    peer_pds = [scores[p]["pd"] for p in body["peer_ids"] if scores[p]["pd"] is not None]
    mine = scores[APPLE]["pd"]
    expected = (
        100 * (sum(p < mine for p in peer_pds) + 0.5 * sum(p == mine for p in peer_pds)) / len(peer_pds)
    )
    by = {row["metric"]: row for row in body["metrics"]}
    assert by["pd"]["value"] == pytest.approx(mine) and by["pd"]["percentile"] == pytest.approx(expected)
    assert by["tl_ta"]["label"] == "Liabilities to assets"
    assert (
        by["tl_ta"]["formula"] == "total_liabilities / total_assets"
        and by["tl_ta"]["riskier_when"] == "higher"
    )
    for row in body["metrics"]:
        assert row["percentile"] is None or 0 <= row["percentile"] <= 100
        assert row["peers_with_value"] <= body["peers"]


def test_a_group_too_small_widens_to_every_scored_company(api, read):
    # four other retailers on the bundled data: fewer than MIN_PEERS
    body = api.get(f"/v1/companies/{WALMART}/peers", headers=read).json()
    assert body["basis"] == "all scored companies" and body["sector"] == "Wholesale & Retail Trade"
    total = len(api.get("/v1/scores", params={"limit": 500}, headers=read).json()["items"])
    assert body["peers"] == total - 1


def test_tickers_resolve_and_unknown_companies_are_404(api, read):
    by_ticker = api.get("/v1/companies/AAPL/peers", headers=read)
    assert by_ticker.status_code == 200 and by_ticker.json()["company_id"] == APPLE
    missing = api.get("/v1/companies/sec-0000000001/peers", headers=read)
    assert missing.status_code == 404 and missing.json()["detail"]
