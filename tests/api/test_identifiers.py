"""A company path parameter takes a company id, a ticker (any case), a CIK (any zero padding) or a DART corp code,
through the real app and warehouse; responses carry the canonical id; unknown and ambiguous names are 404s that
say what was tried."""

from __future__ import annotations

import pytest

from risk_assets.storage.warehouse import utc_now
from tests.api.conftest import bearer

APPLE, SAMSUNG = "sec-0000320193", "dart-00126380"


@pytest.fixture
def read(keys):
    return bearer(keys["reader"])


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("AAPL", APPLE),
        ("aapl", APPLE),  # a ticker in any case
        ("320193", APPLE),  # a CIK without its zero padding
        ("0000320193", APPLE),
        ("SEC-0000320193", APPLE),  # a company id in any case
        (APPLE, APPLE),
        ("005930", SAMSUNG),  # Samsung's KRX ticker (digits: also tried as a CIK, which matches nothing)
        ("00126380", SAMSUNG),  # a DART corp code
        (SAMSUNG, SAMSUNG),
    ],
)
def test_a_profile_by_any_identifier_is_the_canonical_profile(api, read, identifier, expected):
    response = api.get(f"/v1/companies/{identifier}", headers=read)
    assert response.status_code == 200, response.text
    assert response.json()["company"]["company_id"] == expected
    assert response.json() == api.get(f"/v1/companies/{expected}", headers=read).json()


@pytest.mark.parametrize("suffix", ["/scores", "/statements", "/features", "/scores?kind=current"])
def test_every_company_route_takes_a_ticker(api, read, suffix):
    by_ticker = api.get(f"/v1/companies/aapl{suffix}", headers=read)
    assert by_ticker.status_code == 200, by_ticker.text
    body = by_ticker.json()
    assert body == api.get(f"/v1/companies/{APPLE}{suffix}", headers=read).json()
    carried = body["company"]["company_id"] if "company" in body else body["company_id"]
    assert carried == APPLE
    assert body.get("items", body.get("scores")), "Apple has rows here"


def test_drivers_by_cik(api, read):
    history = api.get(f"/v1/companies/{APPLE}/scores", headers=read).json()["scores"]
    as_of = history[-1]["as_of"]
    by_cik = api.get(f"/v1/companies/320193/scores/{as_of}/drivers", headers=read)
    assert by_cik.status_code == 200, by_cik.text
    assert by_cik.json() == api.get(f"/v1/companies/{APPLE}/scores/{as_of}/drivers", headers=read).json()
    assert by_cik.json()["company_id"] == APPLE


@pytest.mark.parametrize(
    ("identifier", "tried"),
    [
        ("ZZZZ", "company id or ticker"),
        ("no-such-co", "company id or ticker"),
        ("1", "company id, ticker or CIK"),
        ("99999999", "company id, ticker, CIK or DART corp code"),
    ],
)
def test_an_unknown_identifier_is_a_404_naming_what_was_tried(api, read, identifier, tried):
    response = api.get(f"/v1/companies/{identifier}/statements", headers=read)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"unknown company {identifier!r}: no company matches it as a {tried}"
    assert response.json()["instance"] == f"/v1/companies/{identifier}/statements"


def test_an_unknown_company_id_is_still_a_404(api, read):
    response = api.get("/v1/companies/sec-9999999999", headers=read)
    assert response.status_code == 404 and response.json()["detail"] == "unknown company 'sec-9999999999'"


def test_the_key_is_checked_before_the_identifier(api, keys):
    assert api.get("/v1/companies/ZZZZ").status_code == 401
    assert api.get("/v1/companies/AAPL", headers=bearer(keys["scorer"])).status_code == 403
    assert api.get("/v1/companies/" + "A" * 41, headers=bearer(keys["reader"])).status_code == 422


def test_an_ambiguous_identifier_is_a_404_naming_the_candidates(fresh_api):
    """8 digits are both a DART corp code and a CIK: once an SEC filer with CIK 126380 joins the universe,
    '00126380' names two companies (and the cached resolution to Samsung is not served after the change)."""
    http, read = fresh_api.client, bearer(fresh_api.keys["reader"])
    assert http.get("/v1/companies/00126380", headers=read).json()["company"]["company_id"] == SAMSUNG
    fresh_api.warehouse.upsert(
        "companies",
        [
            {
                "company_id": "sec-0000126380",
                "name": "A Filer With CIK 126380",
                "ticker": "CIKX",
                "cik": "0000126380",
                "dart_corp_code": None,
                "country": "US",
                "currency": "USD",
                "is_financial": False,
                "source": "sec",
                "updated_at": utc_now(),
            }
        ],
    )
    ambiguous = http.get("/v1/companies/00126380", headers=read)
    assert ambiguous.status_code == 404
    assert ambiguous.json()["detail"] == (
        "ambiguous company '00126380': it names 2 companies (dart-00126380 by DART corp code; sec-0000126380 by "
        "CIK); use the company id"
    )
    # Fewer digits are only a CIK; the canonical ids and the tickers stay unambiguous.
    assert http.get("/v1/companies/126380", headers=read).json()["company"]["company_id"] == "sec-0000126380"
    assert http.get("/v1/companies/cikx", headers=read).json()["company"]["company_id"] == "sec-0000126380"
    assert http.get(f"/v1/companies/{SAMSUNG}", headers=read).status_code == 200


def test_acknowledge_an_alert_by_ticker(fresh_api):
    http, admin, read = fresh_api.client, bearer(fresh_api.keys["admin"]), bearer(fresh_api.keys["reader"])
    alert = http.get("/v1/alerts", params={"company_id": "sec-0001731289", "limit": 1}, headers=read).json()[
        "items"
    ][0]
    response = http.post(
        f"/v1/alerts/NKLA/{alert['as_of']}/{alert['model_version']}/acknowledge", headers=admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["company_id"] == "sec-0001731289" and response.json()["acknowledged_by"] == "admin"


def test_remove_from_the_watchlist_by_ticker_or_cik_of_a_company_not_yet_ingested(fresh_api):
    http, admin = fresh_api.client, bearer(fresh_api.keys["admin"])
    read = bearer(fresh_api.keys["reader"])

    def watched() -> set[str]:
        return {entry["company_id"] for entry in http.get("/v1/watchlist", headers=read).json()["items"]}

    assert http.post("/v1/watchlist", json={"ticker": "AAPL"}, headers=admin).status_code == 201
    # CIK 126380 is on the watchlist only (not in the universe): its 8-digit form is also Samsung's DART code.
    assert http.post("/v1/watchlist", json={"cik": "126380"}, headers=admin).status_code == 201
    assert {APPLE, "sec-0000126380"} <= watched()

    assert http.delete("/v1/watchlist/aapl", headers=admin).status_code == 204
    ambiguous = http.delete("/v1/watchlist/00126380", headers=admin)
    assert ambiguous.status_code == 404 and ambiguous.json()["detail"].startswith(
        "ambiguous company '00126380'"
    )
    assert http.delete("/v1/watchlist/126380", headers=admin).status_code == 204
    assert not {APPLE, "sec-0000126380"} & watched()
    gone = http.delete("/v1/watchlist/AAPL", headers=admin)
    assert gone.status_code == 404 and gone.json()["detail"] == f"{APPLE!r} is not on the watchlist"
