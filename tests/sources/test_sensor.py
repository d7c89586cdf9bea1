"""The filings sensor against a local server answering like SEC EDGAR and OpenDART, with a real Dagster instance.

First tick: registers the watchlist's partitions and requests one run per company; second tick with nothing new:
no request; a new filing in the stub: exactly one request (run_key = company + accession); the cursor, saved and
handed to a new context on a reopened instance (a restart), still knows everything it saw.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from risk_assets.defs.sources.sensors import FilingsCursor, filings_sensor, sec_filings
from risk_assets.storage.warehouse import Warehouse
from risk_assets.storage.watchlist import add_to_watchlist
from tests.sources import stubs
from tests.support.stub_server import StubResponse, StubServer

# Apple's newest 10-K / 10-Q in the recorded submissions (recorded 2026-03-05): the Q1 FY2026 10-Q.
APPLE_LATEST_PERIODIC = "0000320193-26-000006"
NEW_10Q = {
    "accessionNumber": "0000320193-26-000099",
    "filingDate": "2026-05-01",
    "reportDate": "2026-03-28",
    "form": "10-Q",
    "items": "",
    "primaryDocument": "aapl-20260328.htm",
}


@pytest.fixture
def watched(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    warehouse = Warehouse(url)
    warehouse.create_schema()
    add_to_watchlist(warehouse, cik="320193", added_by="test")
    add_to_watchlist(warehouse, dart_corp_code=stubs.SAMSUNG_CORP, added_by="test")
    warehouse.dispose()
    return url


def tick(instance: dg.DagsterInstance, resources: dict, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = filings_sensor(context)
    assert isinstance(result, dg.SensorResult), result
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def run_keys(result: dg.SensorResult) -> list[str]:
    return [request.run_key for request in result.run_requests]


def test_ticks_register_request_skip_and_survive_a_restart(watched: str, tmp_path: Path) -> None:
    with StubServer() as stub:
        stubs.serve_sec(stub)
        stubs.serve_dart(stub)
        resources = stubs.resources_for(stub, warehouse_url=watched)
        instance_dir = tmp_path / "dagster"
        instance_dir.mkdir()
        (instance_dir / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

        with dg.instance_for_test(temp_dir=str(instance_dir)) as instance:
            first = tick(instance, resources, cursor=None)
            assert sorted(instance.get_dynamic_partitions("companies")) == [stubs.SAMSUNG, stubs.APPLE]
            # One run per company seen for the first time: Apple keyed by its newest periodic report; the
            # recorded Samsung list has no periodic, audit or distress report, so its first run is "initial".
            assert sorted(run_keys(first)) == [
                f"{stubs.SAMSUNG}:initial",
                f"{stubs.APPLE}:{APPLE_LATEST_PERIODIC}",
            ]
            assert {r.partition_key for r in first.run_requests} == {stubs.APPLE, stubs.SAMSUNG}
            assert all(r.job_name in (None, "ingest_filings") for r in first.run_requests)
            # Watchlist companies only: one submissions request, one list request for the corp code.
            assert [r.path for r in stub.requests_to(f"/submissions/CIK{stubs.APPLE_CIK}.json")] != []
            assert {r.param("corp_code") for r in stub.requests_to("/api/list.json")} == {stubs.SAMSUNG_CORP}
            assert stub.requests_to(f"/api/xbrl/companyfacts/CIK{stubs.APPLE_CIK}.json") == []

            second = tick(instance, resources, cursor=first.cursor)
            assert second.run_requests == [] and not second.dynamic_partitions_requests

            stub.route(
                "GET",
                f"/submissions/CIK{stubs.APPLE_CIK}.json",
                StubResponse(body=stubs.apple_submissions(NEW_10Q), content_type="application/json"),
            )
            third = tick(instance, resources, cursor=second.cursor)
            assert run_keys(third) == [f"{stubs.APPLE}:{NEW_10Q['accessionNumber']}"]
            assert third.run_requests[0].partition_key == stubs.APPLE
            assert third.run_requests[0].tags["riskgraph/form"] == "10-Q"
            # the queue's per-source limit (dagster.yaml) keys on this tag
            assert third.run_requests[0].tags["riskgraph/source"] == "sec"
            saved = third.cursor

        # A restart: a new instance over the same storage, a new context from the saved cursor.
        with dg.instance_for_test(temp_dir=str(instance_dir)) as reopened:
            assert sorted(reopened.get_dynamic_partitions("companies")) == [stubs.SAMSUNG, stubs.APPLE]
            after_restart = tick(reopened, resources, cursor=saved)
            assert after_restart.run_requests == []
            assert json.loads(after_restart.cursor) == json.loads(saved)


def test_a_new_dart_filing_requests_exactly_one_run(watched: str) -> None:
    new_report = {
        "corp_cls": "Y",
        "corp_code": stubs.SAMSUNG_CORP,
        "corp_name": "삼성전자",
        "flr_nm": "삼성전자",
        "rcept_dt": "20241114",
        "rcept_no": "20241114002642",
        "report_nm": "분기보고서 (2024.09)",
        "rm": "",
        "stock_code": "005930",
    }
    with StubServer() as stub:
        stubs.serve_sec(stub)
        stubs.serve_dart(stub)
        resources = stubs.resources_for(stub, warehouse_url=watched)
        with dg.instance_for_test() as instance:
            first = tick(instance, resources, cursor=None)
            stubs.serve_dart(stub, recent_rows=[new_report])
            second = tick(instance, resources, cursor=first.cursor)
    assert run_keys(second) == [f"{stubs.SAMSUNG}:20241114002642"]
    # The first window started a year back; the next starts at the newest filing date seen (any report).
    assert FilingsCursor.parse(first.cursor).last_date(stubs.SAMSUNG) == "2024-11-01"
    assert FilingsCursor.parse(second.cursor).last_date(stubs.SAMSUNG) == "2024-11-14"


def test_an_empty_watchlist_skips(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    with StubServer() as stub, dg.instance_for_test() as instance:
        with dg.build_sensor_context(
            instance=instance, resources=stubs.resources_for(stub, warehouse_url=url)
        ) as context:
            result = filings_sensor(context)
        assert isinstance(result, dg.SkipReason)
        assert stub.requests == []


def test_only_periodic_late_notice_and_bankruptcy_filings_are_relevant() -> None:
    submissions = json.loads(stubs.read(stubs.DATA / "sec" / "submissions" / "CIK0000945436.json.gz"))
    filings = sec_filings(submissions, "sec-0000945436")
    forms = {f.form for f in filings}
    # SunEdison filed 307 8-Ks and 473 Form 4s: only the 8-K with item 1.03 (2016-04-27, items
    # 1.01,1.03,2.03,...) is relevant among them; 10-Qs and its NT 10-K / NT 10-Q notices are.
    assert [(f.reference, f.filed) for f in filings if f.form.startswith("8-K")] == [
        ("0001193125-16-559806", "2016-04-27")
    ]
    assert {"10-Q", "NT 10-K", "NT 10-Q"} <= forms
    assert "4" not in forms and "SC 13G" not in forms
