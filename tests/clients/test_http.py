"""The shared HttpClient: retries, Retry-After, backoff, giving up, truncation, HTML pages, redaction, rate limiting.

The 200 bodies are real recordings (FRED GDP initial releases, OpenDART company.json). The 429/500/503
status lines, the HTML error page and the cut transfers are made up here: no recording of them exists.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from pyrate_limiter import Duration, Rate

from risk_assets.clients.http import (
    BadResponse,
    HttpClient,
    NotFound,
    RateLimited,
    RateLimiter,
    RetryPolicy,
    SourceError,
    SourceUnavailable,
    parse_retry_after,
    redact,
)
from tests.clients.conftest import FIXTURES, fixture_bytes
from tests.support.stub_server import StubResponse, StubServer

GDP_FILE = FIXTURES / "fred" / "series_observations_GDP_output_type4_initial_release.json"
GDP_BYTES = fixture_bytes(GDP_FILE)
FRED_TYPE = "application/json; charset=UTF-8"  # as recorded (responses_meta.json)
PATH = "/fred/series/observations"


def gdp_response() -> StubResponse:
    return StubResponse.file(GDP_FILE, content_type=FRED_TYPE)


def make_client(stub: StubServer, fake_time, sink=None, max_retries: int = 3, **kwargs) -> HttpClient:
    return HttpClient(
        source="test",
        base_url=stub.url,
        retry=RetryPolicy(max_retries=max_retries, backoff_base_seconds=0.5, max_retry_after_seconds=120),
        raw_sink=sink,
        sleep=fake_time.sleep,
        wall_clock=fake_time.wall,
        **kwargs,
    )


def test_success_hands_exact_bytes_to_the_sink_before_returning(stub, fake_time, sink):
    stub.route("GET", PATH, gdp_response())
    with make_client(stub, fake_time, sink) as client:
        payload = client.get_json(PATH, sink_key="fred/gdp.json")
    assert sink.calls == [("fred/gdp.json", GDP_BYTES, FRED_TYPE)]
    assert payload["count"] == 132  # from the recording
    assert fake_time.sleeps == []


def test_429_with_retry_after_seconds_is_honoured_then_200(stub, fake_time, sink):
    stub.route("GET", PATH, [StubResponse(status=429, headers={"Retry-After": "7"}), gdp_response()])
    with make_client(stub, fake_time, sink) as client:
        payload = client.get_json(PATH)
    assert fake_time.sleeps == [7.0]
    assert len(stub.requests_to(PATH)) == 2
    assert payload["observations"][0]["date"] == "1991-10-01"
    # only the successful body is stored
    assert [body for _, body, _ in sink.calls] == [GDP_BYTES]


@pytest.mark.parametrize(
    ("retry_after", "sleeps"),
    [
        # fake wall clock starts at 2026-03-05 12:00:00 UTC; the server asks for 12:00:30 -> 30 s
        ("Thu, 05 Mar 2026 12:00:30 GMT", [30.0]),
        # a date in the past asks to wait 0 s: retried at once, no sleep at all
        ("Thu, 05 Mar 2026 11:00:00 GMT", []),
    ],
    ids=["future-date-waits-until-then", "past-date-retries-at-once"],
)
def test_429_with_retry_after_http_date_waits_until_that_date(stub, fake_time, retry_after, sleeps):
    stub.route("GET", PATH, [StubResponse(status=429, headers={"Retry-After": retry_after}), gdp_response()])
    with make_client(stub, fake_time) as client:
        assert client.get(PATH).body == GDP_BYTES
    assert fake_time.sleeps == sleeps
    assert len(stub.requests_to(PATH)) == 2


def test_retry_after_beyond_the_cap_raises_rate_limited_without_waiting(stub, fake_time):
    stub.route("GET", PATH, [StubResponse(status=429, headers={"Retry-After": "3600"}), gdp_response()])
    with make_client(stub, fake_time) as client, pytest.raises(RateLimited) as err:
        client.get(PATH)
    assert err.value.retry_after_seconds == 3600.0
    assert err.value.status == 429
    assert fake_time.sleeps == []
    assert len(stub.requests_to(PATH)) == 1


def test_500_then_200_backs_off_with_jitter(stub, fake_time):
    stub.route("GET", PATH, [StubResponse.text("oops", status=500), gdp_response()])
    with make_client(stub, fake_time) as client:
        assert client.get(PATH).body == GDP_BYTES
    # first retry: ceiling = 0.5 * 2**0 = 0.5 s; equal jitter draws within [0.25, 0.5]
    assert len(fake_time.sleeps) == 1
    assert 0.25 <= fake_time.sleeps[0] <= 0.5


def test_persistent_503_gives_source_unavailable_after_exponential_backoff(stub, fake_time):
    stub.route("GET", PATH, StubResponse.text("maintenance", status=503))
    with make_client(stub, fake_time, max_retries=3) as client, pytest.raises(SourceUnavailable) as err:
        client.get(PATH, params={"series_id": "GDP", "api_key": "k3y"})
    assert err.value.status == 503
    assert len(stub.requests_to(PATH)) == 4  # first attempt + 3 retries
    # the error says it gave up, after how many attempts, and where (the key redacted)
    assert err.value.url == f"{stub.url}{PATH}?series_id=GDP&api_key=***"
    assert "gave up after 4 attempts" in str(err.value)
    assert "maintenance" in str(err.value)
    # ceilings 0.5, 1.0, 2.0 s; each sleep lies in [ceiling/2, ceiling]
    for attempt, slept in enumerate(fake_time.sleeps):
        ceiling = 0.5 * 2**attempt
        assert ceiling / 2 <= slept <= ceiling
    assert len(fake_time.sleeps) == 3


def test_persistent_429_gives_rate_limited(stub, fake_time):
    stub.route("GET", PATH, StubResponse(status=429, headers={"Retry-After": "2"}))
    with make_client(stub, fake_time, max_retries=2) as client, pytest.raises(RateLimited) as err:
        client.get(PATH)
    assert fake_time.sleeps == [2.0, 2.0]
    assert "still rate limited, gave up after 3 attempts" in str(err.value)
    assert err.value.url == f"{stub.url}{PATH}"
    assert err.value.retry_after_seconds == 2.0


def test_503_with_retry_after_waits_as_asked_instead_of_backing_off(stub, fake_time):
    # a provider in maintenance says when to come back; that wait replaces the backoff
    stub.route(
        "GET",
        PATH,
        [StubResponse.text("maintenance", status=503, headers={"Retry-After": "45"}), gdp_response()],
    )
    with make_client(stub, fake_time) as client:
        assert client.get(PATH).body == GDP_BYTES
    assert fake_time.sleeps == [45.0]


def test_truncated_json_body_is_bad_response_and_still_stored(stub, fake_time, sink):
    cut = GDP_BYTES[:5000]  # the real body cut mid-array, served with a correct Content-Length
    stub.route("GET", PATH, StubResponse(body=cut, content_type=FRED_TYPE))
    with make_client(stub, fake_time, sink) as client, pytest.raises(BadResponse) as err:
        client.get_json(PATH)
    assert "truncated or invalid JSON" in str(err.value)
    assert sink.calls[0][1] == cut  # stored before parsing, so a parser fix can re-read it
    assert len(stub.requests_to(PATH)) == 1  # a bad body is not retried


def test_cut_transfer_is_retried_then_succeeds(stub, fake_time):
    stub.route(
        "GET", PATH, [StubResponse.file(GDP_FILE, content_type=FRED_TYPE, truncate_at=4000), gdp_response()]
    )
    with make_client(stub, fake_time) as client:
        assert client.get(PATH).body == GDP_BYTES
    assert len(stub.requests_to(PATH)) == 2


def test_cut_transfer_that_persists_is_bad_response(stub, fake_time):
    stub.route("GET", PATH, StubResponse.file(GDP_FILE, content_type=FRED_TYPE, truncate_at=4000))
    with make_client(stub, fake_time, max_retries=1) as client, pytest.raises(BadResponse) as err:
        client.get(PATH)
    assert "truncated" in str(err.value)


def test_html_error_page_with_200_is_bad_response(stub, fake_time):
    page = "<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>Try later</body></html>"
    stub.route("GET", PATH, StubResponse.text(page, content_type="text/html; charset=utf-8"))
    with make_client(stub, fake_time) as client, pytest.raises(BadResponse) as err:
        client.get_json(PATH)
    assert "text/html" in str(err.value)
    assert "Service Unavailable" in str(err.value)


def test_404_is_not_found_and_not_retried(stub, fake_time):
    stub.route("GET", PATH, StubResponse.text("no such thing", status=404))
    with make_client(stub, fake_time) as client, pytest.raises(NotFound):
        client.get(PATH)
    assert len(stub.requests_to(PATH)) == 1


def test_connection_refused_is_source_unavailable_after_retries(fake_time):
    server = StubServer()
    dead_url = server.url
    server.stop()  # nothing listens on that port any more
    client = HttpClient(
        source="test",
        base_url=dead_url,
        retry=RetryPolicy(max_retries=2),
        sleep=fake_time.sleep,
        timeout=2,
    )
    with client, pytest.raises(SourceUnavailable) as err:
        client.get("/x")
    assert "transport error, gave up after 3 attempts" in str(err.value)
    assert err.value.url == f"{dead_url}/x"
    assert len(fake_time.sleeps) == 2


def test_a_transport_error_that_would_repeat_is_not_retried(fake_time):
    # an unsupported scheme fails identically every time: no retry, no wait
    client = HttpClient(source="test", base_url="ftp://127.0.0.1:9", sleep=fake_time.sleep)
    with client, pytest.raises(SourceError) as err:
        client.get("/x")
    assert "UnsupportedProtocol" in str(err.value)
    assert "gave up after 1 attempt:" in str(err.value)
    assert fake_time.sleeps == []


def test_api_keys_never_appear_in_error_messages(stub, fake_time):
    secret = "abcdef0123456789abcdef0123456789"
    stub.route("GET", f"/path/{secret}/x", StubResponse.text(f"bad key {secret}", status=400))
    client = HttpClient(source="test", base_url=stub.url, secrets=(secret,), sleep=fake_time.sleep)
    with client, pytest.raises(SourceError) as err:
        client.get(f"/path/{secret}/x", params={"api_key": secret, "series_id": "GDP"})
    text = str(err.value)
    assert secret not in text
    assert "api_key=***" in text
    assert "series_id=GDP" in text
    # the request really carried the key: only the message is redacted
    assert stub.requests[0].param("api_key") == secret


def test_redact_strips_known_query_keys_even_without_the_secret_list():
    url = "https://opendart.fss.or.kr/api/list.json?crtfc_key=SECRET40&corp_code=00126380"
    assert redact(url) == "https://opendart.fss.or.kr/api/list.json?crtfc_key=***&corp_code=00126380"


def test_parse_retry_after_forms():
    now = datetime(2026, 3, 5, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Thu, 05 Mar 2026 12:02:00 GMT", now) == 120.0
    assert parse_retry_after("Thu, 05 Mar 2026 11:00:00 GMT", now) == 0.0  # a date in the past: go now
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


class SharedFakeClock:
    """A fake monotonic clock several threads can sleep on: each sleep moves it forward under a lock."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def test_rate_limiter_spaces_sequential_calls(fake_time):
    limiter = RateLimiter(Rate(10, Duration.SECOND, burst=1), clock=fake_time.clock, sleep=fake_time.sleep)
    granted = [limiter.acquire() for _ in range(4)]
    # 10/s -> 0.1 s apart; the first call goes at once
    assert granted == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert fake_time.sleeps == pytest.approx([0.1, 0.1, 0.1])


def test_rate_limiter_burst_lets_the_first_calls_through(fake_time):
    limiter = RateLimiter(Rate(2, Duration.SECOND, burst=3), clock=fake_time.clock, sleep=fake_time.sleep)
    granted = [limiter.acquire() for _ in range(5)]
    # 3 slots free at once, then one every 1/2 s
    assert granted == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0])


def test_rate_limiter_per_minute_and_per_interval_rates(fake_time):
    per_minute = RateLimiter(
        Rate(100, Duration.MINUTE, burst=1), clock=fake_time.clock, sleep=fake_time.sleep
    )
    assert [per_minute.acquire() for _ in range(3)] == pytest.approx([0.0, 0.6, 1.2])  # FRED's 100/min
    every_200ms = RateLimiter(Rate(1, Duration.SECOND * 0.2), clock=fake_time.clock, sleep=fake_time.sleep)
    start = fake_time.now
    assert [every_200ms.acquire() - start for _ in range(3)] == pytest.approx([0.0, 0.2, 0.4])  # OpenDART's


def test_rate_limiter_is_thread_safe_no_two_threads_share_a_slot():
    shared = SharedFakeClock()
    limiter = RateLimiter(Rate(10, Duration.SECOND, burst=1), clock=shared.clock, sleep=shared.sleep)
    granted: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker() -> None:
        barrier.wait()
        slot = limiter.acquire()
        with lock:
            granted.append(slot)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # however the threads interleave (each one's sleep moves the shared clock), every grant is at least
    # 0.1 s after the one before it on the limiter's clock
    granted.sort()
    assert len(granted) == 20
    assert all(later - earlier >= 0.1 - 1e-9 for earlier, later in zip(granted, granted[1:], strict=False))


def test_rate_limit_spaces_requests_the_server_receives(stub, fake_time, sink):
    # the fake clock moves only when the client sleeps, so the clock reading when each body reaches the sink
    # is the time its request was sent
    stub.route(
        "GET", PATH, [gdp_response(), StubResponse(status=429, headers={"Retry-After": "2"}), gdp_response()]
    )
    sent_at: list[float] = []
    limiter = RateLimiter(Rate(4, Duration.SECOND, burst=1), clock=fake_time.clock, sleep=fake_time.sleep)
    with make_client(
        stub, fake_time, lambda *stored: sent_at.append(fake_time.now), rate_limiter=limiter
    ) as client:
        for _ in range(4):
            client.get(PATH)
    assert len(stub.requests_to(PATH)) == 5  # four answers, one of them after a 429
    # 4/s: 0.25 s apart; the 429's Retry-After (2 s) is waited instead, after which the next slot is free
    assert sent_at == pytest.approx([0.0, 0.25 + 2.0, 2.5, 2.75])
    assert fake_time.sleeps == pytest.approx([0.25, 2.0, 0.25, 0.25])


def test_rate_limit_on_the_real_clock_holds_requests_back(stub):
    # Real time, so only lower bounds (a slow machine can only widen the gaps), and only ones that hold for
    # certain: request i reached the server before the client asked for slot i+1, and request i+2 left after
    # its slot, so arrivals two apart are at least one interval (200 ms at 5/s, less 1 ms of rounding) apart.
    # Unlimited, this local server answers in well under 100 ms.
    stub.route("GET", PATH, gdp_response())
    limiter = RateLimiter(Rate(5, Duration.SECOND, burst=1))
    with HttpClient(source="test", base_url=stub.url, rate_limiter=limiter) as client:
        for _ in range(4):
            client.get(PATH)
    arrivals = [request.time for request in stub.requests_to(PATH)]
    assert len(arrivals) == 4
    assert all(later - earlier >= 0.199 for earlier, later in zip(arrivals, arrivals[2:], strict=False))


def test_stub_server_replays_in_order_and_repeats_the_last(stub):
    import httpx

    stub.route("GET", "/seq", [StubResponse.text("one"), StubResponse.text("two")])
    stub.route("GET", "/seq", StubResponse.json({"special": True}), query={"mode": "x"})
    bodies = [httpx.get(f"{stub.url}/seq").text for _ in range(3)]
    assert bodies == ["one", "two", "two"]
    assert json.loads(httpx.get(f"{stub.url}/seq", params={"mode": "x", "other": "1"}).text) == {
        "special": True
    }
    assert httpx.get(f"{stub.url}/nowhere").status_code == 418
    assert [r.path for r in stub.unmatched] == ["/nowhere"]


def test_httpx_request_logs_do_not_carry_the_key(stub, fake_time, caplog):
    secret = "fedcba9876543210fedcba9876543210"
    stub.route("GET", f"/k/{secret}", gdp_response())
    client = HttpClient(source="test", base_url=stub.url, secrets=(secret,), sleep=fake_time.sleep)
    with client, caplog.at_level("INFO", logger="httpx"):
        client.get(f"/k/{secret}", params={"api_key": secret})
    assert "HTTP Request: GET" in caplog.text  # httpx did log the request ...
    assert secret not in caplog.text  # ... without the key, in the path or the query
