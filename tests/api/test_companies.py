"""Companies: search, paging edges, profile, statements (with a restatement), features, history and drivers.
Expected values come from the bundled data files (universe.csv, default_events.csv, SEC companyfacts)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from risk_assets.data import __file__ as data_init
from tests.api.conftest import bearer

DATA = Path(data_init).parent
UNIVERSE = list(csv.DictReader((DATA / "universe.csv").open()))
APPLE = "sec-0000320193"


def bundled_json(*parts: str) -> dict:
    with gzip.open(DATA.joinpath(*parts)) as handle:
        return json.load(handle)


def apple_fact(concept: str, end: str, accession: str) -> float:
    facts = bundled_json("sec", "companyfacts", "CIK0000320193.json.gz")
    values = [
        e["val"]
        for e in facts["facts"]["us-gaap"][concept]["units"]["USD"]
        if e["end"] == end and e["accn"] == accession
    ]
    assert values, (concept, end, accession)
    return float(values[0])


@pytest.fixture
def read(keys):
    return bearer(keys["reader"])


def test_list_is_the_bundled_universe_ordered_by_name(api, read):
    body = api.get("/v1/companies", headers=read).json()
    assert body["page"] == {"limit": 100, "offset": 0, "count": len(UNIVERSE), "total": len(UNIVERSE)}
    assert [c["company_id"] for c in body["items"]] == [
        row["company_id"] for row in sorted(UNIVERSE, key=lambda row: (row["name"], row["company_id"]))
    ]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("apple", {APPLE}),  # part of the name, any case
        ("APPLE INC", {APPLE}),
        ("aapl", {APPLE}),  # ticker, any case
        ("320193", {APPLE}),  # CIK without its zero padding
        ("0000320193", {APPLE}),
        ("00126380", {"dart-00126380"}),  # DART corp code
        ("dart-00126380", {"dart-00126380"}),  # company id
        ("%", set()),  # LIKE wildcards are literal
        ("_", set()),
        ("no such company", set()),
    ],
)
def test_search(api, read, q, expected):
    body = api.get("/v1/companies", params={"q": q}, headers=read).json()
    assert {c["company_id"] for c in body["items"]} == expected
    assert body["page"]["total"] == len(expected)


def test_search_by_sector_and_country(api, read):
    korean = api.get("/v1/companies", params={"country": "kr"}, headers=read).json()["items"]
    assert [c["company_id"] for c in korean] == [r["company_id"] for r in UNIVERSE if r["country"] == "KR"]
    services = api.get("/v1/companies", params={"sector": "Services"}, headers=read).json()["items"]
    # SIC 7000-8999 is Services: Disney (7990) and Hertz (7510) in the bundled universe
    assert {c["company_id"] for c in services} == {
        r["company_id"] for r in UNIVERSE if r["sic"] and 7000 <= int(r["sic"]) <= 8999
    }
    assert api.get("/v1/companies", params={"sector": "Nonsense"}, headers=read).status_code == 422


def test_paging_edges(api, read):
    total = len(UNIVERSE)
    last = api.get("/v1/companies", params={"limit": 5, "offset": total - 1}, headers=read).json()
    assert last["page"] == {"limit": 5, "offset": total - 1, "count": 1, "total": total}
    past = api.get("/v1/companies", params={"limit": 5, "offset": total}, headers=read).json()
    assert past["items"] == [] and past["page"]["count"] == 0 and past["page"]["total"] == total
    one = api.get("/v1/companies", params={"limit": 1}, headers=read).json()
    assert len(one["items"]) == 1
    pages = [
        api.get("/v1/companies", params={"limit": 4, "offset": o}, headers=read).json()["items"]
        for o in range(0, total, 4)
    ]
    assert [c["company_id"] for page in pages for c in page] == [
        c["company_id"] for c in api.get("/v1/companies", headers=read).json()["items"]
    ]
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "ten"}):
        response = api.get("/v1/companies", params=params, headers=read)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == f"query.{next(iter(params))}"


def test_profile(api, read):
    body = api.get(f"/v1/companies/{APPLE}", headers=read).json()
    assert body["company"]["name"] == "Apple Inc." and body["company"]["cik"] == "0000320193"
    assert body["on_watchlist"] is False
    latest = body["latest_score"]
    assert latest["kind"] == "current" and latest["company_id"] == APPLE
    # no older than the newest 10-K in the bundled companyfacts (fiscal 2025, filed 2025-10-31; a later 10-Q
    # counts too where quarterly statements are scored)
    assert latest["filed_at"] >= "2025-10-31" and latest["fiscal_year"] >= 2025
    features = body["latest_features"]
    assert (features["accession"], features["period_end"]) == (latest["accession"], latest["period_end"])
    # Attr2 = total liabilities / total assets (data/polish/attributes.csv), from the filed figures
    liabilities = apple_fact("Liabilities", latest["period_end"], latest["accession"])
    assets = apple_fact("Assets", latest["period_end"], latest["accession"])
    assert features["ratios"]["Attr2"] == pytest.approx(liabilities / assets, rel=1e-12)
    drivers = latest["drivers"]
    sizes = [abs(d["contribution"]) for d in drivers["contributions"]]
    assert sizes == sorted(sizes, reverse=True)


def test_profile_of_a_defaulted_company(api, read):
    submissions = bundled_json("sec", "submissions", "CIK0000945436.json.gz")
    recent = submissions["filings"]["recent"]
    bankruptcy_8k = [
        i for i, form in enumerate(recent["form"]) if form == "8-K" and "1.03" in recent["items"][i]
    ]
    assert bankruptcy_8k, "SunEdison's bundled submissions carry its 2016 Chapter 11 8-K (item 1.03)"
    latest = api.get("/v1/companies/sec-0000945436", headers=read).json()["latest_score"]
    assert (latest["grade"], latest["pd"], latest["in_default"]) == ("D", 1.0, True)


def test_unknown_company_everywhere(api, read):
    for path in ("", "/scores", "/statements", "/features", "/scores/2020-01-01/drivers"):
        response = api.get(f"/v1/companies/sec-9999999999{path}", headers=read)
        assert response.status_code == 404, path
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["status"] == 404 and "sec-9999999999" in problem["detail"]
        assert problem["instance"] == f"/v1/companies/sec-9999999999{path}"


def test_statements_by_period_and_the_2009_restatement(api, read):
    body = api.get(f"/v1/companies/{APPLE}/statements", params={"limit": 2}, headers=read).json()
    assert body["page"]["count"] == 2 and body["page"]["total"] > 2
    annual = [
        s
        for s in api.get(f"/v1/companies/{APPLE}/statements", params={"limit": 500}, headers=read).json()[
            "items"
        ]
        if s["form"] == "10-K"
    ]
    assert annual[0]["period_end"] == "2025-09-27"
    assert annual[0]["items"]["total_assets"] == apple_fact("Assets", "2025-09-27", "0000320193-25-000079")
    periods = [
        s["period_end"]
        for s in api.get(f"/v1/companies/{APPLE}/statements", params={"limit": 500}, headers=read).json()[
            "items"
        ]
    ]
    assert periods == sorted(periods, reverse=True) and len(periods) == len(set(periods))

    everything = api.get(
        f"/v1/companies/{APPLE}/statements", params={"all_versions": True, "limit": 500}, headers=read
    ).json()["items"]
    fy2009 = {s["accession"]: s["items"]["net_income"] for s in everything if s["period_end"] == "2009-09-26"}
    # docs/traps.md, "SEC EDGAR": 5,704m in the 10-K of 2009-10-27, 8,235m in the 10-K/A of 2010-01-25
    assert fy2009["0001193125-09-214859"] == apple_fact("NetIncomeLoss", "2009-09-26", "0001193125-09-214859")
    assert fy2009["0001193125-10-012091"] == apple_fact("NetIncomeLoss", "2009-09-26", "0001193125-10-012091")
    assert fy2009["0001193125-09-214859"] == 5_704_000_000
    latest_2009 = next(
        s
        for s in api.get(f"/v1/companies/{APPLE}/statements", params={"limit": 500}, headers=read).json()[
            "items"
        ]
        if s["period_end"] == "2009-09-26"
    )
    assert latest_2009["items"]["net_income"] == 8_235_000_000


def test_features_with_classic_scores(api, read):
    body = api.get(f"/v1/companies/{APPLE}/features", params={"limit": 1}, headers=read).json()
    row = body["items"][0]
    statement = next(
        s
        for s in api.get(
            f"/v1/companies/{APPLE}/statements", params={"all_versions": True, "limit": 500}, headers=read
        ).json()["items"]
        if s["accession"] == row["accession"] and s["period_end"] == row["period_end"]
    )
    items = statement["items"]
    ta = items["total_assets"]
    # Altman Z'' (1995): 6.56 WC/TA + 3.26 RE/TA + 6.72 EBIT/TA + 1.05 BV equity/TL
    z2 = (
        6.56 * (items["current_assets"] - items["current_liabilities"]) / ta
        + 3.26 * items["retained_earnings"] / ta
        + 6.72 * items["ebit"] / ta
        + 1.05 * items["total_equity"] / items["total_liabilities"]
    )
    classic = row["classic"]["altman_z_double_prime"]
    assert classic["value"] == pytest.approx(z2, rel=1e-9) or classic["value"] == pytest.approx(
        z2 + 3.25, rel=1e-9
    )
    # the market value is the annual report's public float, carried to this later statement (core: features)
    assert "public float" in row["market"]["market_value_source"]
    ratios = row["ratios"]
    z = (
        1.2 * ratios["wc_ta"]
        + 1.4 * ratios["re_ta"]
        + 3.3 * ratios["ebit_ta"]
        + 0.6 * ratios["mve_tl"]
        + 1.0 * ratios["sales_ta"]
    )
    assert row["classic"]["altman_z"]["value"] == pytest.approx(z, rel=1e-9)
    empty = api.get(f"/v1/companies/{APPLE}/features", params={"offset": 1000}, headers=read).json()
    assert empty["items"] == [] and empty["page"]["total"] == body["page"]["total"]


def test_score_history_and_drivers(api, read):
    history = api.get(f"/v1/companies/{APPLE}/scores", headers=read).json()
    assert history["company"]["name"] == "Apple Inc."
    dates = [s["as_of"] for s in history["scores"]]
    assert dates == sorted(dates) and all(s["kind"] == "period" for s in history["scores"])
    assert {s["fiscal_year"] for s in history["scores"]} >= {2009, 2025}
    assert (
        api.get(f"/v1/companies/{APPLE}/scores", params={"model_version": "999"}, headers=read).json()[
            "scores"
        ]
        == []
    )

    score = history["scores"][-1]
    detail = api.get(f"/v1/companies/{APPLE}/scores/{score['as_of']}/drivers", headers=read).json()
    assert (detail["pd"], detail["model_version"], detail["kind"]) == (
        score["pd"],
        score["model_version"],
        "period",
    )
    drivers = detail["drivers"]
    # additive drivers: base + listed contributions + the rest = the model's log-odds
    total = drivers["base"] + sum(d["contribution"] for d in drivers["contributions"]) + drivers["other"]
    assert total == pytest.approx(detail["log_odds"], abs=1e-9)
    for driver in drivers["contributions"]:
        assert driver["value"] == detail["feature_values"][driver["feature"]]
    missing = api.get(f"/v1/companies/{APPLE}/scores/1990-01-01/drivers", headers=read)
    assert missing.status_code == 404 and "1990-01-01" in missing.json()["detail"]
    assert api.get(f"/v1/companies/{APPLE}/scores/not-a-date/drivers", headers=read).status_code == 422
