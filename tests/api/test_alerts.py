"""Alerts: listing since a date by kind, acknowledging once (with its audit row), refusals that change nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from risk_assets.storage.api_keys import audit_rows
from tests.api.conftest import bearer


@pytest.fixture
def read(keys):
    return bearer(keys["reader"])


def alerts(api, read, **params):
    response = api.get("/v1/alerts", params={"limit": 500, **params}, headers=read)
    assert response.status_code == 200, response.text
    return response.json()


def test_alerts_since_a_date_by_kind(api, read):
    everything = alerts(api, read)["items"]
    assert everything, "the bundled history raises alerts"
    dates = [a["as_of"] for a in everything]
    assert dates == sorted(dates, reverse=True)
    since = alerts(api, read, since="2020-01-01")["items"]
    assert since == [a for a in everything if a["as_of"] >= "2020-01-01"]
    downgrades = alerts(api, read, kind="downgrade")["items"]
    assert downgrades and all("downgrade" in a["reasons"] for a in downgrades)
    assert all(
        int(a["grade"].replace("D", "11")) > int(a["previous_grade"].replace("D", "11")) for a in downgrades
    )
    jumps = alerts(api, read, kind="pd_jump")["items"]
    assert all("pd_jump" in a["reasons"] and a["pd"] >= 2 * a["previous_pd"] for a in jumps)
    assert {a["company_id"] for a in everything} >= {"sec-0001731289"}  # Nikola: 10 -> D in 2025
    nikola = alerts(api, read, company_id="sec-0001731289", since="2025-01-01")["items"]
    assert nikola and nikola[0]["grade"] == "D" and nikola[0]["name"] == "Nikola Corporation"
    assert alerts(api, read, since="2999-01-01") == {
        "items": [],
        "page": {"limit": 500, "offset": 0, "count": 0, "total": 0},
    }
    assert alerts(api, read, acknowledged=True)["items"] == []
    page = api.get("/v1/alerts", params={"limit": 2, "offset": 1}, headers=read).json()
    assert page["items"] == everything[1:3] and page["page"]["total"] == len(everything)


def test_acknowledge_once_with_an_audit_row(fresh_api):
    http, admin = fresh_api.client, bearer(fresh_api.keys["admin"])
    read = bearer(fresh_api.keys["reader"])
    alert = http.get("/v1/alerts", params={"limit": 1}, headers=read).json()["items"][0]
    path = f"/v1/alerts/{alert['company_id']}/{alert['as_of']}/{alert['model_version']}/acknowledge"
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    response = http.post(path, json={"note": "reviewed"}, headers=admin)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert response.status_code == 200, response.text
    acknowledged = response.json()
    assert acknowledged["acknowledged_by"] == "admin"
    assert acknowledged["acknowledged_at"].endswith("Z")  # UTC, stated
    assert before <= dt.datetime.fromisoformat(acknowledged["acknowledged_at"]).replace(tzinfo=None) <= after
    rows = audit_rows(fresh_api.warehouse, action="acknowledge_alert")
    assert len(rows) == 1
    assert (
        rows[0]["actor"] == "admin" and before <= rows[0]["at"] <= after and rows[0]["detail"] == "reviewed"
    )
    assert rows[0]["target"] == f"{alert['company_id']}/{alert['as_of']}/{alert['model_version']}"
    listed = http.get("/v1/alerts", params={"acknowledged": True}, headers=read).json()["items"]
    assert [(a["company_id"], a["as_of"]) for a in listed] == [(alert["company_id"], alert["as_of"])]

    again = http.post(path, headers=bearer(fresh_api.keys["full"]))
    assert again.status_code == 409 and "'admin'" in again.json()["detail"]
    assert len(audit_rows(fresh_api.warehouse, action="acknowledge_alert")) == 1
    unknown = http.post(
        f"/v1/alerts/{alert['company_id']}/1999-01-01/{alert['model_version']}/acknowledge", headers=admin
    )
    assert unknown.status_code == 404
    assert http.post(path.replace(alert["as_of"], "soon"), headers=admin).status_code == 422


def test_refused_acknowledgements_change_nothing(fresh_api):
    http, keys = fresh_api.client, fresh_api.keys
    alert = http.get("/v1/alerts", params={"limit": 1}, headers=bearer(keys["reader"])).json()["items"][0]
    path = f"/v1/alerts/{alert['company_id']}/{alert['as_of']}/{alert['model_version']}/acknowledge"
    audit_before = audit_rows(fresh_api.warehouse)
    for headers, status in (
        ({}, 401),
        (bearer(keys["revoked"]), 401),
        (bearer(keys["reader"]), 403),
        (bearer(keys["scorer"]), 403),
        (bearer(keys["admin"][:-2] + "xx"), 401),
    ):
        assert http.post(path, headers=headers).status_code == status
    assert audit_rows(fresh_api.warehouse) == audit_before
    listed = http.get("/v1/alerts", params={"acknowledged": True}, headers=bearer(keys["reader"])).json()
    assert listed["items"] == []


def test_an_acknowledgement_whose_audit_row_fails_is_not_stored(fresh_api):
    from fastapi.testclient import TestClient

    from tests.support.audit import audit_log_refusing_inserts

    http = TestClient(fresh_api.client.app, raise_server_exceptions=False)
    read, admin = bearer(fresh_api.keys["reader"]), bearer(fresh_api.keys["admin"])
    alert = http.get("/v1/alerts", params={"limit": 1}, headers=read).json()["items"][0]
    path = f"/v1/alerts/{alert['company_id']}/{alert['as_of']}/{alert['model_version']}/acknowledge"
    with audit_log_refusing_inserts(fresh_api.warehouse):
        assert http.post(path, json={"note": "reviewed"}, headers=admin).status_code == 500
    assert http.get("/v1/alerts", params={"acknowledged": True}, headers=read).json()["items"] == []
    assert audit_rows(fresh_api.warehouse, action="acknowledge_alert") == []

    assert http.post(path, json={"note": "reviewed"}, headers=admin).status_code == 200
    assert len(audit_rows(fresh_api.warehouse, action="acknowledge_alert")) == 1
