"""FredClient against the stub serving real FRED recordings (GDP default and initial-release bodies).

No FRED error body was ever recorded: the HTTP 400 bodies below are built from the documented shape
``{"error_code": 400, "error_message": "..."}`` (API_NOTES.md). The two-page case slices the real
initial-release payload at 100 observations (the recording itself is a single page of 132).
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from risk_assets.clients.fred import FredClient, parse_observations
from risk_assets.clients.http import AccessDenied, NotFound, SourceError
from tests.clients.conftest import FIXTURES, fixture_bytes
from tests.support.stub_server import StubResponse

KEY = "abcdefghij0123456789abcdefghij01"  # 32 lowercase alphanumerics, like a real key
PATH = "/fred/series/observations"
FRED_TYPE = "application/json; charset=UTF-8"
INITIAL = FIXTURES / "fred" / "series_observations_GDP_output_type4_initial_release.json"
DEFAULT = FIXTURES / "fred" / "series_observations_GDP.json"
INITIAL_QUERY = {"series_id": "GDP", "output_type": "4", "realtime_start": "1776-07-04", "file_type": "json"}


@pytest.fixture
def fred(stub, fake_time, sink):
    with FredClient(
        api_key=KEY,
        base_url=f"{stub.url}/fred",
        publication_lag_days={"GDP": 30},
        raw_sink=sink,
        max_retries=2,
        **fake_time.kwargs(),
    ) as client:
        yield client


def by_date(rows):
    return {row["observation_date"]: row for row in rows}


def test_first_releases_carry_their_own_release_date(stub, fred, sink):
    stub.route("GET", PATH, StubResponse.file(INITIAL, content_type=FRED_TYPE), query=INITIAL_QUERY)
    rows = fred.observations("GDP")
    assert len(rows) == 132  # "count":132 in the recording
    q2 = by_date(rows)[date(2024, 4, 1)]
    # recording: {"realtime_start":"2024-07-25",...,"date":"2024-04-01","value":"28629.153"}
    assert q2 == {
        "series_id": "GDP",
        "observation_date": date(2024, 4, 1),
        "value": 28629.153,
        "released_at": date(2024, 7, 25),
        "release_basis": "first_release",
    }
    assert rows[0]["observation_date"] == date(1991, 10, 1)
    assert rows[0]["released_at"] == date(1992, 1, 29)
    request = stub.requests[0]
    assert request.param("api_key") == KEY
    assert request.param("output_type") == "4" and request.param("realtime_start") == "1776-07-04"
    assert sink.calls[0][1] == fixture_bytes(INITIAL)
    assert sink.calls[0][0] == "fred/observations/GDP_first_release_all_all_o0.json"
    assert KEY not in sink.calls[0][0]


def test_latest_values_use_the_configured_lag_not_todays_realtime_start(stub, fred):
    stub.route("GET", PATH, StubResponse.file(DEFAULT, content_type=FRED_TYPE), query={"series_id": "GDP"})
    rows = fred.observations("GDP", first_release_only=False)
    assert len(rows) == 315  # "count":315
    assert [r["value"] for r in rows[:4]] == [None, None, None, None]  # "." in the recording
    q2 = by_date(rows)[date(2024, 4, 1)]
    # revised value 29016.714 (vs 28629.153 first released); every row says realtime_start 2024-10-30, ignored:
    # released_at = 2024-04-01 + 30 days = 2024-05-01
    assert q2["value"] == 29016.714
    assert q2["released_at"] == date(2024, 5, 1)
    assert q2["release_basis"] == "publication_lag"
    assert "output_type" not in stub.requests[0].query


def test_latest_values_without_a_lag_are_refused_before_sending(stub, fake_time):
    with (
        FredClient(api_key=KEY, base_url=f"{stub.url}/fred", **fake_time.kwargs()) as client,
        pytest.raises(ValueError, match="publication_lag_days"),
    ):
        client.observations("DGS10", first_release_only=False)
    assert stub.requests == []


def test_pages_with_offset_when_count_exceeds_limit(stub, fake_time):
    whole = json.loads(fixture_bytes(INITIAL))
    first = {**whole, "limit": 100, "offset": 0, "observations": whole["observations"][:100]}
    second = {**whole, "limit": 100, "offset": 100, "observations": whole["observations"][100:]}
    stub.route("GET", PATH, StubResponse.json(first), query={"offset": "0"})
    stub.route("GET", PATH, StubResponse.json(second), query={"offset": "100"})
    with FredClient(api_key=KEY, base_url=f"{stub.url}/fred", page_limit=100, **fake_time.kwargs()) as client:
        rows = client.observations("GDP")
    assert [r.param("offset") for r in stub.requests] == ["0", "100"]
    assert {r.param("limit") for r in stub.requests} == {"100"}
    assert len(rows) == 132
    assert rows == parse_observations(whole, "GDP")
    # the default 100 requests/minute (FRED allows 120) -> 0.6 s between the two pages
    assert fake_time.sleeps == pytest.approx([0.6])


def test_unknown_series_400_is_not_found_and_key_is_redacted(stub, fred):
    body = {"error_code": 400, "error_message": "Bad Request.  The series does not exist."}
    stub.route("GET", PATH, StubResponse.json(body, status=400, content_type=FRED_TYPE))
    with pytest.raises(NotFound) as err:
        fred.observations("NOPE")
    assert err.value.status == 400
    assert "The series does not exist." in str(err.value)
    assert KEY not in str(err.value)
    assert len(stub.requests) == 1  # 400 is not retried


def test_missing_key_400_is_access_denied(stub, fred):
    body = {"error_code": 400, "error_message": "Bad Request.  Variable api_key is not set."}
    stub.route("GET", PATH, StubResponse.json(body, status=400, content_type=FRED_TYPE))
    with pytest.raises(AccessDenied, match="api_key is not set"):
        fred.observations("GDP")


def test_other_400_is_source_error(stub, fred):
    body = {"error_code": 400, "error_message": "Bad Request.  Variable observation_start is not a date."}
    stub.route("GET", PATH, StubResponse.json(body, status=400, content_type=FRED_TYPE))
    with pytest.raises(SourceError, match="observation_start"):
        fred.observations("GDP", observation_start="yesterday")


def test_429_retry_after_then_500_then_recorded_200(stub, fred, fake_time):
    stub.route(
        "GET",
        PATH,
        [
            StubResponse(status=429, headers={"Retry-After": "9"}),
            StubResponse.text("Internal Server Error", status=500),
            StubResponse.file(INITIAL, content_type=FRED_TYPE),
        ],
    )
    assert len(fred.observations("GDP")) == 132
    assert fake_time.sleeps[0] == 9.0
    assert len(stub.requests) == 3


def test_truncated_body_is_bad_response(stub, fred):
    from risk_assets.clients.http import BadResponse

    stub.route("GET", PATH, StubResponse(body=fixture_bytes(INITIAL)[:777], content_type=FRED_TYPE))
    with pytest.raises(BadResponse):
        fred.observations("GDP")


def test_parse_observations_without_lag_leaves_release_unknown():
    payload = json.loads(fixture_bytes(DEFAULT))
    rows = parse_observations(payload, "GDP")
    assert {r["released_at"] for r in rows} == {None}
    assert rows[4]["value"] == 243.164  # 1947-01-01, first non-missing value in the recording
