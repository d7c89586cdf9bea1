"""Daily prices from Yahoo Finance's (unofficial) v8 chart endpoint, plus the two price helpers features need.

The chart API has no key but throttles with 429 and changes without notice, so requests are spaced and
retried like every other source, and the raw JSON is stored before parsing. ``close`` is the traded price
(use it with the share count of the same date for market value); ``adjclose`` is split- and
dividend-adjusted (use it for returns and volatility).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Unpack
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pyrate_limiter import Duration, Rate

from risk_assets.clients.http import (
    BadResponse,
    HttpResponse,
    NotFound,
    SourceClient,
    SourceError,
    Transport,
    source_http,
)

SOURCE = "yahoo"
#: The chart endpoint publishes no rate; one request a second.
MIN_INTERVAL_SECONDS = 1.0
TRADING_DAYS_PER_YEAR = 252
FRAME_COLUMNS = ("date", "close", "adjclose", "volume")
DEFAULT_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) riskgraph/0.1"


def empty_price_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "close": pd.Series(dtype="float64"),
            "adjclose": pd.Series(dtype="float64"),
            "volume": pd.Series(dtype="float64"),
        }
    )


def chart_error(error: Mapping[str, Any], url: str | None = None, status: int | None = None) -> SourceError:
    """NotFound for Yahoo's "Not Found" code (unknown or delisted symbol), SourceError otherwise."""
    code = str(error.get("code") or "")
    message = f"Yahoo chart error {code}: {error.get('description') or ''}".strip()
    cls = NotFound if code.lower().replace(" ", "") == "notfound" else SourceError
    return cls(message, source=SOURCE, url=url, status=status)


def _exchange_zone(meta: Mapping[str, Any]) -> timezone | ZoneInfo:
    name = meta.get("exchangeTimezoneName")
    if name:
        try:
            return ZoneInfo(str(name))
        except ZoneInfoNotFoundError:
            pass
    return timezone(timedelta(seconds=int(meta.get("gmtoffset") or 0)))


def parse_chart(payload: Mapping[str, Any]) -> pd.DataFrame:
    """Daily bars as a frame (date, close, adjclose, volume), one row per exchange-local trading date.

    No ``timestamp`` array (no bars in the range) gives an empty frame; ``chart.error`` raises. Bars with
    neither close nor adjusted close are dropped; a missing ``adjclose`` block leaves that column NaN.
    """
    chart = payload.get("chart")
    if not isinstance(chart, Mapping):
        raise BadResponse("Yahoo payload has no 'chart' object", source=SOURCE)
    if chart.get("error"):
        raise chart_error(chart["error"])
    results = chart.get("result") or []
    if not results:
        raise BadResponse("Yahoo chart has neither result nor error", source=SOURCE)
    result = results[0]
    timestamps = result.get("timestamp")
    if not timestamps:
        return empty_price_frame()
    indicators = result.get("indicators") or {}
    quote_block = (indicators.get("quote") or [{}])[0] or {}
    adj_block = (indicators.get("adjclose") or [{}])[0] or {}
    n = len(timestamps)

    def column(values: list[Any] | None) -> list[float]:
        values = values if values is not None else [None] * n
        return [math.nan if v is None else float(v) for v in values]

    zone = _exchange_zone(result.get("meta") or {})
    dates = [datetime.fromtimestamp(int(ts), tz=UTC).astimezone(zone).date() for ts in timestamps]
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(dates),
            "close": column(quote_block.get("close")),
            "adjclose": column(adj_block.get("adjclose")),
            "volume": column(quote_block.get("volume")),
        }
    )
    frame = frame[~(frame["close"].isna() & frame["adjclose"].isna())]
    frame = frame.sort_values("date").drop_duplicates("date", keep="last").reset_index(drop=True)
    return frame


def close_on_or_before(
    frame: pd.DataFrame, on: date | str, max_staleness_days: int | None = None
) -> float | None:
    """Last unadjusted close dated on or before ``on``; None if there is none (or it is too stale)."""
    target = pd.Timestamp(on)
    eligible = frame[(frame["date"] <= target) & frame["close"].notna()]
    if eligible.empty:
        return None
    last = eligible.iloc[-1]
    if max_staleness_days is not None and (target - last["date"]).days > max_staleness_days:
        return None
    return float(last["close"])


def annualised_volatility(
    frame: pd.DataFrame,
    end_date: date | str,
    window_days: int = TRADING_DAYS_PER_YEAR,
    min_observations: int = 60,
) -> float | None:
    """Annualised volatility of daily log returns of ``adjclose`` over the last ``window_days`` returns.

    Uses bars dated on or before ``end_date`` (point in time), sample standard deviation (ddof=1) times
    sqrt(252). None when fewer than ``min_observations`` returns are available. ``window_days`` counts
    trading days (returns), not calendar days.
    """
    target = pd.Timestamp(end_date)
    prices = frame.loc[(frame["date"] <= target) & frame["adjclose"].notna(), "adjclose"]
    prices = prices.iloc[-(window_days + 1) :].to_numpy(dtype=float)
    if len(prices) < 2:
        return None
    returns = np.diff(np.log(prices))
    if len(returns) < max(min_observations, 2):
        return None
    return float(np.std(returns, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR))


def _yahoo_error(response: HttpResponse) -> SourceError | None:
    try:
        payload = json.loads(response.body)
    except ValueError:
        return None
    error = (payload.get("chart") or {}).get("error") if isinstance(payload, dict) else None
    if isinstance(error, Mapping):
        return chart_error(error, response.url, response.status)
    return None


def _unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


class PriceClient(SourceClient):
    """``daily_chart(symbol, start, end)``: daily bars from the v8 chart JSON (Korean tickers: 005930.KS)."""

    def __init__(
        self,
        *,
        base_url: str = "https://query1.finance.yahoo.com",
        user_agent: str = DEFAULT_USER_AGENT,
        min_interval_seconds: float = MIN_INTERVAL_SECONDS,
        **transport: Unpack[Transport],
    ):
        transport.setdefault("timeout", 30.0)  # a chart is small: fail fast
        self.http = source_http(
            source=SOURCE,
            rate=Rate(1, Duration.SECOND * min_interval_seconds),
            base_url=base_url,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            error_mapper=_yahoo_error,
            **transport,
        )

    def chart_payload(self, symbol: str, start: date, end: date) -> dict[str, Any]:
        """The raw chart JSON for daily bars from ``start`` to ``end`` inclusive (UTC day bounds)."""
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        params = {
            "period1": _unix(start),
            "period2": _unix(end + timedelta(days=1)),
            "interval": "1d",
            "events": "div|split",
            "includePrePost": "false",
        }
        key = f"yahoo/chart/{symbol}_{start.isoformat()}_{end.isoformat()}.json"
        payload = self.http.get_json(
            f"v8/finance/chart/{quote(symbol, safe='=')}", params=params, sink_key=key
        )
        if not isinstance(payload, dict):
            raise BadResponse("Yahoo chart payload is not an object", source=SOURCE)
        return payload

    def daily_chart(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Daily bars (date, close, adjclose, volume); an empty frame when the range has no trading day."""
        return parse_chart(self.chart_payload(symbol, start, end))
