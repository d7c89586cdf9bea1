"""OpenDartClient against the stub serving real OpenDART recordings.

Real bodies: company.json and list.json for Samsung, fnlttSinglAcntAll CFS (bundled, 176 rows) and OFS
(first row only), the DS005 event files, and the CORPCODE.xml excerpt. Not recorded anywhere, so built
here from the documented format (API_NOTES.md, dart-fss checker.py): the status bodies 013/020/010/100
(``{"status": ..., "message": ...}``), the XML status body a ZIP endpoint sends on a key error, and the
corpCode ZIP itself (a ZIP wrapped around the real CORPCODE excerpt).
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest

from risk_assets.clients.dart import OpenDartClient, parse_corp_codes
from risk_assets.clients.http import AccessDenied, BadResponse, DailyCapReached, RateLimited, SourceError
from tests.clients.conftest import (
    BUNDLED,
    FIXTURES,
    FakeTime,
    assert_cut_short_and_html_bodies_are_bad,
    fixture_bytes,
)
from tests.support.stub_server import StubResponse

KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 characters, like a real crtfc_key
DART = FIXTURES / "opendart"
SAMSUNG = "00126380"
COMPANY = DART / "company" / "company_00126380.json"
LIST_P2 = DART / "list" / "list_00126380_page_count2.json"
CFS = BUNDLED / "opendart" / "fnlttSinglAcntAll" / "00126380_2023_11011_CFS.sjunepark-golden.json"
OFS = DART / "fnlttSinglAcntAll" / "00126380_2023_11011_OFS.first-row-only.json"
CORPCODE = DART / "corpCode" / "CORPCODE.listed-only.excerpt.xml"
JSON_TYPE = "application/json;charset=UTF-8"

# Documented status bodies (API_NOTES.md "Status codes"); the 013 message is quoted there verbatim.
NO_DATA = {"status": "013", "message": "조회된 데이타가 없습니다."}
RATE_LIMITED = {"status": "020", "message": "요청 제한을 초과하였습니다."}
BAD_KEY = {"status": "010", "message": "등록되지 않은 키입니다."}
BAD_FIELD = {"status": "100", "message": "필드의 부적절한 값입니다."}


def client_for(stub, fake_time, sink=None, **kwargs) -> OpenDartClient:
    return OpenDartClient(
        api_key=KEY, base_url=f"{stub.url}/api", raw_sink=sink, max_retries=2, **fake_time.kwargs(), **kwargs
    )


@pytest.fixture
def dart(stub, fake_time, sink):
    with client_for(stub, fake_time, sink) as client:
        yield client


def test_company_returns_samsung_overview_and_sends_the_key(stub, dart, sink):
    stub.route(
        "GET",
        "/api/company.json",
        StubResponse.file(COMPANY, content_type=JSON_TYPE),
        query={"corp_code": SAMSUNG},
    )
    company = dart.company(SAMSUNG)
    assert company["corp_name"] == "삼성전자(주)"
    assert company["induty_code"] == "264"
    assert company["stock_code"] == "005930"
    assert company["acc_mt"] == "12"
    assert "status" not in company
    assert stub.requests[0].param("crtfc_key") == KEY
    assert sink.calls == [("opendart/company/00126380.json", fixture_bytes(COMPANY), JSON_TYPE)]


def test_company_with_status_013_is_none(stub, dart):
    stub.route("GET", "/api/company.json", StubResponse.json(NO_DATA))
    assert dart.company("00000001") is None


def test_disclosures_pages_until_total_page(stub, dart, sink):
    # The recording is page 1 of 8 (page_count 2, total_page 8). Serving it for every page_no checks that
    # the client follows total_page; the repeated rows are de-duplicated on rcept_no.
    stub.route("GET", "/api/list.json", StubResponse.file(LIST_P2, content_type=JSON_TYPE))
    rows = dart.disclosures(SAMSUNG, "20240101", "20240131")
    requests = stub.requests_to("/api/list.json")
    assert [r.param("page_no") for r in requests] == [str(n) for n in range(1, 9)]
    assert {r.param("page_count") for r in requests} == {"100"}
    assert {r.param("corp_code") for r in requests} == {SAMSUNG}
    assert [r["rcept_no"] for r in rows] == ["20240131000326", "20240131800110"]
    assert rows[0]["report_nm"] == "특수관계인과의내부거래"
    assert len(sink.calls) == 8 and all(body == fixture_bytes(LIST_P2) for _, body, _ in sink.calls)


def test_disclosures_with_013_is_empty(stub, dart):
    stub.route("GET", "/api/list.json", StubResponse.json(NO_DATA))
    assert dart.disclosures(SAMSUNG, "20240101", "20240131", pblntf_ty="B") == []
    assert stub.requests[0].param("pblntf_ty") == "B"


def test_disclosures_refuses_a_ticker_for_a_corp_code(dart):
    with pytest.raises(ValueError, match="8-digit"):
        dart.disclosures("005930", "20240101", "20240131")


def test_statements_consolidated(stub, dart, sink):
    stub.route(
        "GET",
        "/api/fnlttSinglAcntAll.json",
        StubResponse.file(CFS, content_type=JSON_TYPE),
        query={"corp_code": SAMSUNG, "bsns_year": "2023", "reprt_code": "11011", "fs_div": "CFS"},
    )
    result = dart.statements(SAMSUNG, 2023, "11011")
    assert result.fs_div == "CFS"
    assert len(result.rows) == 176  # BS 52 + IS 18 + CIS 13 + CF 39 + SCE 54 (SOURCE.md)
    assert result.rcept_no == "20240312000736"
    assert len(stub.requests) == 1
    assert sink.keys == ["opendart/fnlttSinglAcntAll/00126380_2023_11011_CFS.json"]
    assert sink.calls[0][1] == fixture_bytes(CFS)


def test_statements_fall_back_to_separate_when_consolidated_is_013(stub, dart, sink):
    stub.route("GET", "/api/fnlttSinglAcntAll.json", StubResponse.json(NO_DATA), query={"fs_div": "CFS"})
    stub.route(
        "GET",
        "/api/fnlttSinglAcntAll.json",
        StubResponse.file(OFS, content_type=JSON_TYPE),
        query={"fs_div": "OFS"},
    )
    result = dart.statements(SAMSUNG, "2023", "11011")
    assert [r.param("fs_div") for r in stub.requests] == ["CFS", "OFS"]
    assert result.fs_div == "OFS"
    assert result.rows[0]["account_id"] == "ifrs-full_Assets"
    assert result.rows[0]["thstrm_amount"] == "296857289000000"  # separate total assets, FY2023 (recording)
    assert sink.keys == [
        "opendart/fnlttSinglAcntAll/00126380_2023_11011_CFS.json",
        "opendart/fnlttSinglAcntAll/00126380_2023_11011_OFS.json",
    ]


def test_statements_empty_on_both_bases(stub, dart):
    stub.route("GET", "/api/fnlttSinglAcntAll.json", StubResponse.json(NO_DATA))
    result = dart.statements(SAMSUNG, "2015", "11013")
    assert (result.fs_div, result.rows, result.rcept_no) == (None, [], None)
    assert len(stub.requests) == 2


def test_major_events_from_the_recorded_distress_filings(stub, dart):
    for endpoint, name in [
        ("dfOcr", "dfOcr_00126089.json"),
        ("ctrcvsBgrq", "ctrcvsBgrq_00126089.json"),
        ("bnkMngtPcbg", "bnkMngtPcbg_00153861.json"),
    ]:
        stub.route(
            "GET", f"/api/{endpoint}.json", StubResponse.file(DART / endpoint / name, content_type=JSON_TYPE)
        )
    dishonoured = dart.major_events("dfOcr", "00126089", "20230101", "20231231")
    assert dishonoured[0]["rcept_no"] == "20231012000317"
    assert dishonoured[0]["df_amt"] == "48,322,175"
    rehab = dart.major_events("ctrcvsBgrq", "00126089", "20230101", "20231231")
    assert rehab[0]["cpct"] == "서울회생법원"
    workout = dart.major_events("bnkMngtPcbg", "00153861", "20240101", "20251231")
    assert workout[0]["corp_name"] == "태영건설"
    assert stub.requests[0].param("bgn_de") == "20230101"
    with pytest.raises(ValueError):
        dart.major_events("lwstLg", "00126089", "20230101", "20231231")


def test_status_020_raises_rate_limited_and_then_stops_sending(stub, dart, fake_time):
    stub.route(
        "GET",
        "/api/company.json",
        [StubResponse.json(RATE_LIMITED), StubResponse.file(COMPANY, content_type=JSON_TYPE)],
    )
    with pytest.raises(RateLimited, match="020"):
        dart.company(SAMSUNG)
    assert len(stub.requests) == 1  # not retried: a 200 with 020 is not hammered
    with pytest.raises(RateLimited, match="not sending"):
        dart.company(SAMSUNG)
    assert len(stub.requests) == 1  # refused locally during the cool-down
    fake_time.advance(601)  # default cool-down is 600 s
    assert dart.company(SAMSUNG)["corp_code"] == SAMSUNG
    assert len(stub.requests) == 2


def test_key_problem_is_access_denied_without_leaking_the_key(stub, dart):
    stub.route("GET", "/api/company.json", StubResponse.json(BAD_KEY))
    with pytest.raises(AccessDenied) as err:
        dart.company(SAMSUNG)
    assert "010" in str(err.value)
    assert KEY not in str(err.value)
    assert "crtfc_key=***" in str(err.value)


def test_other_status_is_source_error_with_code_and_message(stub, dart):
    stub.route("GET", "/api/company.json", StubResponse.json(BAD_FIELD))
    with pytest.raises(SourceError) as err:
        dart.company(SAMSUNG)
    assert "100" in str(err.value) and "필드의 부적절한 값입니다." in str(err.value)


def test_429_retry_after_and_500_then_recorded_200(stub, dart, fake_time):
    stub.route(
        "GET",
        "/api/company.json",
        [
            StubResponse(status=429, headers={"Retry-After": "4"}),
            StubResponse.text("error", status=500),
            StubResponse.file(COMPANY, content_type=JSON_TYPE),
        ],
    )
    assert dart.company(SAMSUNG)["induty_code"] == "264"
    assert fake_time.sleeps[0] == 4.0
    # second retry: ceiling 0.5 * 2**1 = 1.0 s, equal jitter in [0.5, 1.0]
    assert 0.5 <= fake_time.sleeps[1] <= 1.0
    assert len(stub.requests) == 3


def test_truncated_and_html_bodies_are_bad_responses(stub, dart):
    recorded = StubResponse.file(COMPANY, content_type=JSON_TYPE)
    assert_cut_short_and_html_bodies_are_bad(
        stub, "/api/company.json", recorded, lambda: dart.company(SAMSUNG)
    )


def test_daily_cap_refuses_before_sending_and_resets_at_seoul_midnight(stub, sink):
    # 2026-03-05 14:59:00 UTC is 23:59:00 in Seoul (UTC+9); 61 s later it is the next Seoul day.
    clock = FakeTime(wall_start=datetime(2026, 3, 5, 14, 59, 0, tzinfo=UTC))
    stub.route("GET", "/api/company.json", StubResponse.file(COMPANY, content_type=JSON_TYPE))
    with client_for(stub, clock, sink, daily_request_cap=2) as dart:
        dart.company(SAMSUNG)
        dart.company(SAMSUNG)
        with pytest.raises(DailyCapReached, match="2026-03-05"):
            dart.company(SAMSUNG)
        assert len(stub.requests) == 2  # the third request never left
        clock.advance(61)
        assert dart.company(SAMSUNG)["corp_code"] == SAMSUNG
        assert len(stub.requests) == 3
        assert dart.daily_counter.used() == 1


def test_daily_cap_counts_retries(stub, fake_time):
    stub.route(
        "GET",
        "/api/company.json",
        [StubResponse.text("error", status=500), StubResponse.file(COMPANY, content_type=JSON_TYPE)],
    )
    with client_for(stub, fake_time, daily_request_cap=1) as dart, pytest.raises(DailyCapReached):
        dart.company(SAMSUNG)
    assert len(stub.requests) == 1


def _zip(xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("CORPCODE.xml", xml)
    return buffer.getvalue()


def test_corp_codes_unzips_and_parses_corpcode_xml(stub, dart, sink):
    archive = _zip(fixture_bytes(CORPCODE))
    stub.route(
        "GET", "/api/corpCode.xml", StubResponse(body=archive, content_type="application/x-msdownload")
    )
    rows = dart.corp_codes()
    assert len(rows) == 32  # entries in the excerpt (SOURCE.md)
    samsung = next(r for r in rows if r["corp_code"] == SAMSUNG)
    assert samsung["stock_code"] == "005930"
    assert samsung["corp_name"] == "삼성전자"
    hynix = next(r for r in rows if r["corp_code"] == "00164779")
    assert hynix["stock_code"] == "000660"
    assert sink.calls == [("opendart/corpCode.zip", archive, "application/x-msdownload")]


def test_corp_codes_xml_status_body_instead_of_zip_is_an_error(stub, dart):
    # HTTP 200, application/xml, status 010: observed by cpaikr/opendart (API_NOTES.md); body built here.
    body = '<?xml version="1.0" encoding="UTF-8"?><result><status>010</status><message>등록되지 않은 키입니다.</message></result>'
    stub.route(
        "GET", "/api/corpCode.xml", StubResponse.text(body, content_type="application/xml;charset=UTF-8")
    )
    with pytest.raises(AccessDenied, match="010"):
        dart.corp_codes()


def test_corp_codes_garbage_is_bad_response(stub, dart):
    stub.route(
        "GET",
        "/api/corpCode.xml",
        StubResponse(body=b"PK\x03\x04 not really a zip", content_type="application/zip"),
    )
    with pytest.raises(BadResponse, match="ZIP"):
        dart.corp_codes()


def test_parse_corp_codes_blank_stock_code_is_none():
    # The real file writes an unlisted company's stock code as a single space.
    xml = (
        "<result><list><corp_code>00434003</corp_code><corp_name>다코</corp_name>"
        "<corp_eng_name>Daco corporation</corp_eng_name><stock_code> </stock_code>"
        "<modify_date>20170630</modify_date></list></result>"
    ).encode()
    assert parse_corp_codes(xml) == [
        {
            "corp_code": "00434003",
            "corp_name": "다코",
            "corp_eng_name": "Daco corporation",
            "stock_code": None,
            "modify_date": "20170630",
        }
    ]


def test_refuses_an_empty_key():
    with pytest.raises(ValueError, match="API key"):
        OpenDartClient(api_key="  ")
