"""Errors are RFC 9457 problem details without internals; request size limits; CORS only when configured."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from risk_assets.storage.warehouse import Warehouse
from tests.api.conftest import bearer, settings_for

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status and body["type"] == "about:blank"
    for leak in ("Traceback", "SELECT", "sqlite", 'File "', "sqlalchemy"):
        assert leak not in response.text, leak
    return body


def test_unknown_path_and_method(api, keys):
    assert assert_problem(api.get("/v2/companies"), 404)["instance"] == "/v2/companies"
    wrong_method = api.put("/v1/companies", headers=bearer(keys["reader"]))
    assert_problem(wrong_method, 405)
    assert "GET" in wrong_method.headers["allow"]


def test_body_size_limit(api_home, keys):
    app = create_app(settings_for(api_home, api_max_request_bytes=1000))
    score = bearer(keys["scorer"])
    with TestClient(app) as http:
        big = {"statements": [{"reference": "x" * 90, "items": {"total_assets": 1.0}}] * 20}
        body = assert_problem(http.post("/v1/score", json=big, headers=score), 413)
        assert "1000 bytes" in body["detail"]

        def chunks():  # no Content-Length: the limit is counted as the body arrives
            for _ in range(20):
                yield b" " * 100

        assert_problem(
            http.post("/v1/score", content=chunks(), headers={**score, "content-type": "application/json"}),
            413,
        )
        small = {"statements": [{"items": {"total_assets": 1.0}}]}
        assert http.post("/v1/score", json=small, headers=score).status_code == 200


def test_a_server_error_says_nothing_about_the_cause(tmp_path, api_home, keys):
    """A warehouse whose tables are gone: the database error is logged, the client gets a bare 500."""
    settings = settings_for(api_home)
    empty = tmp_path / "empty.db"
    Warehouse(f"sqlite:///{empty}").engine.connect().close()
    broken = settings.model_copy(update={"warehouse_url": f"sqlite:///{empty}"})
    with TestClient(create_app(broken), raise_server_exceptions=False) as http:
        body = assert_problem(http.get("/v1/companies", headers=bearer(keys["reader"])), 500)
        assert body["detail"] == "the server could not complete the request; it has been logged"
        assert http.get("/health").json()["warehouse"] == "ok"  # the database answers; its tables are missing


def test_health_reports_an_unreachable_warehouse(api_home):
    settings = settings_for(api_home)
    broken = settings.model_copy(update={"warehouse_url": "mysql+pymysql://nobody@127.0.0.1:1/none"})
    with TestClient(create_app(broken)) as http:
        response = http.get("/health")
    assert response.status_code == 200 and response.json()["warehouse"] == "unavailable"
    assert response.json()["status"] == "degraded"


def test_cors_is_off_unless_configured(api, api_home, keys):
    origin = {"Origin": "https://app.example.com"}
    preflight = {
        **origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    assert "access-control-allow-origin" not in api.get("/health", headers=origin).headers
    assert "access-control-allow-origin" not in api.options("/v1/companies", headers=preflight).headers
    app = create_app(settings_for(api_home, cors_origins=("https://app.example.com",)))
    with TestClient(app) as http:
        allowed = http.options("/v1/companies", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        other = http.get(
            "/v1/companies", headers={"Origin": "https://evil.example.com", **bearer(keys["reader"])}
        )
        assert "access-control-allow-origin" not in other.headers


def test_every_response_carries_defensive_headers(api):
    response = api.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_queries_are_parameterised(api, keys, warehouse):
    """Text that would change a string-built query is just a value that matches nothing."""
    read = bearer(keys["reader"])
    for text in ("' OR '1'='1", "x'; DROP TABLE companies; --", "\\' OR 1=1 --"):
        response = api.get("/v1/companies", params={"q": text}, headers=read)
        assert response.status_code == 200 and response.json()["items"] == []
        assert api.get(f"/v1/companies/{text}", headers=read).status_code == 404
    with warehouse.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM companies")).scalar_one() == 14


def test_storage_errors_map_to_statuses_by_type_not_by_message():
    """UnknownCompany is a 404 and any other WatchlistError a 422, whatever their messages say."""
    from fastapi import FastAPI

    from api import errors
    from risk_assets.storage.watchlist import InvalidIdentifier, UnknownCompany

    app = FastAPI()
    errors.install(app)

    @app.get("/unknown")
    def unknown() -> None:
        raise UnknownCompany("no such company (the words 'invalid' and 'CIK' do not decide)")

    @app.get("/invalid")
    def invalid() -> None:
        raise InvalidIdentifier("unknown ticker: not the words that decide either")

    with TestClient(app) as http:
        missing = assert_problem(http.get("/unknown"), 404)
        assert missing["detail"] == "no such company (the words 'invalid' and 'CIK' do not decide)"
        assert assert_problem(http.get("/invalid"), 422)["instance"] == "/invalid"


def test_an_unknown_query_parameter_is_a_422_naming_it(api, keys):
    """A misspelt filter is refused, not ignored (it would return everything): on a list endpoint and on a route
    that takes no query parameters at all."""
    read = bearer(keys["reader"])
    listed = assert_problem(api.get("/v1/scores", params={"grades": "D", "limit": 5}, headers=read), 422)
    assert listed["errors"] == [{"field": "query.grades", "reason": "Unknown query parameter"}]
    assert listed["detail"] == "invalid request: query.grades: Unknown query parameter"
    plain = assert_problem(api.get("/v1/watchlist", params={"all": "true"}, headers=read), 422)
    assert plain["errors"] == [{"field": "query.all", "reason": "Unknown query parameter"}]
