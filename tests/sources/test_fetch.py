"""Live fetching pieces against the local server: the raw capture (stored before parsing, content-addressed),
what is requested per company, and the two client additions (recent-only submissions, the audit opinion)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from risk_assets.clients import BadResponse
from risk_assets.defs.sources import fetch
from risk_assets.storage.objects import LocalObjectStore, sha256_hex
from tests.sources import stubs
from tests.support.stub_server import StubResponse, StubServer


@pytest.mark.parametrize(
    ("sink_key", "expected"),
    [
        ("sec/companyfacts/CIK0000320193.json", ("sec", "companyfacts")),
        ("sec/submissions/CIK0000320193.json", ("sec", "submissions")),
        ("sec/submissions/CIK0000320193-submissions-001.json", ("sec", "submissions:001")),
        (
            "opendart/fnlttSinglAcntAll/00126380_2023_11011_CFS.json",
            ("dart", "fnlttSinglAcntAll:2023:11011:CFS"),
        ),
        ("opendart/list/00126380_20140101_20241231_A_p2.json", ("dart", "list:A:p2")),
        ("opendart/dfOcr/00126380_20140101_20241231.json", ("dart", "dfOcr")),
        ("opendart/accnutAdtorNmNdAdtOpinion/00126380_2023_11011.json", ("dart", "auditOpinion:2023")),
        ("opendart/company/00126380.json", ("dart", "company")),
        ("yahoo/chart/AAPL_2019-01-01_2026-11-25.json", ("yahoo", "chart:AAPL")),
    ],
)
def test_raw_kinds_name_documents_like_the_parsers_expect(sink_key: str, expected: tuple[str, str]) -> None:
    assert fetch.raw_kind(sink_key) == expected


def test_every_body_is_stored_before_the_client_parses_it(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "objects")
    capture = fetch.RawCapture(objects, company_id=stubs.APPLE)
    html = b"<html><body>Service temporarily unavailable</body></html>"
    with StubServer() as stub:
        stubs.serve_sec(stub)
        # A 200 with an HTML page where JSON belongs: stored as received, then refused by the parser.
        stub.route(
            "GET",
            "/api/xbrl/companyfacts/CIK0000320193.json",
            StubResponse(body=html, content_type="text/html"),
        )
        client = stubs.resources_for(stub)["sec"].client(raw_sink=capture)
        with pytest.raises(BadResponse):
            fetch.fetch_sec_documents(client, stubs.APPLE_CIK)
        client.close()
    rows = {row["kind"]: row for row in capture.take_rows()}
    assert set(rows) == {"submissions", "submissions:001", "companyfacts"}
    stored = objects.get(rows["companyfacts"]["object_key"])
    assert stored == html and rows["companyfacts"]["sha256"] == sha256_hex(html)
    assert rows["companyfacts"]["object_key"].endswith(f"{sha256_hex(html)}.xml")  # an HTML body is not JSON
    submissions = objects.get(rows["submissions"]["object_key"])
    assert submissions == stubs.apple_submissions()  # the recorded bytes, unchanged


def test_recent_only_submissions_skip_the_older_pages() -> None:
    with StubServer() as stub:
        stubs.serve_sec(stub)
        client = stubs.resources_for(stub)["sec"].client()
        recent = client.submissions(stubs.APPLE_CIK, include_older_pages=False)
        assert stub.requests_to(f"/submissions/CIK{stubs.APPLE_CIK}-submissions-001.json") == []
        # filings.files still names the page (from the recording); the full call fetches it.
        assert recent["filings"]["files"][0]["name"] == "CIK0000320193-submissions-001.json"
        client.submissions(stubs.APPLE_CIK)
        assert len(stub.requests_to(f"/submissions/CIK{stubs.APPLE_CIK}-submissions-001.json")) == 1
        client.close()


def test_audit_opinion_endpoint(tmp_path: Path) -> None:
    capture = fetch.RawCapture(LocalObjectStore(tmp_path), company_id=stubs.SAMSUNG)
    with StubServer() as stub:
        stubs.serve_dart(stub, audit_opinion="한정의견")
        client = stubs.resources_for(stub)["dart"].client(raw_sink=capture)
        rows = client.audit_opinion(stubs.SAMSUNG_CORP, 2023)
        request = stub.requests_to("/api/accnutAdtorNmNdAdtOpinion.json")[0]
        assert (request.param("corp_code"), request.param("bsns_year"), request.param("reprt_code")) == (
            stubs.SAMSUNG_CORP,
            "2023",
            "11011",
        )
        assert request.param("crtfc_key") == stubs.DART_KEY
        stub.route("GET", "/api/accnutAdtorNmNdAdtOpinion.json", stubs.dart_no_data())
        assert client.audit_opinion(stubs.SAMSUNG_CORP, 2022) == []
        with pytest.raises(ValueError, match="reprt_code"):
            client.audit_opinion(stubs.SAMSUNG_CORP, 2023, "99999")
        client.close()
    assert [row["adt_opinion"] for row in rows][:2] == ["한정의견", "한정의견"]
    assert [row["kind"] for row in capture.take_rows()] == ["auditOpinion:2023", "auditOpinion:2022"]


def test_dart_periodic_report_names_map_to_reports() -> None:
    rows = [
        {"report_nm": "사업보고서 (2023.12)", "rcept_no": "20240312000736"},
        {"report_nm": "[기재정정]사업보고서 (2023.12)", "rcept_no": "20240601000001"},
        {"report_nm": "분기보고서 (2024.03)", "rcept_no": "20240516000555"},
        {"report_nm": "반기보고서 (2024.06)", "rcept_no": "20240814000001"},
        {"report_nm": "분기보고서 (2024.09)", "rcept_no": "20241114000001"},
        {"report_nm": "임원ㆍ주요주주특정증권등소유상황보고서", "rcept_no": "20241101000042"},
    ]
    assert fetch.dart_periodic_reports(rows) == {
        (2023, "11011"): "20240601000001",  # the correction is the newest receipt of that report
        (2024, "11013"): "20240516000555",
        (2024, "11012"): "20240814000001",
        (2024, "11014"): "20241114000001",
    }


def test_reports_already_stored_are_not_fetched_again(tmp_path: Path) -> None:
    capture = fetch.RawCapture(LocalObjectStore(tmp_path), company_id=stubs.SAMSUNG)
    with StubServer() as stub:
        stubs.serve_dart(stub, with_q1_2024=True)
        client = stubs.resources_for(stub)["dart"].client(raw_sink=capture)
        stored = {"fnlttSinglAcntAll:2023:11011": stubs.SAMSUNG_FY2023_RCEPT}
        counts = fetch.fetch_dart_documents(
            client, stubs.SAMSUNG_CORP, today=dt.date(2024, 11, 25), stored_rcept=stored.get
        )
        client.close()
        statements = stub.requests_to("/api/fnlttSinglAcntAll.json")
    assert counts == {"statements": 1, "skipped_unchanged": 1, "events": 3}
    assert {(r.param("bsns_year"), r.param("reprt_code"), r.param("fs_div")) for r in statements} == {
        ("2024", "11013", "CFS")
    }
    kinds = [row["kind"] for row in capture.take_rows()]
    assert kinds[:2] == ["company", "list:A:p1"] and "auditOpinion:2023" in kinds
    assert (
        fetch.rcept_no_of(json.dumps(stubs.samsung_q1_2024_payload()).encode()) == stubs.SAMSUNG_Q1_2024_RCEPT
    )


def test_one_failing_company_does_not_stop_the_others(tmp_path: Path) -> None:
    import dagster as dg
    import pandas as pd

    from risk_assets.defs.sources.providers import fetch_live_documents
    from risk_assets.storage.warehouse import Warehouse

    store = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    store.create_schema()
    objects = LocalObjectStore(tmp_path / "objects")
    companies = pd.DataFrame(
        [
            {"company_id": "sec-0000000001", "cik": "0000000001", "dart_corp_code": None},
            {"company_id": stubs.APPLE, "cik": stubs.APPLE_CIK, "dart_corp_code": None},
        ]
    )
    with StubServer() as stub:
        stubs.serve_sec(stub)
        # SEC's answer for an unknown CIK: HTTP 404 with an S3-style XML body (recorded).
        stub.route(
            "GET",
            "/submissions/CIK0000000001.json",
            StubResponse.file(
                stubs.FIXTURES / "sec_edgar" / "submissions" / "CIK-000000001.json.404.xml",
                status=404,
                content_type="application/xml",
            ),
        )
        resources = stubs.resources_for(stub)
        stored, _bytes, failed = fetch_live_documents(
            resources["sec"], resources["dart"], store, objects, companies, dg.build_asset_context().log
        )
    assert failed == ["sec-0000000001"]
    assert set(store.read("raw_filings")["company_id"]) == {stubs.APPLE} and stored == 3
    store.dispose()
