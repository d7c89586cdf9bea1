"""Scores across the portfolio: latest and as-of lists with filters, sorting and paging, grade migration and the
portfolio summary. Defaults are known from the bundled filings (SEC 8-K item 1.03)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from risk_assets.data import __file__ as data_init
from tests.api.conftest import bearer

UNIVERSE = list(csv.DictReader((Path(data_init).parent / "universe.csv").open()))
# Nikola (Chapter 11 in 2025) and SunEdison (2016): item 1.03 8-Ks in their bundled submissions
IN_DEFAULT = {"sec-0001731289", "sec-0000945436"}


@pytest.fixture
def read(keys):
    return bearer(keys["reader"])


def scores(api, read, **params):
    response = api.get("/v1/scores", params={"limit": 500, **params}, headers=read)
    assert response.status_code == 200, response.text
    return response.json()


def test_latest_scores_riskiest_first(api, read):
    body = scores(api, read)
    items = body["items"]
    assert {i["company_id"] for i in items} == {r["company_id"] for r in UNIVERSE}
    assert body["as_of"] is None and body["model_version"] is None
    pds = [i["pd"] for i in items]
    assert pds == sorted(pds, reverse=True)
    assert {i["company_id"] for i in items if i["grade"] == "D"} == IN_DEFAULT
    assert all(i["kind"] == "current" for i in items)


def test_filters(api, read):
    assert {i["company_id"] for i in scores(api, read, grade="D")["items"]} == IN_DEFAULT
    both = scores(api, read, grade=["D", "1"])["items"]
    assert {i["grade"] for i in both} <= {"D", "1"} and {i["company_id"] for i in both} >= IN_DEFAULT
    retail = scores(api, read, sector="Wholesale & Retail Trade")["items"]
    # SIC 5000-5999: Home Depot, McDonald's, Costco, Walmart
    assert {i["company_id"] for i in retail} == {
        r["company_id"] for r in UNIVERSE if r["sic"] and 5000 <= int(r["sic"]) <= 5999
    }
    band = scores(api, read, pd_min=0.001, pd_max=0.01)["items"]
    assert band and all(0.001 <= i["pd"] <= 0.01 for i in band)
    assert scores(api, read, pd_min=0.5, pd_max=0.4)["items"] == []
    assert scores(api, read, grade="4", sector="Services", pd_min=0.9)["page"]["total"] == 0
    for params in (
        {"grade": "11"},
        {"pd_min": 1.5},
        {"pd_max": -0.1},
        {"sort": "risk"},
        {"as_of": "yesterday"},
    ):
        response = api.get("/v1/scores", params=params, headers=read)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"].startswith("query.")


def test_sorting_and_paging(api, read):
    by_name = [i["name"] for i in scores(api, read, sort="name")["items"]]
    assert by_name == sorted(by_name)
    assert [i["name"] for i in scores(api, read, sort="-name")["items"]] == by_name[::-1]
    safest = [i["pd"] for i in scores(api, read, sort="pd")["items"]]
    assert safest == sorted(safest)
    everything = [i["company_id"] for i in scores(api, read)["items"]]
    paged = []
    for offset in range(0, len(everything), 3):
        page = api.get("/v1/scores", params={"limit": 3, "offset": offset}, headers=read).json()
        assert page["page"]["total"] == len(everything)
        paged += [i["company_id"] for i in page["items"]]
    assert paged == everything
    beyond = api.get("/v1/scores", params={"offset": len(everything)}, headers=read).json()
    assert beyond["items"] == [] and beyond["page"] == {
        "limit": 50,
        "offset": len(everything),
        "count": 0,
        "total": len(everything),
    }


def test_as_of_view(api, read):
    before_any_filing = scores(api, read, as_of="1990-01-01")
    assert before_any_filing["items"] == [] and before_any_filing["page"]["total"] == 0
    view = scores(api, read, as_of="2020-12-31")
    assert view["model_version"] is not None and view["as_of"] == "2020-12-31"
    items = view["items"]
    assert items and all(i["as_of"] <= "2020-12-31" for i in items)
    assert {i["model_version"] for i in items} == {view["model_version"]}
    assert len({i["company_id"] for i in items}) == len(items)
    # Each company's row is its newest filing score on or before the date (checked against its own history).
    for item in items[:5]:
        history = api.get(
            f"/v1/companies/{item['company_id']}/scores",
            params={"model_version": view["model_version"]},
            headers=read,
        ).json()["scores"]
        known = [s for s in history if s["as_of"] <= "2020-12-31"]
        assert item["as_of"] == max(s["as_of"] for s in known)
    # Nikola filed its first 10-K in 2020 and was not in default then
    nikola = next(i for i in items if i["company_id"] == "sec-0001731289")
    assert nikola["grade"] != "D" and not nikola["in_default"]
    assert scores(api, read, as_of="2020-12-31", model_version="999")["items"] == []


def test_grade_migration(api, read):
    def grades_at(day):
        return {i["company_id"]: i["grade"] for i in scores(api, read, as_of=day)["items"]}

    before, after = grades_at("2015-12-31"), grades_at("2025-12-31")
    body = api.get(
        "/v1/scores/migration", params={"from_date": "2015-12-31", "to_date": "2025-12-31"}, headers=read
    ).json()
    labels = body["grades"]
    assert labels == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "D"]
    expected = [[0] * len(labels) for _ in labels]
    for company, grade in before.items():
        if company in after:
            expected[labels.index(grade)][labels.index(after[company])] += 1
    assert body["matrix"] == expected
    both = set(before) & set(after)
    assert body["companies"] == len(both) == sum(map(sum, body["matrix"]))
    assert body["only_at_from"] == len(set(before) - set(after))
    assert body["only_at_to"] == len(set(after) - set(before))
    assert "sec-0001731289" in set(after) - set(before)  # Nikola had not filed by 2015
    assert body["upgrades"] + body["downgrades"] + body["unchanged"] == body["companies"]

    same_day = api.get(
        "/v1/scores/migration", params={"from_date": "2020-12-31", "to_date": "2020-12-31"}, headers=read
    ).json()
    assert (
        same_day["unchanged"] == same_day["companies"] and same_day["upgrades"] == same_day["downgrades"] == 0
    )
    empty = api.get(
        "/v1/scores/migration", params={"from_date": "1980-01-01", "to_date": "1990-01-01"}, headers=read
    ).json()
    assert empty["companies"] == 0 and sum(map(sum, empty["matrix"])) == 0
    missing = api.get("/v1/scores/migration", params={"from_date": "2015-12-31"}, headers=read)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "query.to_date"


def test_portfolio_summary(api, read):
    items = scores(api, read)["items"]
    body = api.get("/v1/portfolio/summary", headers=read).json()
    assert body["count"] == len(items) == len(UNIVERSE)
    assert body["mean_pd"] == pytest.approx(sum(i["pd"] for i in items) / len(items))
    by_grade = {g["grade"]: g for g in body["by_grade"]}
    assert by_grade["D"]["count"] == len(IN_DEFAULT) and by_grade["D"]["mean_pd"] == 1.0
    assert sum(g["count"] for g in body["by_grade"]) == body["count"]
    for group in body["by_sector"]:
        members = [i["pd"] for i in items if i["sector"] == group["sector"]]
        assert group["count"] == len(members)
        assert group["mean_pd"] == pytest.approx(sum(members) / len(members))
    empty = api.get("/v1/portfolio/summary", params={"as_of": "1990-01-01"}, headers=read).json()
    assert (empty["count"], empty["mean_pd"], empty["by_grade"], empty["by_sector"]) == (0, None, [], [])


def test_each_score_says_how_old_its_statement_is(api, read):
    """A current snapshot carries the age of the statement it rests on (Samsung's newest was filed in March 2024);
    a filing's own score is as of that filing (age 0)."""
    import datetime as dt

    items = scores(api, read)["items"]
    for item in items:
        expected = (dt.date.fromisoformat(item["as_of"]) - dt.date.fromisoformat(item["filed_at"])).days
        assert item["statement_age_days"] == expected >= 0
    samsung = next(i for i in items if i["company_id"] == "dart-00126380")
    assert samsung["statement_age_days"] > 365
    # and what kind of statement it is: an annual one, or trailing twelve months to a quarter end
    assert {i["period_type"] for i in items} <= {"FY", "TTM"} and samsung["period_type"] == "FY"
    assert "TTM" in {i["period_type"] for i in items}
    history = api.get("/v1/companies/sec-0000320193/scores", headers=read)
    assert history.status_code == 200, history.text
    periods = [s for s in history.json()["scores"] if s["kind"] == "period"]
    assert periods and all(s["statement_age_days"] == 0 for s in periods)
