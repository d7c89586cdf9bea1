"""PriceClient and the price helpers against real Yahoo chart recordings (AAPL 2020, a weekend range).

The ``chart.error`` body is built from the documented shape (API_NOTES.md section 5: ``{code,
description}``, e.g. "No data found, symbol may be delisted"); no recording of it exists.
"""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from risk_assets.clients.http import NotFound, SourceError
from risk_assets.clients.prices import PriceClient, annualised_volatility, close_on_or_before, parse_chart
from tests.clients.conftest import FIXTURES, assert_cut_short_and_html_bodies_are_bad, fixture_bytes
from tests.support.stub_server import StubResponse

YAHOO = FIXTURES / "yahoo_finance"
AAPL = YAHOO / "chart-AAPL-2020-08-31-to-2020-11-07.body.json"
WEEKEND = YAHOO / "chart-AAPL-2025-02-01-to-2025-02-02-includePrePost-false-interval-1m.body.json"
YAHOO_TYPE = "application/json;charset=utf-8"
UA = "Mozilla/5.0 riskgraph-tests"
DELISTED = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


@pytest.fixture
def prices(stub, fake_time, sink):
    with PriceClient(
        base_url=stub.url, user_agent=UA, raw_sink=sink, max_retries=2, **fake_time.kwargs()
    ) as client:
        yield client


@pytest.fixture
def aapl() -> pd.DataFrame:
    return parse_chart(json.loads(fixture_bytes(AAPL)))


def test_daily_chart_aapl_2020(stub, prices, sink):
    stub.route("GET", "/v8/finance/chart/AAPL", StubResponse.file(AAPL, content_type=YAHOO_TYPE))
    frame = prices.daily_chart("AAPL", date(2020, 8, 31), date(2020, 11, 6))
    request = stub.requests[0]
    # the recording's own period1/period2: 2020-08-31 00:00 UTC and 2020-11-07 00:00 UTC
    assert request.param("period1") == "1598832000"
    assert request.param("period2") == "1604707200"
    assert request.param("interval") == "1d"
    assert request.headers["user-agent"] == UA
    assert list(frame.columns) == ["date", "close", "adjclose", "volume"]
    assert len(frame) == 49  # 49 daily bars in the recording
    first = frame.iloc[0]
    # timestamp 1598880600 = 2020-08-31 13:30 UTC = 09:30 New York
    assert first["date"] == pd.Timestamp("2020-08-31")
    assert first["close"] == 129.0399932861328 and first["adjclose"] == 125.82673645019531
    assert first["volume"] == 225702700
    assert frame.iloc[-1]["date"] == pd.Timestamp("2020-11-06")
    assert sink.calls == [("yahoo/chart/AAPL_2020-08-31_2020-11-06.json", fixture_bytes(AAPL), YAHOO_TYPE)]


def test_range_without_bars_is_an_empty_frame(stub, prices):
    stub.route("GET", "/v8/finance/chart/AAPL", StubResponse.file(WEEKEND, content_type=YAHOO_TYPE))
    frame = prices.daily_chart("AAPL", date(2025, 2, 1), date(2025, 2, 2))
    assert frame.empty
    assert list(frame.columns) == ["date", "close", "adjclose", "volume"]


def test_unknown_symbol_chart_error_is_not_found(stub, prices):
    stub.route(
        "GET", "/v8/finance/chart/NOSUCH", StubResponse.json(DELISTED, status=404, content_type=YAHOO_TYPE)
    )
    with pytest.raises(NotFound, match="symbol may be delisted"):
        prices.daily_chart("NOSUCH", date(2020, 1, 1), date(2020, 1, 31))
    assert len(stub.requests) == 1


def test_chart_error_in_a_200_body_raises():
    with pytest.raises(NotFound, match="delisted"):
        parse_chart(DELISTED)
    other = {"chart": {"result": None, "error": {"code": "Bad Request", "description": "Invalid input"}}}
    with pytest.raises(SourceError, match="Invalid input"):
        parse_chart(other)


def test_symbols_with_special_characters_reach_the_right_path(stub, prices):
    stub.route("GET", "/v8/finance/chart/005930.KS", StubResponse.file(WEEKEND, content_type=YAHOO_TYPE))
    assert prices.daily_chart("005930.KS", date(2025, 2, 1), date(2025, 2, 2)).empty
    stub.route("GET", "/v8/finance/chart/^KS11", StubResponse.file(WEEKEND, content_type=YAHOO_TYPE))
    prices.daily_chart("^KS11", date(2025, 2, 1), date(2025, 2, 2))
    assert stub.requests[-1].raw_path == "/v8/finance/chart/%5EKS11"


def test_429_retry_after_then_500_then_200(stub, prices, fake_time):
    stub.route(
        "GET",
        "/v8/finance/chart/AAPL",
        [
            StubResponse(status=429, headers={"Retry-After": "11"}),
            StubResponse.text("oops", status=502),
            StubResponse.file(AAPL, content_type=YAHOO_TYPE),
        ],
    )
    assert len(prices.daily_chart("AAPL", date(2020, 8, 31), date(2020, 11, 6))) == 49
    assert fake_time.sleeps[0] == 11.0
    assert len(stub.requests) == 3


def test_truncated_body_and_html_page_are_bad_responses(stub, prices):
    def chart():
        return prices.daily_chart("AAPL", date(2020, 8, 31), date(2020, 11, 6))

    recorded = StubResponse.file(AAPL, content_type=YAHOO_TYPE)
    assert_cut_short_and_html_bodies_are_bad(stub, "/v8/finance/chart/AAPL", recorded, chart)


def test_close_on_or_before(aapl):
    # 2020-11-07 is a Saturday: Friday 2020-11-06's close 118.69000244140625 (recording)
    assert close_on_or_before(aapl, date(2020, 11, 7)) == 118.69000244140625
    assert close_on_or_before(aapl, "2020-08-31") == 129.0399932861328
    assert close_on_or_before(aapl, date(2020, 8, 30)) is None
    assert close_on_or_before(aapl, date(2020, 12, 31), max_staleness_days=10) is None  # 55 days stale


def test_annualised_volatility_by_hand(aapl):
    # Last four adjusted closes (2020-11-03..06): 107.68989562988281, 112.08761596679688,
    # 116.06599426269531, 115.93415069580078.
    # log returns: ln(1.0408368892) = 0.0400250907, ln(1.0354934688) = 0.0348780945,
    #              ln(0.9988640638) = -0.0011365819
    # mean = 0.0245888678; sample variance = 0.0005029720 (ddof=1); sd = 0.0224270364
    # annualised: 0.0224270364 * sqrt(252) = 0.3560181662
    vol = annualised_volatility(aapl, date(2020, 11, 6), window_days=3, min_observations=3)
    assert vol == pytest.approx(0.3560181662, rel=1e-9)


def test_annualised_volatility_full_window_matches_an_independent_computation(aapl):
    raw = json.loads(fixture_bytes(AAPL))["chart"]["result"][0]["indicators"]["adjclose"][0]["adjclose"]
    returns = np.diff(np.log(np.array(raw, dtype=float)))  # 48 returns from 49 bars
    expected = returns.std(ddof=1) * math.sqrt(252)
    assert annualised_volatility(aapl, date(2020, 11, 6), min_observations=40) == pytest.approx(expected)
    # point in time: the bars after end_date are not used (first 10 bars -> 9 returns)
    early = np.diff(np.log(np.array(raw[:10], dtype=float))).std(ddof=1) * math.sqrt(252)
    assert annualised_volatility(aapl, date(2020, 9, 14), min_observations=9) == pytest.approx(early)


def test_annualised_volatility_needs_enough_observations(aapl):
    assert annualised_volatility(aapl, date(2020, 11, 6)) is None  # 48 returns < default minimum 60
    assert annualised_volatility(aapl, date(2020, 8, 31), min_observations=1) is None  # a single bar
