"""Operations with a recording stand-in for Dagster: launches (audited), run status, Dagster unavailable,
and the watchlist. The real launch through `dagster dev` is test_launch.py."""

from __future__ import annotations

import datetime as dt

from api.schemas.operations import PARTITIONED_JOBS, WHOLE_GRAPH_JOBS
from risk_assets.storage.api_keys import audit_rows
from tests.api.conftest import bearer


def test_the_launchable_jobs_are_the_defined_asset_jobs():
    from risk_assets.definitions import defs

    definitions = defs()
    defined = {job.name for job in definitions.resolve_all_job_defs()} - {"__ASSET_JOB"}
    assert set(PARTITIONED_JOBS) | set(WHOLE_GRAPH_JOBS) == defined
    for name in PARTITIONED_JOBS:
        assert definitions.resolve_job_def(name).partitions_def is not None
    for name in WHOLE_GRAPH_JOBS:
        assert definitions.resolve_job_def(name).partitions_def is None


def test_launch_a_company_refresh_then_follow_the_run(fresh_api):
    http, admin = fresh_api.client, bearer(fresh_api.keys["admin"])
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    response = http.post(
        "/v1/materializations",
        json={"job": "ingest_filings", "partition_key": "sec-0000320193"},
        headers=admin,
    )
    assert response.status_code == 202, response.text
    launched = response.json()
    run_id = launched["run_id"]
    assert response.headers["location"] == launched["status_url"] == f"/v1/runs/{run_id}"
    assert fresh_api.launcher.launches == [
        ("ingest_filings", "sec-0000320193", {"riskgraph/launched_by": "admin"})
    ]
    rows = audit_rows(fresh_api.warehouse, action="launch_run")
    assert len(rows) == 1
    assert (rows[0]["actor"], rows[0]["target"], rows[0]["detail"]) == (
        "admin",
        "ingest_filings[sec-0000320193]",
        f"run_id={run_id}",
    )
    assert before <= rows[0]["at"] <= dt.datetime.now(dt.UTC).replace(tzinfo=None)

    assert http.get(f"/v1/runs/{run_id}", headers=admin).json() == {
        "run_id": run_id,
        "status": "QUEUED",
        "finished": False,
    }
    fresh_api.launcher.statuses[run_id] = "SUCCESS"
    assert http.get(f"/v1/runs/{run_id}", headers=admin).json()["finished"] is True
    unknown = http.get("/v1/runs/00000000-0000-0000-0000-000000000000", headers=admin)
    assert unknown.status_code == 404
    assert http.get("/v1/runs/not a run", headers=admin).status_code == 422

    whole = http.post("/v1/materializations", json={"job": "rescore_all"}, headers=admin)
    assert whole.status_code == 202 and fresh_api.launcher.launches[-1][:2] == ("rescore_all", None)


def test_launch_requests_that_are_refused(fresh_api):
    http, admin = fresh_api.client, bearer(fresh_api.keys["admin"])
    cases = [
        ({"job": "ingest_filings"}, 422),  # a partitioned job needs its company
        ({"job": "rescore_all", "partition_key": "sec-0000320193"}, 422),  # an unpartitioned job takes none
        ({"job": "drop_tables"}, 422),
        ({"job": "ingest_filings", "partition_key": "sec-320193"}, 422),
        ({"job": "ingest_filings", "partition_key": "sec-0000000001"}, 404),  # not in the universe
    ]
    for body, status in cases:
        response = http.post("/v1/materializations", json=body, headers=admin)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert fresh_api.launcher.launches == [] and audit_rows(fresh_api.warehouse, action="launch_run") == []

    fresh_api.launcher.down = True
    down = http.post("/v1/materializations", json={"job": "retrain"}, headers=admin)
    assert down.status_code == 503 and down.headers["retry-after"] == "30"
    assert "unreachable" in down.json()["detail"]
    assert http.get("/v1/runs/00000000-0000-0000-0000-000000000000", headers=admin).status_code == 503
    assert audit_rows(fresh_api.warehouse, action="launch_run") == []


def test_watchlist_add_list_remove(fresh_api):
    http, admin, read = fresh_api.client, bearer(fresh_api.keys["admin"]), bearer(fresh_api.keys["reader"])
    assert http.get("/v1/watchlist", headers=read).json() == {"items": []}
    added = http.post("/v1/watchlist", json={"ticker": "aapl"}, headers=admin)
    assert added.status_code == 201, added.text
    assert (added.json()["company_id"], added.json()["cik"], added.json()["added_by"]) == (
        "sec-0000320193",
        "0000320193",
        "admin",
    )
    korean = http.post("/v1/watchlist", json={"dart_corp_code": "00126380"}, headers=admin)
    assert korean.status_code == 201 and korean.json()["company_id"] == "dart-00126380"
    listed = [e["company_id"] for e in http.get("/v1/watchlist", headers=read).json()["items"]]
    assert listed == ["dart-00126380", "sec-0000320193"]
    assert http.get("/v1/companies/sec-0000320193", headers=read).json()["on_watchlist"] is True

    assert http.post("/v1/watchlist", json={"ticker": "ZZZZ"}, headers=admin).status_code == 404
    assert http.post("/v1/watchlist", json={}, headers=admin).status_code == 422
    assert http.post("/v1/watchlist", json={"cik": "12ab"}, headers=admin).status_code == 422

    assert http.delete("/v1/watchlist/sec-0000320193", headers=admin).status_code == 204
    again = http.delete("/v1/watchlist/sec-0000320193", headers=admin)
    assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"
    assert [e["company_id"] for e in http.get("/v1/watchlist", headers=read).json()["items"]] == [
        "dart-00126380"
    ]
    actions = [
        (r["action"], r["target"], r["actor"])
        for r in reversed(audit_rows(fresh_api.warehouse))
        if r["action"].startswith("watchlist")
    ]
    assert actions == [
        ("watchlist_add", "sec-0000320193", "admin"),
        ("watchlist_add", "dart-00126380", "admin"),
        ("watchlist_remove", "sec-0000320193", "admin"),
    ]


def test_an_unreachable_dagster_is_a_503_problem(api_home, keys):
    """The real GraphQL launcher pointed at a port nobody listens on."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from tests.api.conftest import settings_for
    from tests.support.servers import free_port

    settings = settings_for(api_home, dagster_graphql_url=f"http://127.0.0.1:{free_port()}")
    admin = bearer(keys["admin"])
    with TestClient(create_app(settings, preload_model=False)) as http:
        launch = http.post("/v1/materializations", json={"job": "rescore_all"}, headers=admin)
        status = http.get("/v1/runs/00000000-0000-0000-0000-000000000000", headers=admin)
    for response in (launch, status):
        assert (
            response.status_code == 503
            and response.json()["detail"] == "the Dagster webserver is unreachable"
        )


def test_a_read_key_follows_a_run_but_cannot_launch_one(fresh_api):
    """A run's status is read-only information: the demo (read) key may see it; launching stays admin."""
    http, admin = fresh_api.client, bearer(fresh_api.keys["admin"])
    reader, scorer = bearer(fresh_api.keys["reader"]), bearer(fresh_api.keys["scorer"])
    launched = http.post("/v1/materializations", json={"job": "rescore_all"}, headers=admin)
    assert launched.status_code == 202, launched.text
    status_url = launched.headers["location"]
    run_id = launched.json()["run_id"]

    seen = http.get(status_url, headers=reader)
    assert seen.status_code == 200, seen.text
    assert seen.json() == {"run_id": run_id, "status": "QUEUED", "finished": False}
    fresh_api.launcher.statuses[run_id] = "FAILURE"
    assert http.get(status_url, headers=reader).json() == {
        "run_id": run_id,
        "status": "FAILURE",
        "finished": True,
    }
    assert http.get(status_url, headers=admin).status_code == 200  # the launching key still follows its run

    refused = http.get(status_url, headers=scorer)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this key lacks the 'read' or 'admin' scope"
    launches = list(fresh_api.launcher.launches)
    denied = http.post("/v1/materializations", json={"job": "rescore_all"}, headers=reader)
    assert denied.status_code == 403 and denied.json()["detail"] == "this key lacks the 'admin' scope"
    assert fresh_api.launcher.launches == launches


def test_a_watchlist_change_whose_audit_row_fails_is_not_stored(fresh_api):
    """The change and its audit row are one transaction: the audit log refusing the row (a trigger, in the
    database) leaves the watchlist as it was, and the request is a 500."""
    from fastapi.testclient import TestClient

    from risk_assets.storage.watchlist import add_to_watchlist, list_watchlist
    from tests.support.audit import audit_log_refusing_inserts

    # The same app (already started by fresh_api's client), answering 500 instead of raising into the test.
    http = TestClient(fresh_api.client.app, raise_server_exceptions=False)
    admin, store = bearer(fresh_api.keys["admin"]), fresh_api.warehouse
    add_to_watchlist(store, dart_corp_code="00126380", added_by="test")
    audit_before = audit_rows(store)
    with audit_log_refusing_inserts(store):
        added = http.post("/v1/watchlist", json={"ticker": "aapl"}, headers=admin)
        removed = http.delete("/v1/watchlist/dart-00126380", headers=admin)
    assert (added.status_code, removed.status_code) == (500, 500)
    assert list(list_watchlist(store)["company_id"]) == ["dart-00126380"]
    assert audit_rows(store) == audit_before

    assert http.post("/v1/watchlist", json={"ticker": "aapl"}, headers=admin).status_code == 201
    assert http.delete("/v1/watchlist/dart-00126380", headers=admin).status_code == 204
    assert list(list_watchlist(store)["company_id"]) == ["sec-0000320193"]
    new_rows = [(r["action"], r["target"]) for r in reversed(audit_rows(store)) if r not in audit_before]
    assert new_rows == [("watchlist_add", "sec-0000320193"), ("watchlist_remove", "dart-00126380")]


def test_a_launch_whose_audit_row_fails_is_a_500_that_names_the_run(fresh_api, caplog):
    """A launch cannot be rolled back: when its audit row fails after Dagster accepted it, the run goes on, the
    client gets a 500 and the server log names the run for the operator (it also carries the key's tag)."""
    from fastapi.testclient import TestClient

    from tests.support.audit import audit_log_refusing_inserts

    http = TestClient(fresh_api.client.app, raise_server_exceptions=False)
    with audit_log_refusing_inserts(fresh_api.warehouse), caplog.at_level("ERROR", logger="riskgraph.api"):
        response = http.post(
            "/v1/materializations", json={"job": "retrain"}, headers=bearer(fresh_api.keys["admin"])
        )
    assert response.status_code == 500
    assert fresh_api.launcher.launches == [("retrain", None, {"riskgraph/launched_by": "admin"})]
    (run_id,) = fresh_api.launcher.statuses
    assert any(run_id in message and "no audit row" in message for message in caplog.messages), (
        caplog.messages
    )
    assert audit_rows(fresh_api.warehouse, action="launch_run") == []


def test_handlers_take_the_launcher_and_app_state_through_dependencies(fresh_api):
    """The launcher is a dependency (api.deps.get_launcher): overriding it reaches the handlers, and no router
    reads `app.state` itself."""
    from pathlib import Path

    import api.routers
    from api.deps import get_launcher
    from tests.api.conftest import RecordingLauncher

    app, admin = fresh_api.client.app, bearer(fresh_api.keys["admin"])
    app.dependency_overrides[get_launcher] = lambda: RecordingLauncher(down=True)
    try:
        down = fresh_api.client.post("/v1/materializations", json={"job": "retrain"}, headers=admin)
        status = fresh_api.client.get("/v1/runs/00000000-0000-0000-0000-000000000000", headers=admin)
    finally:
        app.dependency_overrides.clear()
    assert (down.status_code, status.status_code) == (503, 503)
    assert fresh_api.launcher.launches == []
    routers = Path(api.routers.__file__).parent
    readers = [path.name for path in sorted(routers.glob("*.py")) if "app.state" in path.read_text()]
    assert readers == []
