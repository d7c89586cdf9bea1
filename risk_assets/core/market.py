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

``market_feature_frame`` computes the rows of many statements at once, equal value for value to
``market_features`` row by row: a company's price search, volatility window and risk-free rate come from sorted
searches over whole arrays, and only the rows with every Merton input reach the (iterative) solver.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk_assets.clients.prices import TRADING_DAYS_PER_YEAR, parse_chart
from risk_assets.core.classic import merton_distance_to_default
from risk_assets.core.macro import MacroBook, MacroSeries, macro_column

#: A close older than this many days before the balance-sheet date is too stale for a market value.
MAX_PRICE_STALENESS_DAYS = 7
MIN_RETURNS = 60
#: The stored reason is cut to the column's width.
MAX_REASON_CHARS = 400
NO_LISTED_SYMBOL = "no listed symbol with prices"
#: A market_features row, in the order the asset writes it.
MARKET_FEATURE_COLUMNS: tuple[str, ...] = (
    "company_id",
    "period_end",
    "accession",
    "filed_at",
    "symbol",
    "price_date",
    "close",
    "shares_outstanding",
    "market_value_equity",
    "equity_volatility",
    "n_returns",
    "debt_face",
    "risk_free_rate",
    "risk_free_series",
    "risk_free_released_at",
    "merton_dd",
    "merton_pd",
    "merton_method",
    "reason",
)
_FLOAT_COLUMNS = (
    "close",
    "shares_outstanding",
    "market_value_equity",
    "equity_volatility",
    "debt_face",
    "risk_free_rate",
    "merton_dd",
    "merton_pd",
)


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


# --- many statements at once -------------------------------------------------------------------------------------


def _known_column(statements: pd.DataFrame, name: str) -> np.ndarray:
    """A statement item as floats, NaN where ``_known`` gives None (missing, not a number, not finite)."""
    if name not in statements.columns:
        return np.full(len(statements), np.nan)
    values = pd.to_numeric(statements[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def _days(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(datetime64[D], ``datetime.date``, ISO text) of each value as ``pd.Timestamp(value).date()`` reads it:
    one conversion per distinct value (statements share a few thousand balance-sheet dates)."""
    codes, distinct = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=False)
    dates = [pd.Timestamp(value).date() for value in distinct]
    days = np.array([np.datetime64(d, "D") if d is not pd.NaT else np.datetime64("NaT") for d in dates])
    return (
        days.astype("datetime64[D]")[codes],
        np.array(dates, dtype=object)[codes],
        np.array([str(d) for d in dates], dtype=object)[codes],
    )


def _last_on_or_before(
    bar_company: np.ndarray, bar_time: np.ndarray, row_company: np.ndarray, row_time: np.ndarray
) -> np.ndarray:
    """Index of each row's last bar of its own company dated on or before the row's time, -1 where none.

    Bars are sorted by (company, time). Ranking every time into one sorted list turns the pair (company, time)
    into one integer key, so a single np.searchsorted answers every company at once."""
    if bar_time.size == 0 or row_time.size == 0:
        return np.full(row_time.size, -1, dtype=np.int64)
    times = np.unique(np.concatenate([bar_time, row_time]))
    span = np.int64(times.size)
    bar_key = bar_company.astype(np.int64) * span + np.searchsorted(times, bar_time)
    row_key = row_company.astype(np.int64) * span + np.searchsorted(times, row_time)
    position = np.searchsorted(bar_key, row_key, side="right") - 1
    found = position >= 0
    found[found] = bar_company[position[found]] == row_company[found]
    return np.where(found, position, -1)


@dataclass(frozen=True)
class _PricedBars:
    """Every priced company's bars end to end, by (company code, date): those with a close (market value) and
    those with an adjusted close (returns), dates as int64 nanoseconds, NaT bars left out (no date is on or
    before a balance-sheet date)."""

    close_company: np.ndarray
    close_time: np.ndarray
    close: np.ndarray
    adjusted_company: np.ndarray
    adjusted_time: np.ndarray
    log_adjusted: np.ndarray
    adjusted_start: np.ndarray  # per company code: index of its first adjusted bar

    @classmethod
    def of(cls, frames: Mapping[int, pd.DataFrame], n_companies: int) -> _PricedBars:
        close_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        adjusted_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        adjusted_start = np.zeros(n_companies, dtype=np.int64)
        n_adjusted = 0
        for code, frame in sorted(frames.items()):
            time = frame["date"].to_numpy(dtype="datetime64[ns]")
            dated = ~np.isnat(time)
            time = time.view(np.int64)
            if np.any(np.diff(time[dated]) < 0):
                raise ValueError("market_feature_frame: a company's prices must be sorted by date")
            close = frame["close"].to_numpy(dtype=float, na_value=np.nan)
            adjusted = frame["adjclose"].to_numpy(dtype=float, na_value=np.nan)
            keep = dated & ~np.isnan(close)
            close_parts.append((np.full(int(keep.sum()), code), time[keep], close[keep]))
            keep = dated & ~np.isnan(adjusted)
            adjusted_parts.append((np.full(int(keep.sum()), code), time[keep], adjusted[keep]))
            adjusted_start[code] = n_adjusted
            n_adjusted += int(keep.sum())

        def joined(parts: list, i: int, dtype: Any) -> np.ndarray:
            return np.concatenate([p[i] for p in parts]).astype(dtype) if parts else np.empty(0, dtype)

        # log of a zero or negative adjusted close: -inf / NaN, as np.log of the window gave (without a warning)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_adjusted = np.log(joined(adjusted_parts, 2, float))
        return cls(
            joined(close_parts, 0, np.int64),
            joined(close_parts, 1, np.int64),
            joined(close_parts, 2, float),
            joined(adjusted_parts, 0, np.int64),
            joined(adjusted_parts, 1, np.int64),
            log_adjusted,
            adjusted_start,
        )


def _window_volatility(
    log_adjusted: np.ndarray, last: np.ndarray, n_returns: np.ndarray, chunk_rows: int = 2048
) -> np.ndarray:
    """Annualised sample std of the ``n_returns`` daily log returns ending at bar ``last`` (each row's window
    gathered into a row of a matrix, std along rows: the same arithmetic as np.std on one window), computed once
    per distinct (last bar, window)."""
    out = np.full(last.size, np.nan)
    if last.size == 0:
        return out
    returns = np.diff(log_adjusted)
    pairs, where = np.unique(np.stack([last, n_returns]), axis=1, return_inverse=True)
    values = np.empty(pairs.shape[1])
    for n in np.unique(pairs[1]).tolist():
        (columns,) = np.nonzero(pairs[1] == n)
        offsets = np.arange(n)
        for begin in range(0, columns.size, chunk_rows):
            part = columns[begin : begin + chunk_rows]
            windows = returns[(pairs[0, part] - n)[:, None] + offsets]
            values[part] = np.std(windows, axis=1, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR)
    out[:] = values[where.reshape(-1)]
    return out


def _or_zero(values: np.ndarray) -> np.ndarray:
    """``value or 0.0`` of each known float (NaN where unknown): a missing or zero amount counts as 0.0."""
    return np.where(np.isnan(values) | (values == 0), 0.0, values)


def _default_points(statements: pd.DataFrame) -> np.ndarray:
    """default_point's value for every row (NaN where it gives None)."""
    short, long = _known_column(statements, "short_term_debt"), _known_column(statements, "long_term_debt")
    debt = _or_zero(short) + 0.5 * _or_zero(long)
    from_debt_lines = (~np.isnan(short) | ~np.isnan(long)) & (debt > 0)
    current = _known_column(statements, "current_liabilities")
    total = _known_column(statements, "total_liabilities")
    liabilities = current + 0.5 * (total - current)  # NaN where either is unknown
    return np.where(from_debt_lines, debt, np.where(liabilities > 0, liabilities, np.nan))


def _join_reasons(parts: Iterable[np.ndarray], n: int) -> np.ndarray:
    """Each row's parts that are set (a non-empty text, not None) joined by "; " ("" where none), as the row
    loop's ``"; ".join`` over the reasons it kept (``if reason``)."""
    joined = np.full(n, "", dtype=object)
    for part in parts:
        (rows,) = np.nonzero(part.astype(bool))
        so_far = joined[rows]
        separator = np.where(so_far == "", "", "; ").astype(object)
        joined[rows] = so_far + separator + part[rows]
    return joined


def _where_text(mask: np.ndarray, *pieces: Any) -> np.ndarray:
    """The concatenation of ``pieces`` (strings, or per-row text arrays) where ``mask``, None elsewhere."""
    out = np.full(mask.size, None, dtype=object)
    (rows,) = np.nonzero(mask)
    text = np.full(rows.size, "", dtype=object)
    for piece in pieces:
        text = text + (piece[rows] if isinstance(piece, np.ndarray) else piece)
    out[rows] = text
    return out


def _cut(texts: np.ndarray, width: int = MAX_REASON_CHARS) -> np.ndarray:
    """``text[:width]`` of each text (None stays None); only the few longer ones are touched."""
    lengths = pd.Series(texts, dtype=object).str.len().fillna(0).to_numpy()
    for row in np.flatnonzero(lengths > width).tolist():
        texts[row] = texts[row][:width]
    return texts


def _float_column(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Floats with NaN where nothing is present; without a single value, a column of None: what the frame of
    the per-row dicts held (pandas keeps a column of nothing but None as objects), so the rows written and
    compared are the same."""
    if not present.any():
        return np.full(values.size, None, dtype=object)
    return np.where(present, values, np.nan)


@dataclass(frozen=True)
class _Companies:
    """The batch's companies (codes of ``pd.factorize`` of the rows' company_id) and what ``priced`` says of
    each: read once per company, never per row."""

    code: np.ndarray  # per row
    symbol: np.ndarray  # per company: the symbol, or None
    unlisted: np.ndarray  # per company: the symbol is None
    currency: np.ndarray  # per company: the prices' currency
    checks_currency: np.ndarray  # per company: has a symbol and a (truthy) currency to compare
    has_bars: np.ndarray  # per company: its price frame has rows
    country: np.ndarray  # per company
    bars: _PricedBars

    @classmethod
    def of(
        cls,
        company_id: np.ndarray,
        countries: Mapping[str, Any],
        priced: Mapping[str, tuple[str | None, pd.DataFrame, str | None]],
    ) -> _Companies:
        code, ids = pd.factorize(company_id, use_na_sentinel=False)
        ids = ids.tolist()
        entries = [priced.get(c) for c in ids]
        frames = {i: e[1] for i, e in enumerate(entries) if e is not None and not e[1].empty}
        symbol = np.array([None if e is None else e[0] for e in entries], dtype=object)
        currency = np.array([None if e is None else e[2] for e in entries], dtype=object)
        return cls(
            code=code,
            symbol=symbol,
            unlisted=np.array([s is None for s in symbol.tolist()], dtype=bool),
            currency=currency,
            checks_currency=np.array(
                [s is not None and bool(c) for s, c in zip(symbol.tolist(), currency.tolist(), strict=True)],
                dtype=bool,
            ),
            has_bars=np.isin(np.arange(len(ids)), list(frames)),
            country=np.array([countries.get(c, "") for c in ids], dtype=object),
            bars=_PricedBars.of(frames, len(ids)),
        )


@dataclass(frozen=True)
class _MarketValues:
    price_day: np.ndarray  # datetime64[D], NaT where no price date is reported
    close: np.ndarray
    value: np.ndarray
    has_price_date: np.ndarray
    has_value: np.ndarray
    reason: np.ndarray  # None where there is a value


def _market_values(
    shares: np.ndarray,
    period_day: np.ndarray,
    period_text: np.ndarray,
    bars: _PricedBars,
    rows: np.ndarray,
    row_company: np.ndarray,
    max_staleness_days: int,
) -> _MarketValues:
    """market_value_of_equity of every row; ``rows`` (with ``row_company``) are the rows whose prices count."""
    n = shares.size
    valid_shares = ~np.isnan(shares) & (shares > 0)
    uses_prices = np.zeros(n, dtype=bool)
    uses_prices[rows] = True
    row_time = period_day[rows].astype("datetime64[ns]").view(np.int64)
    last = _last_on_or_before(bars.close_company, bars.close_time, row_company, row_time)
    priced_rows, last = rows[last >= 0], last[last >= 0]
    price_day = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    price_day[priced_rows] = bars.close_time[last].view("datetime64[ns]").astype("datetime64[D]")
    close = np.full(n, np.nan)
    close[priced_rows] = bars.close[last]
    found = np.zeros(n, dtype=bool)
    found[priced_rows] = True
    found &= valid_shares
    stale = found & ((period_day - price_day).astype(np.int64) > max_staleness_days)
    price_text = np.full(n, None, dtype=object)
    price_text[stale] = np.datetime_as_string(price_day[stale], unit="D").astype(object)
    reason = np.where(valid_shares, None, "shares_outstanding at the balance-sheet date is unknown")
    reason[valid_shares & ~uses_prices] = "no prices for the company's symbol"
    no_close = valid_shares & uses_prices & ~found
    reason[no_close] = _where_text(no_close, "no close on or before ", period_text)[no_close]
    reason[stale] = _where_text(
        stale, "last close ", price_text, f" is more than {max_staleness_days} days before ", period_text
    )[stale]
    has_value = found & ~stale
    return _MarketValues(price_day, close, shares * close, found, has_value, reason)


def _volatilities(
    period_day: np.ndarray, bars: _PricedBars, rows: np.ndarray, row_company: np.ndarray, min_returns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(volatility, n_returns, has_volatility) of every row as equity_volatility gives them: the returns of the
    last TRADING_DAYS_PER_YEAR + 1 adjusted closes on or before the date."""
    n = period_day.size
    row_time = period_day[rows].astype("datetime64[ns]").view(np.int64)
    last = _last_on_or_before(bars.adjusted_company, bars.adjusted_time, row_company, row_time)
    available = np.where(last >= 0, last - bars.adjusted_start[row_company] + 1, 0)
    in_window = np.minimum(available, TRADING_DAYS_PER_YEAR + 1)
    n_returns = np.zeros(n, dtype=np.int64)
    n_returns[rows] = np.where(in_window >= 2, in_window - 1, 0)
    has_volatility = n_returns >= max(min_returns, 2)
    volatility = np.full(n, np.nan)
    (measured,) = np.nonzero(has_volatility[rows])
    volatility[rows[measured]] = _window_volatility(
        bars.log_adjusted, last[measured], n_returns[rows[measured]]
    )
    return volatility, n_returns, has_volatility


def _risk_free_rates(
    book: MacroBook, specs: tuple[MacroSeries, ...], countries: np.ndarray, period_end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rate as a fraction, series, released_at ISO text, known) of every row: core.macro.risk_free_rate (the
    policy rate, else the 10-year yield) of MacroBook.feature_frame, one lookup per (country, date)."""
    by_country, country_of = pd.factorize(countries, use_na_sentinel=False)
    by_day, day_of = pd.factorize(period_end, use_na_sentinel=False)
    pairs, pair_of_row = np.unique(by_country * len(day_of) + by_day, return_inverse=True)
    macro = book.feature_frame(  # on the distinct pairs only: a few thousand, not a row each
        specs, country_of[pairs // len(day_of)], day_of[pairs % len(day_of)]
    )
    policy = macro[macro_column("policy_rate", "series")].notna().to_numpy()

    def field(name: str) -> np.ndarray:
        return np.where(
            policy,
            macro[macro_column("policy_rate", name)].to_numpy(),
            macro[macro_column("govt_10y", name)].to_numpy(),
        )

    series = field("series")
    known = pd.notna(series)
    released = np.array(
        [d.isoformat() if d is not None else None for d in field("released_at")], dtype=object
    )
    rate = field("value").astype(float) / 100.0
    return (
        rate[pair_of_row],
        np.where(known, series, None)[pair_of_row],
        released[pair_of_row],
        known[pair_of_row],
    )


@dataclass(frozen=True)
class _Merton:
    dd: np.ndarray
    default_probability: np.ndarray
    has_dd: np.ndarray
    has_pd: np.ndarray
    method: np.ndarray
    reason: np.ndarray


def _merton(
    complete: np.ndarray, equity: np.ndarray, volatility: np.ndarray, debt: np.ndarray, rate: np.ndarray
) -> _Merton:
    """merton_distance_to_default of the rows with every input (``complete``), solved once per distinct set
    of inputs (restatements of one period share them); the other rows have none."""
    n = equity.size
    out = _Merton(
        np.full(n, np.nan),
        np.full(n, np.nan),
        np.zeros(n, dtype=bool),
        np.zeros(n, dtype=bool),
        np.full(n, None, dtype=object),
        np.full(n, None, dtype=object),
    )
    (rows,) = np.nonzero(complete)
    inputs = zip(
        equity[rows].tolist(),
        volatility[rows].tolist(),
        debt[rows].tolist(),
        rate[rows].tolist(),
        strict=True,
    )
    solved: dict[tuple[float, float, float, float], Any] = {}
    for row, key in zip(rows.tolist(), inputs, strict=True):
        result = solved.get(key)
        if result is None:
            result = solved[key] = merton_distance_to_default(*key)
        if result.dd is not None:
            out.dd[row], out.has_dd[row] = result.dd, True
        if result.pd is not None:
            out.default_probability[row], out.has_pd[row] = result.pd, True
        out.method[row], out.reason[row] = result.method, result.reason or None
    return out


#: The statement columns market_feature_frame reads (a reader of the wide statements table takes only these).
STATEMENT_INPUTS = (
    "company_id",
    "accession",
    "period_end",
    "filed_at",
    "currency",
    "shares_outstanding",
    "short_term_debt",
    "long_term_debt",
    "current_liabilities",
    "total_liabilities",
)


def market_feature_frame(
    statements: pd.DataFrame,
    countries: Mapping[str, Any],
    priced: Mapping[str, tuple[str | None, pd.DataFrame, str | None]],
    book: MacroBook,
    specs: Iterable[MacroSeries],
    *,
    min_returns: int = MIN_RETURNS,
    max_staleness_days: int = MAX_PRICE_STALENESS_DAYS,
) -> pd.DataFrame:
    """One market_features row per statement row (MARKET_FEATURE_COLUMNS, in the statements' order): the values
    ``market_features`` gives row by row, with the risk-free rate ``book.features`` knows for the company's
    country (``countries``: company_id -> country) at the balance-sheet date, and:

    - a company without an entry in ``priced`` (company_id -> (symbol, prices sorted by date, currency)) has
      no symbol, no prices, and its reason starts with "no listed symbol with prices";
    - prices in another currency than the statement's are not used; the reason says which two.

    Statement items are numbers or missing. Every column is computed whole: a row without prices never reaches
    a Python loop; the Merton solver runs on the rows with every input only (a market value needs prices)."""
    statements = statements.reset_index(drop=True)
    n = len(statements)
    company_id = statements["company_id"].to_numpy(dtype=object)
    companies = _Companies.of(company_id, countries, priced)
    code = companies.code
    period_day, period_end, period_text = _days(statements["period_end"])
    _, filed_at, _ = _days(statements["filed_at"])
    statement_currency = statements["currency"].to_numpy(dtype=object)

    other_currency = np.zeros(n, dtype=bool)
    (checked,) = np.nonzero(companies.checks_currency[code])
    other_currency[checked] = companies.currency[code[checked]] != statement_currency[checked]
    (rows,) = np.nonzero(companies.has_bars[code] & ~other_currency)
    shares = _known_column(statements, "shares_outstanding")
    value = _market_values(
        shares, period_day, period_text, companies.bars, rows, code[rows], max_staleness_days
    )
    volatility, n_returns, has_volatility = _volatilities(
        period_day, companies.bars, rows, code[rows], min_returns
    )
    debt = _default_points(statements)
    has_debt = ~np.isnan(debt)
    rate, rate_series, rate_released, has_rate = _risk_free_rates(
        book, tuple(specs), companies.country[code], period_end
    )
    merton = _merton(
        value.has_value & has_volatility & has_debt & has_rate, value.value, volatility, debt, rate
    )

    reason = _join_reasons(
        [
            value.reason,
            _where_text(
                ~has_volatility,
                f"equity volatility needs {min_returns} daily returns up to ",
                period_text,
                ", ",
                n_returns.astype(str).astype(object),
                " available",
            ),
            _where_text(~has_rate, "no risk-free rate released on or before ", period_text),
            np.where(has_debt, None, "no debt or liabilities to set a default point"),
            merton.reason,
        ],
        n,
    )
    reason[reason == ""] = None
    unlisted = companies.unlisted[code]
    reason[unlisted] = _join_reasons([np.full(n, NO_LISTED_SYMBOL, dtype=object), reason], n)[unlisted]
    reason = _cut(reason)
    (mismatched,) = np.nonzero(other_currency)
    reason[mismatched] = [  # as the row loop did: the whole reason, uncut
        f"prices in {companies.currency[code[row]]}, statements in {statement_currency[row]}"
        for row in mismatched.tolist()
    ]

    price_date = np.full(n, None, dtype=object)
    price_date[value.has_price_date] = value.price_day[value.has_price_date].astype(object)
    columns = {
        "company_id": company_id,
        "period_end": period_end,
        "accession": statements["accession"].to_numpy(dtype=object),
        "filed_at": filed_at,
        "symbol": companies.symbol[code],
        "price_date": price_date,
        "close": _float_column(value.close, value.has_value),
        "shares_outstanding": _float_column(shares, ~np.isnan(shares)),
        "market_value_equity": _float_column(value.value, value.has_value),
        "equity_volatility": _float_column(volatility, has_volatility),
        "n_returns": n_returns,
        "debt_face": _float_column(debt, has_debt),
        "risk_free_rate": _float_column(rate, has_rate),
        "risk_free_series": rate_series,
        "risk_free_released_at": rate_released,
        "merton_dd": _float_column(merton.dd, merton.has_dd),
        "merton_pd": _float_column(merton.default_probability, merton.has_pd),
        "merton_method": merton.method,
        "reason": reason,
    }
    return pd.DataFrame(columns, columns=list(MARKET_FEATURE_COLUMNS))


def price_symbols(company: dict) -> list[str]:
    """Yahoo symbols to try for a company: the US ticker (BRK.B -> BRK-B); a Korean stock code on KOSPI
    (.KS), then KOSDAQ (.KQ)."""
    ticker = str(company.get("ticker") or "").strip().upper()
    if not ticker:
        return []
    if company.get("country") == "KR":
        return [f"{ticker}.KS", f"{ticker}.KQ"] if ticker.isdigit() else []
    return [ticker.replace(".", "-")]
