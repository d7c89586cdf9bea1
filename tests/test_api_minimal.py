"""The gateway answers from what the materialised graph wrote."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app


def client() -> TestClient:
    return TestClient(create_app())


def test_health_and_companies(graph_env: Path) -> None:
    with client() as http:
        assert http.get("/health").json()["warehouse"] == "ok"
        listed = http.get("/v1/companies").json()
        assert len(listed["items"]) == 14
        assert {"sec-0001731289", "dart-00126380"} <= {c["company_id"] for c in listed["items"]}
        page = http.get("/v1/companies", params={"limit": 5, "offset": 10}).json()
        assert len(page["items"]) == 4 and page["page"] == {"limit": 5, "offset": 10, "count": 4}


def test_company_score_history_and_unknown_id(graph_env: Path) -> None:
    with client() as http:
        history = http.get("/v1/companies/sec-0000320193/scores").json()
        assert history["company"]["name"] == "Apple Inc."
        years = [s["fiscal_year"] for s in history["scores"]]
        assert years == sorted(years) and 2009 in years
        missing = http.get("/v1/companies/sec-9999999999/scores")
        assert missing.status_code == 404
        assert "sec-9999999999" in missing.json()["detail"]


def test_latest_scores_sorted_and_filtered(graph_env: Path) -> None:
    with client() as http:
        items = http.get("/v1/scores").json()["items"]
        assert len(items) == 14
        pds = [i["pd"] for i in items]
        assert pds == sorted(pds, reverse=True)
        defaulted = http.get("/v1/scores", params={"grade": "D"}).json()["items"]
        assert {i["company_id"] for i in defaulted} == {"sec-0001731289", "sec-0000945436"}
        assert http.get("/v1/scores", params={"grade": "11"}).status_code == 422
