"""Market value, equity volatility, Merton DD and macro values as of a date, on the recorded Yahoo AAPL chart and
the recorded FRED series (expected numbers read from the fixtures or computed by hand in the test)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from risk_assets.clients.fred import parse_observations
from risk_assets.core import macro, market
from risk_assets.core.classic import merton_distance_to_default
from tests.sources import stubs

CHART = stubs.FIXTURES / "yahoo_finance" / "chart-AAPL-2020-08-31-to-2020-11-07.body.json"
APPLE_FY2020_SHARES = (
    16_976_763_000  # us-gaap CommonStockSharesOutstanding at 2020-09-26 (10-K 0000320193-20-000096)
)
APPLE_CLOSE_2020_09_25 = 112.27999877929688  # quote close of the bar at 2020-09-25 13:30 UTC


def chart() -> dict:
    return json.loads(CHART.read_bytes())


def raw_bars(payload: dict) -> pd.DataFrame:
    result = payload["chart"]["result"][0]
    return pd.DataFrame(
        {
            "date": [dt.datetime.fromtimestamp(t, tz=dt.UTC).date() for t in result["timestamp"]],
            "close": result["indicators"]["quote"][0]["close"],
            "adjclose": result["indicators"]["adjclose"][0]["adjclose"],
        }
    )


def test_market_value_of_apple_at_fy2020_end() -> None:
    prices = market.traded_prices(chart())
    value = market.market_value_of_equity(APPLE_FY2020_SHARES, prices, dt.date(2020, 9, 26))
    # 2020-09-26 is a Saturday: the close of Friday 2020-09-25.
    assert value.price_date == dt.date(2020, 9, 25)
    assert value.close == APPLE_CLOSE_2020_09_25
    assert value.value == APPLE_FY2020_SHARES * APPLE_CLOSE_2020_09_25
    stale = market.market_value_of_equity(APPLE_FY2020_SHARES, prices, dt.date(2020, 12, 26))
    assert stale.value is None and "more than 7 days" in stale.reason
    assert market.market_value_of_equity(None, prices, dt.date(2020, 9, 26)).reason.startswith(
        "shares_outstanding"
    )


def test_closes_are_put_back_to_the_price_traded_before_a_split() -> None:
    payload = chart()
    # The recording's 4:1 split is on 2020-08-31, its first bar: every close is already as traded.
    assert market.chart_splits(payload) == [(dt.date(2020, 8, 31), 4.0)]
    assert market.traded_prices(payload)["close"].tolist() == raw_bars(payload)["close"].tolist()
    # The same bars with the split moved to 2020-09-15 (a built variant): Yahoo's split-adjusted closes before
    # it were a quarter of the traded price.
    moved = copy.deepcopy(payload)
    splits = moved["chart"]["result"][0]["events"]["splits"]
    event = splits.pop(next(iter(splits)))
    event["date"] = int(dt.datetime(2020, 9, 15, 13, 30, tzinfo=dt.UTC).timestamp())
    splits[str(event["date"])] = event
    traded = market.traded_prices(moved).set_index("date")["close"]
    raw = raw_bars(payload).set_index("date")["close"]
    assert traded[pd.Timestamp("2020-09-14")] == raw[dt.date(2020, 9, 14)] * 4
    assert traded[pd.Timestamp("2020-09-15")] == raw[dt.date(2020, 9, 15)]


def test_equity_volatility_is_a_year_of_daily_log_returns_or_none() -> None:
    prices = market.traded_prices(chart())
    volatility, n = market.equity_volatility(prices, dt.date(2020, 9, 26))
    assert (volatility, n) == (None, 18)  # 19 bars from 2020-08-31 to 2020-09-25: 18 returns, fewer than 60
    adjclose = raw_bars(chart())["adjclose"].to_numpy()
    returns = np.diff(np.log(adjclose))  # all 48 returns to 2020-11-06
    expected = float(np.std(returns, ddof=1) * math.sqrt(252))
    volatility, n = market.equity_volatility(prices, dt.date(2020, 11, 7), min_returns=40)
    assert n == 48 and volatility == pytest.approx(expected, rel=1e-12)


def test_merton_inputs_and_solve() -> None:
    prices = market.traded_prices(chart())
    items = {
        "shares_outstanding": APPLE_FY2020_SHARES,
        "short_term_debt": 13_769e6,
        "long_term_debt": 98_667e6,
    }
    rf = {"value": 0.69, "series": "fred:WGS10YR", "released_at": "2020-10-02"}
    row = market.market_features(items, prices, dt.date(2020, 11, 6), rf, min_returns=40)
    # KMV default point: short-term debt + half the long-term debt.
    assert row["debt_face"] == 13_769e6 + 0.5 * 98_667e6
    assert row["risk_free_rate"] == 0.0069
    expected = merton_distance_to_default(
        row["market_value_equity"], row["equity_volatility"], row["debt_face"], 0.0069
    )
    assert (row["merton_dd"], row["merton_method"]) == (expected.dd, "merton")
    assert row["merton_dd"] > 3  # a firm worth 2 trillion against 63 billion of debt is far from default
    without = market.market_features(items, prices, dt.date(2020, 9, 26), None)
    assert without["merton_dd"] is None and "no risk-free rate" in without["reason"]


def fred_indicators() -> pd.DataFrame:
    rows = []
    for series, path, lag in (
        ("GDP", stubs.FIXTURES / "fred" / "series_observations_GDP_output_type4_initial_release.json", None),
        ("CPILFESL", stubs.DATA / "fred" / "CPILFESL.json", 45),
    ):
        for row in parse_observations(json.loads(path.read_bytes()), series, lag):
            rows.append({"source": "fred", **row})
    return pd.DataFrame(rows)


def test_gdp_for_2024q2_is_invisible_before_its_first_release() -> None:
    spec = macro.MacroSeries("US", "gdp_growth", "fred", "GDP", "yoy", None)
    book = macro.MacroBook(fred_indicators())
    before = book.value_as_of(spec, dt.date(2024, 7, 24))
    on = book.value_as_of(spec, dt.date(2024, 7, 25))
    # First releases (output_type=4): 2024-01-01 released 2024-04-25, 2024-04-01 released 2024-07-25.
    assert (before["observation_date"], before["released_at"]) == ("2024-01-01", "2024-04-25")
    assert (on["observation_date"], on["released_at"]) == ("2024-04-01", "2024-07-25")
    # 2024-04-01 first release 28,629.153 against 2023-04-01's 26,834.953 (released 2023-07-27).
    assert on["value"] == pytest.approx((28629.153 / 26834.953 - 1) * 100, rel=1e-12)
    level = macro.MacroSeries("US", "gdp_growth", "fred", "GDP", "level", None)
    assert book.value_as_of(level, dt.date(2024, 7, 24))["value"] == 28284.498


def test_a_default_vintage_series_is_dated_by_its_publication_lag() -> None:
    indicators = fred_indicators()
    cpi = indicators[indicators["series_id"] == "CPILFESL"].set_index("observation_date")
    # The recording stamps every row 2024-10-10 (the request day): released_at = observation + 45 days instead.
    assert cpi.loc[dt.date(2024, 9, 1), "released_at"] == dt.date(2024, 10, 16)
    assert set(cpi["release_basis"]) == {"publication_lag"}
    spec = macro.MacroSeries("US", "cpi_inflation", "fred", "CPILFESL", "yoy", 45)
    value = macro.MacroBook(indicators).value_as_of(spec, dt.date(2024, 10, 15))
    assert value["observation_date"] == "2024-08-01"  # September's value is not out yet


def test_a_spread_subtracts_the_second_series_observed_the_same_day() -> None:
    rows = pd.DataFrame(
        [
            {
                "source": "ecos",
                "series_id": "A",
                "observation_date": dt.date(2024, 1, 2),
                "released_at": dt.date(2024, 1, 3),
                "value": 4.5,
            },
            {
                "source": "ecos",
                "series_id": "B",
                "observation_date": dt.date(2024, 1, 2),
                "released_at": dt.date(2024, 1, 3),
                "value": 3.25,
            },
            {
                "source": "ecos",
                "series_id": "A",
                "observation_date": dt.date(2024, 1, 3),
                "released_at": dt.date(2024, 1, 4),
                "value": 4.75,
            },
        ]
    )
    spec = macro.MacroSeries("KR", "credit_spread", "ecos", "A", "level", 1, cycle="D", minus="B")
    assert macro.MacroBook(rows).value_as_of(spec, dt.date(2024, 1, 10))["value"] == 4.5 - 3.25
    assert macro.MacroBook(rows).value_as_of(spec, dt.date(2024, 1, 2)) is None  # nothing released yet


def test_series_specs_parse_and_validate() -> None:
    spec = macro.parse_series_spec("KR:policy_rate:ecos:722Y001/0101000:level:31:M")
    assert (spec.country, spec.series_id, spec.publication_lag_days, spec.cycle) == (
        "KR",
        "722Y001/0101000",
        31,
        "M",
    )
    assert macro.parse_series_spec("US:gdp_growth:fred:GDP:yoy:first_release").publication_lag_days is None
    with pytest.raises(ValueError, match="role"):
        macro.parse_series_spec("US:unemployment:fred:UNRATE:level:5")
    with pytest.raises(ValueError, match="ECOS"):
        macro.parse_series_spec("KR:policy_rate:ecos:722Y001/0101000:level:first_release")
