"""Every /v1 operation refuses a missing, malformed, wrong or revoked key (401) and a key without its scope
(403), and a refused request changes nothing. The scope table is the policy: a new route must be added here."""

from __future__ import annotations

import pytest

from risk_assets.storage.api_keys import audit_rows
from tests.api.conftest import bearer

SCOPE = {
    ("get", "/v1/companies"): "read",
    ("get", "/v1/companies/{company_id}"): "read",
    ("get", "/v1/companies/{company_id}/scores"): "read",
    ("get", "/v1/companies/{company_id}/scores/{as_of}/drivers"): "read",
    ("get", "/v1/companies/{company_id}/statements"): "read",
    ("get", "/v1/companies/{company_id}/features"): "read",
    ("get", "/v1/scores"): "read",
    ("get", "/v1/scores/migration"): "read",
    ("get", "/v1/portfolio/summary"): "read",
    ("get", "/v1/alerts"): "read",
    ("post", "/v1/alerts/{company_id}/{as_of}/{model_version}/acknowledge"): "admin",
    ("post", "/v1/score"): "score",
    ("get", "/v1/models"): "read",
    ("get", "/v1/models/segments"): "read",
    ("get", "/v1/models/stability"): "read",
    ("get", "/v1/models/{version}"): "read",
    ("post", "/v1/materializations"): "admin",
    ("get", "/v1/runs/{run_id}"): "read or admin",  # read-only; the admin key that launched a run follows it
    ("get", "/v1/watchlist"): "read",
    ("post", "/v1/watchlist"): "admin",
    ("delete", "/v1/watchlist/{company_id}"): "admin",
    ("get", "/v1/companies/{company_id}/term-structure"): "read",
    ("get", "/v1/companies/{company_id}/peers"): "read",
    ("get", "/v1/app/pd-changes"): "read",
    ("get", "/v1/app/companies/{company_id}/default-events"): "read",
    ("get", "/v1/app/features"): "read",
    ("get", "/v1/app/models/{segment}/{version}/validation/{figure}"): "read",
}
PATH_VALUES = {
    "company_id": "sec-0000320193",
    "as_of": "2025-10-31",
    "model_version": "1",
    "version": "1",
    "run_id": "00000000-0000-0000-0000-000000000000",
    "segment": "sme",
    "figure": "roc",
}
QUERY = {"/v1/scores/migration": {"from_date": "2015-12-31", "to_date": "2025-12-31"}}
BODY = {
    "/v1/score": {"statements": [{"items": {"total_assets": 1.0}}]},
    "/v1/materializations": {"job": "rescore_all"},
    "/v1/watchlist": {"ticker": "AAPL"},
}
OTHER_KEYS = {
    "read": ("scorer", "admin"),
    "score": ("reader", "admin"),
    "admin": ("reader", "scorer"),
    "read or admin": ("scorer",),
}


def request(api, method, path, headers):
    url = path.format(**PATH_VALUES)
    return api.request(method.upper(), url, params=QUERY.get(path), json=BODY.get(path), headers=headers)


def test_the_scope_table_covers_every_operation(api_app):
    operations = {(method, path) for path, ops in api_app.openapi()["paths"].items() for method in ops}
    assert operations - {("get", "/health")} == set(SCOPE)
    for (method, path), _scope in SCOPE.items():
        assert api_app.openapi()["paths"][path][method]["security"] == [{"ApiKey": []}], (method, path)


@pytest.mark.parametrize(("method", "path"), sorted(SCOPE))
def test_refused_without_a_valid_key_or_scope(api, keys, warehouse, launcher, method, path):
    audit_before = audit_rows(warehouse)
    launches_before = list(launcher.launches)
    watchlist_before = warehouse.read("watchlist")
    acknowledged_before = warehouse.count("risk_alerts") - int(
        warehouse.read("risk_alerts")["acknowledged_at"].isna().sum()
    )

    missing = request(api, method, path, {})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"].startswith("missing API key")
    for headers in (
        {"Authorization": "Basic dXNlcjpwYXNz"},  # not a bearer token
        bearer("not-a-key"),  # malformed
        bearer(keys["full"][:-4] + "AAAA"),  # right prefix, wrong secret
        bearer("rgk_000000000000_" + "A" * 43),  # well formed, unknown
        bearer(keys["revoked"]),
    ):
        refused = request(api, method, path, headers)
        assert refused.status_code == 401, (headers, refused.text)
        assert refused.json()["detail"] in (
            "invalid or revoked API key",
            "missing API key: send 'Authorization: Bearer <key>'",
        )
    for name in OTHER_KEYS[SCOPE[(method, path)]]:
        forbidden = request(api, method, path, bearer(keys[name]))
        assert forbidden.status_code == 403, (name, forbidden.text)
        wanted = " or ".join(f"'{scope}'" for scope in SCOPE[(method, path)].split(" or "))
        assert forbidden.json()["detail"] == f"this key lacks the {wanted} scope"

    assert audit_rows(warehouse) == audit_before
    assert launcher.launches == launches_before
    assert warehouse.read("watchlist").equals(watchlist_before)
    assert warehouse.count("risk_alerts") - int(
        warehouse.read("risk_alerts")["acknowledged_at"].isna().sum()
    ) == (acknowledged_before)


def test_health_needs_no_key_and_says_only_how_the_warehouse_is(api):
    body = api.get("/health").json()
    assert body == {"status": "ok", "warehouse": "ok", "version": body["version"]}
