"""Market features of one statement: market value of equity, equity volatility, Merton distance to default.

Point in time: every input is dated on or before the statement's balance-sheet date (``period_end``), which
is on or before its filing date, so a feature row dated ``filed_at`` sees no later price.

- Market value of equity = common shares outstanding at the balance-sheet date (us-gaap
  ``CommonStockSharesOutstanding``, the statement's ``shares_outstanding``) x the last close on or before
  that date. Yahoo's ``close`` is split-adjusted back in time, so it is multiplied back by every split after
  the bar (``events.splits`` of the chart) to get the price the shares traded at that day.
- Equity volatility = annualised standard deviation of daily log returns of the adjusted close over the
  year (252 returns) ending at the balance-sheet date; at least ``min_returns`` returns or none.
- Merton DD: ``core.classic.merton_distance_to_default`` (iterative; naive Bharath-Shumway fallback) with
  debt = short-term debt + half of long-term debt (the KMV default point), or, without debt lines,
  current liabilities + half of the other liabilities; risk-free rate from the indicators known at the
  balance-sheet date (core/macro.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk_assets.clients.prices import TRADING_DAYS_PER_YEAR, parse_chart
from risk_assets.core.classic import merton_distance_to_default

#: A close older than this many days before the balance-sheet date is too stale for a market value.
MAX_PRICE_STALENESS_DAYS = 7
MIN_RETURNS = 60


def chart_splits(payload: Mapping[str, Any]) -> list[tuple[dt.date, float]]:
    """(split date, ratio numerator/denominator) from a chart payload's ``events.splits``, oldest first."""
    results = ((payload.get("chart") or {}).get("result")) or [{}]
    splits = ((results[0] or {}).get("events") or {}).get("splits") or {}
    out = []
    for event in splits.values():
        numerator, denominator = float(event.get("numerator") or 0), float(event.get("denominator") or 0)
        if numerator > 0 and denominator > 0:
            when = dt.datetime.fromtimestamp(int(event["date"]), tz=dt.UTC).date()
            out.append((when, numerator / denominator))
    return sorted(out)


def traded_prices(payload: Mapping[str, Any]) -> pd.DataFrame:
    """Daily bars (date, close, adjclose, volume) with ``close`` as traded that day (splits undone)."""
    frame = parse_chart(payload)
    if frame.empty:
        return frame
    factor = np.ones(len(frame))
    dates = frame["date"].dt.date.to_numpy()
    for when, ratio in chart_splits(payload):
        factor = np.where(dates < when, factor * ratio, factor)
    frame = frame.copy()
    frame["close"] = frame["close"] * factor
    return frame


def chart_currency(payload: Mapping[str, Any]) -> str | None:
    results = ((payload.get("chart") or {}).get("result")) or [{}]
    return ((results[0] or {}).get("meta") or {}).get("currency")


@dataclass(frozen=True)
class MarketValue:
    value: float | None
    price_date: dt.date | None
    close: float | None
    reason: str | None = None


def market_value_of_equity(
    shares: float | None,
    prices: pd.DataFrame,
    on: dt.date,
    max_staleness_days: int = MAX_PRICE_STALENESS_DAYS,
) -> MarketValue:
    """Shares x the last traded close on or before ``on`` (None with a reason when either is missing)."""
    if shares is None or not math.isfinite(shares) or shares <= 0:
        return MarketValue(None, None, None, "shares_outstanding at the balance-sheet date is unknown")
    if prices.empty:
        return MarketValue(None, None, None, "no prices for the company's symbol")
    target = pd.Timestamp(on)
    eligible = prices[(prices["date"] <= target) & prices["close"].notna()]
    if eligible.empty:
        return MarketValue(None, None, None, f"no close on or before {on}")
    last = eligible.iloc[-1]
    price_date = last["date"].date()
    if (on - price_date).days > max_staleness_days:
        return MarketValue(
            None,
            price_date,
            None,
            f"last close {price_date} is more than {max_staleness_days} days before {on}",
        )
    close = float(last["close"])
    return MarketValue(shares * close, price_date, close)


def equity_volatility(
    prices: pd.DataFrame, end: dt.date, window: int = TRADING_DAYS_PER_YEAR, min_returns: int = MIN_RETURNS
) -> tuple[float | None, int]:
    """(annualised volatility of daily log returns of adjclose over ``window`` returns up to ``end``, n)."""
    if prices.empty:
        return None, 0
    series = prices.loc[(prices["date"] <= pd.Timestamp(end)) & prices["adjclose"].notna(), "adjclose"]
    values = series.iloc[-(window + 1) :].to_numpy(dtype=float)
    if len(values) < 2:
        return None, 0
    returns = np.diff(np.log(values))
    if len(returns) < max(min_returns, 2):
        return None, len(returns)
    return float(np.std(returns, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR)), len(returns)


def _known(items: Mapping[str, Any], name: str) -> float | None:
    value = items.get(name)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def default_point(items: Mapping[str, Any]) -> tuple[float | None, str]:
    """Debt face value for Merton: short-term debt + 0.5 x long-term debt (KMV), else current liabilities +
    0.5 x non-current liabilities. Returns (value, how it was built)."""
    short, long = _known(items, "short_term_debt"), _known(items, "long_term_debt")
    if short is not None or long is not None:
        value = (short or 0.0) + 0.5 * (long or 0.0)
        if value > 0:
            return value, "short_term_debt + 0.5 x long_term_debt"
    current, total = _known(items, "current_liabilities"), _known(items, "total_liabilities")
    if current is not None and total is not None and current + 0.5 * (total - current) > 0:
        return current + 0.5 * (total - current), "current_liabilities + 0.5 x non-current liabilities"
    return None, "no debt or liabilities to set a default point"


def market_features(
    items: Mapping[str, Any],
    prices: pd.DataFrame,
    period_end: dt.date,
    risk_free: Mapping[str, Any] | None,
    *,
    min_returns: int = MIN_RETURNS,
    max_staleness_days: int = MAX_PRICE_STALENESS_DAYS,
) -> dict[str, Any]:
    """Everything market_features stores for one statement row (None values carry a ``reason``).

    ``risk_free``: {"value": rate in percent, "series", "released_at", ...} as known at ``period_end``.
    """
    mv = market_value_of_equity(_known(items, "shares_outstanding"), prices, period_end, max_staleness_days)
    volatility, n_returns = equity_volatility(prices, period_end, min_returns=min_returns)
    debt, debt_basis = default_point(items)
    reasons = [mv.reason] if mv.reason else []
    row: dict[str, Any] = {
        "price_date": mv.price_date,
        "close": mv.close,
        "shares_outstanding": _known(items, "shares_outstanding"),
        "market_value_equity": mv.value,
        "equity_volatility": volatility,
        "n_returns": n_returns,
        "debt_face": debt,
        "debt_basis": debt_basis,
        "risk_free_rate": None,
        "risk_free_series": None,
        "risk_free_released_at": None,
        "merton_dd": None,
        "merton_pd": None,
        "merton_method": None,
    }
    if volatility is None:
        reasons.append(
            f"equity volatility needs {min_returns} daily returns up to {period_end}, {n_returns} available"
        )
    if risk_free is not None and risk_free.get("value") is not None:
        row["risk_free_rate"] = float(risk_free["value"]) / 100.0
        row["risk_free_series"] = risk_free.get("series")
        row["risk_free_released_at"] = risk_free.get("released_at")
    else:
        reasons.append(f"no risk-free rate released on or before {period_end}")
    if debt is None:
        reasons.append(debt_basis)
    if None not in (mv.value, volatility, debt, row["risk_free_rate"]):
        result = merton_distance_to_default(mv.value, volatility, debt, row["risk_free_rate"])
        row.update(merton_dd=result.dd, merton_pd=result.pd, merton_method=result.method)
        if result.reason:
            reasons.append(result.reason)
    row["reason"] = "; ".join(reasons)[:400] or None
    return row
