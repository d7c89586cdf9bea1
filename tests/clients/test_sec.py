"""SecEdgarClient against the stub serving real SEC recordings.

Real bodies: company_tickers.json, Tesla's submissions page + its older page 001, a CIK with no filings,
the 404 XML page, and Apple's companyfacts (bundled gz, decompressed). Made up here: the 429/500 status
lines and the 403 HTML page (no recording exists).
"""

from __future__ import annotations

import json

import pytest

from risk_assets.clients.http import AccessDenied, BadResponse, NotFound
from risk_assets.clients.sec import SecEdgarClient, cik10, merge_submission_pages
from tests.clients.conftest import BUNDLED, FIXTURES, fixture_bytes
from tests.support.stub_server import StubResponse

UA = "riskgraph-tests ops@example.com"
SUB = FIXTURES / "sec_edgar" / "submissions"
TESLA_FIRST = SUB / "CIK0001318605.json.gz"
TESLA_PAGE = SUB / "CIK0001318605-submissions-001.json.gz"
TICKERS = FIXTURES / "sec_edgar" / "company_tickers.json.gz"
APPLE_FACTS = BUNDLED / "sec" / "companyfacts" / "CIK0000320193.json.gz"
NOT_FOUND_XML = SUB / "CIK-000000001.json.404.xml"


@pytest.fixture
def sec(stub, fake_time, sink):
    with SecEdgarClient(
        user_agent=UA,
        base_url_data=stub.url,
        base_url_www=stub.url,
        raw_sink=sink,
        max_retries=3,
        **fake_time.kwargs(),
    ) as client:
        yield client


def test_company_tickers_sends_the_user_agent_and_maps_tickers(stub, sec, sink):
    stub.route("GET", "/files/company_tickers.json", StubResponse.file(TICKERS))
    rows = sec.company_tickers()
    assert len(rows) == 9610  # entries in the snapshot (SOURCE.md)
    assert rows[0] == {"cik": 789019, "ticker": "MSFT", "title": "MICROSOFT CORP"}  # first entry of the file
    assert {"cik": 320193, "ticker": "AAPL", "title": "Apple Inc."} in rows
    assert stub.requests[0].headers["user-agent"] == UA
    assert sink.calls == [("sec/company_tickers.json", fixture_bytes(TICKERS), "application/json")]


def test_submissions_follows_files_pages_and_merges_them(stub, sec, sink):
    stub.route("GET", "/submissions/CIK0001318605.json", StubResponse.file(TESLA_FIRST))
    stub.route("GET", "/submissions/CIK0001318605-submissions-001.json", StubResponse.file(TESLA_PAGE))
    merged = sec.submissions(1318605)

    first = json.loads(fixture_bytes(TESLA_FIRST))
    page = json.loads(fixture_bytes(TESLA_PAGE))
    recent = merged["filings"]["recent"]
    # 1,002 filings in the first page + 720 in page 001 (filingCount in filings.files) = 1,722
    assert len(recent["accessionNumber"]) == 1002 + 720
    assert all(len(column) == 1722 for column in recent.values())
    assert recent["accessionNumber"][:1002] == first["filings"]["recent"]["accessionNumber"]
    assert recent["accessionNumber"][1002:] == page["accessionNumber"]
    assert recent["filingDate"][-1] == page["filingDate"][-1]
    assert merged["filings"]["files"] == []
    assert merged["name"] == first["name"]
    assert [r.path for r in stub.requests] == [
        "/submissions/CIK0001318605.json",
        "/submissions/CIK0001318605-submissions-001.json",
    ]
    assert all(r.headers["user-agent"] == UA for r in stub.requests)
    assert sink.keys == [
        "sec/submissions/CIK0001318605.json",
        "sec/submissions/CIK0001318605-submissions-001.json",
    ]
    assert [body for _, body, _ in sink.calls] == [fixture_bytes(TESLA_FIRST), fixture_bytes(TESLA_PAGE)]


def test_submissions_of_a_filer_without_filings(stub, sec):
    stub.route("GET", "/submissions/CIK0000350001.json", StubResponse.file(SUB / "CIK0000350001.json"))
    merged = sec.submissions("CIK0000350001")
    assert merged["filings"]["recent"]["accessionNumber"] == []
    assert len(stub.requests) == 1


def test_companyfacts_returns_the_bundled_apple_facts_byte_for_byte(stub, sec, sink):
    stub.route("GET", "/api/xbrl/companyfacts/CIK0000320193.json", StubResponse.file(APPLE_FACTS))
    facts = sec.companyfacts("320193")
    assert facts["cik"] == 320193
    assert facts["entityName"] == "Apple Inc."
    assert "Assets" in facts["facts"]["us-gaap"]
    assert sink.calls[0][0] == "sec/companyfacts/CIK0000320193.json"
    assert sink.calls[0][1] == fixture_bytes(APPLE_FACTS)  # 3,709,629 bytes, unchanged


def test_unknown_cik_is_not_found_from_the_real_404_xml(stub, sec, sink):
    # Recorded for CIK-000000001; served here for CIK 1 (an unused CIK) -- same body and content type.
    stub.route(
        "GET",
        "/submissions/CIK0000000001.json",
        StubResponse.file(NOT_FOUND_XML, status=404, content_type="application/xml"),
    )
    with pytest.raises(NotFound) as err:
        sec.submissions(1)
    assert err.value.status == 404
    assert "CIK0000000001.json" in err.value.url
    assert "NoSuchKey" in str(err.value)
    assert len(stub.requests) == 1
    assert sink.calls == []  # error bodies are not stored as data


def test_429_with_retry_after_then_200(stub, sec, fake_time):
    stub.route(
        "GET",
        "/submissions/CIK0000350001.json",
        [
            StubResponse(status=429, headers={"Retry-After": "5"}),
            StubResponse.file(SUB / "CIK0000350001.json"),
        ],
    )
    sec.submissions(350001)
    assert fake_time.sleeps == [5.0]  # the limiter's 0.1 s slot had long passed after the 5 s wait


def test_500_then_200(stub, sec, fake_time):
    stub.route(
        "GET",
        "/submissions/CIK0000350001.json",
        [
            StubResponse.text("Internal Server Error", status=500),
            StubResponse.file(SUB / "CIK0000350001.json"),
        ],
    )
    assert sec.submissions(350001)["filings"]["files"] == []
    assert len(stub.requests) == 2
    assert len(fake_time.sleeps) == 1 and 0.25 <= fake_time.sleeps[0] <= 0.5


def test_truncated_body_is_bad_response(stub, sec):
    stub.route(
        "GET",
        "/submissions/CIK0001318605.json",
        StubResponse(body=fixture_bytes(TESLA_FIRST)[:20000], content_type="application/json"),
    )
    with pytest.raises(BadResponse):
        sec.submissions(1318605)


def test_403_undeclared_tool_page_is_access_denied(stub, sec):
    # Shape of SEC's block page (HTML, 403); no recording exists, so the text is ours.
    page = "<html><body><h1>Your Request Originates from an Undeclared Automated Tool</h1></body></html>"
    stub.route(
        "GET",
        "/submissions/CIK0000350001.json",
        StubResponse.text(page, status=403, content_type="text/html"),
    )
    with pytest.raises(AccessDenied) as err:
        sec.submissions(350001)
    assert "User-Agent" in str(err.value)


def test_rate_limiter_spaces_requests_below_secs_ceiling(stub, sec, fake_time):
    stub.route("GET", "/submissions/CIK0000350001.json", StubResponse.file(SUB / "CIK0000350001.json"))
    for _ in range(5):
        sec.submissions(350001)
    # fake clock only moves when the client sleeps: the default 9/s (SEC allows 10) means 1/9 s between requests,
    # which the limiter counts in whole milliseconds rounded up (0.112 s): never faster than 9/s
    assert fake_time.sleeps == pytest.approx([0.112] * 4)
    assert all(gap >= 1 / 9 for gap in fake_time.sleeps)
    assert len(stub.requests) == 5


@pytest.mark.parametrize("user_agent", ["", "   ", "python-httpx/0.28"])
def test_refuses_a_missing_or_anonymous_user_agent(user_agent):
    with pytest.raises(ValueError, match="User-Agent"):
        SecEdgarClient(user_agent=user_agent)


def test_cik_normalisation():
    assert cik10(320193) == "0000320193"
    assert cik10("CIK0000320193") == "0000320193"
    with pytest.raises(ValueError):
        cik10("-000000001")


def test_merge_pads_columns_missing_on_one_side():
    first = {"filings": {"recent": {"form": ["10-K"], "items": [""]}, "files": [{"name": "p"}]}}
    page = {"form": ["8-K", "10-Q"], "extra": [1, 2]}
    merged = merge_submission_pages(first, [page])["filings"]["recent"]
    assert merged == {"form": ["10-K", "8-K", "10-Q"], "items": ["", None, None], "extra": [None, 1, 2]}
