"""Market data: macro indicators with their release dates, daily equity prices, and per-statement market features.

Bundled mode reads data/fred (GDP first releases, CPILFESL, WGS10YR) and data/yahoo (the AAPL 2020 chart)
through the same parsers a live fetch feeds; live mode fetches through the FRED, ECOS and price clients. Every
raw body is stored in the object store (content-addressed) before it is parsed.
"""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from risk_assets.clients import NotFound, SourceError
from risk_assets.clients.fred import parse_observations
from risk_assets.core import market
from risk_assets.core.macro import MacroBook, MacroSeries, risk_free_rate
from risk_assets.defs.resources import (
    EcosResource,
    FredResource,
    MacroSeriesResource,
    ObjectStoreResource,
    PricesResource,
    WarehouseResource,
)
from risk_assets.defs.sources import bundled, fetch
from risk_assets.defs.sources.assets import FOLLOW_UPSTREAM, _live, company_universe
from risk_assets.defs.statements.assets import statements
from risk_assets.storage.warehouse import utc_now

ECOS_FIRST_YEAR = 2005


def _indicator_rows(source: str, parsed: list[dict]) -> list[dict]:
    return [
        {"source": source, "series_id": row["series_id"], "observation_date": row["observation_date"],
         "released_at": row["released_at"], "value": row["value"], "release_basis": row["release_basis"]}
        for row in parsed if row["released_at"] is not None
    ]


def _ecos_bounds(cycle: str, today: dt.date) -> tuple[str, str]:
    if cycle == "D":
        return f"{ECOS_FIRST_YEAR}0101", today.strftime("%Y%m%d")
    if cycle == "M":
        return f"{ECOS_FIRST_YEAR}01", today.strftime("%Y%m")
    if cycle == "Q":
        return f"{ECOS_FIRST_YEAR}Q1", f"{today.year}Q{(today.month - 1) // 3 + 1}"
    return str(ECOS_FIRST_YEAR), str(today.year)


def _fetch_series(spec: MacroSeries, series_id: str, live: bool, fred_client, ecos_client, capture,
                  log) -> list[dict]:
    first_release = spec.publication_lag_days is None
    if spec.source == "fred":
        if live:
            if fred_client is None:
                log.warning(f"FRED_API_KEY is not set: {series_id} skipped")
                return []
            payload = fred_client.observations_payload(series_id, first_release)
        else:
            body = bundled.fred_observations(series_id, first_release)
            if body is None:
                log.info(f"{series_id} is not bundled: its feature stays empty in the embedded default")
                return []
            mode = "first_release" if first_release else "latest"
            capture(f"fred/observations/{series_id}_{mode}_bundled.json", body, "application/json")
            payload = json.loads(body)
        return _indicator_rows("fred", parse_observations(payload, series_id, spec.publication_lag_days))
    if not live:
        log.info(f"ECOS {series_id} is not bundled: skipped in the embedded default")
        return []
    if ecos_client is None:
        log.warning(f"ECOS_API_KEY is not set: {series_id} skipped")
        return []
    stat_code, _, item = series_id.partition("/")
    start, end = _ecos_bounds(spec.cycle, dt.date.today())
    parsed = ecos_client.statistic_search(stat_code, spec.cycle, start, end, [item] if item else [])
    return _indicator_rows("ecos", [{**row, "series_id": series_id} for row in parsed])


@dg.asset(
    group_name="market",
    kinds={"sql"},
    description="Macro series (policy rate, 10-year government yield, credit spread, GDP, CPI) from FRED and "
    "ECOS, each observation with the day it was released (FRED first release, output_type=4, or observation "
    "date + the configured publication lag), into `indicators`.",
)
def macro_indicators(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    fred: FredResource,
    ecos: EcosResource,
    macro_series: MacroSeriesResource,
) -> dg.MaterializeResult:
    store, live = warehouse.get(), _live()
    store.create_schema()
    specs = macro_series.specs()
    capture = fetch.RawCapture(object_store.get())
    fred_lags = {s.series_id: s.publication_lag_days for s in specs if s.source == "fred" and s.publication_lag_days}
    fred_client = fred.client(fred_lags, raw_sink=capture) if live and fred.is_configured() else None
    ecos_lags = {sid: s.publication_lag_days for s in specs if s.source == "ecos" for sid in s.series_ids}
    ecos_client = ecos.client(ecos_lags, raw_sink=capture) if live and ecos.is_configured() else None
    loaded: dict[str, int] = {}
    failed: list[str] = []
    try:
        for spec in specs:
            for series_id in spec.series_ids:
                try:
                    rows = _fetch_series(spec, series_id, live, fred_client, ecos_client, capture, context.log)
                except SourceError as error:
                    context.log.warning(f"{spec.source}:{series_id} not refreshed: {error}")
                    failed.append(f"{spec.source}:{series_id}")
                    continue
                if rows:
                    # One transaction per series: it is replaced as a whole or not at all.
                    store.upsert("indicators", rows, replace={"source": spec.source, "series_id": series_id})
                    loaded[f"{spec.source}:{series_id}"] = len(rows)
    finally:
        for client in (fred_client, ecos_client):
            if client is not None:
                client.close()
    if failed and not loaded:
        raise dg.Failure(f"no macro series could be refreshed: {', '.join(failed)}")
    return dg.MaterializeResult(
        metadata={"series": len(loaded), "observations": sum(loaded.values()), "failed": ", ".join(failed) or "none",
                  "loaded": dg.MetadataValue.json(loaded), "raw_bytes": capture.stored_bytes}
    )


def price_symbols(company: dict) -> list[str]:
    """Yahoo symbols to try for a company: the US ticker (BRK.B -> BRK-B); a Korean stock code on KOSPI
    (.KS), then KOSDAQ (.KQ)."""
    ticker = str(company.get("ticker") or "").strip().upper()
    if not ticker:
        return []
    if company.get("country") == "KR":
        return [f"{ticker}.KS", f"{ticker}.KQ"] if ticker.isdigit() else []
    return [ticker.replace(".", "-")]


def _price_rows(symbol: str, payload: dict) -> list[dict]:
    frame = market.traded_prices(payload)
    currency = market.chart_currency(payload)
    return [
        {"symbol": symbol, "price_date": row.date.date(), "close": row.close, "adjclose": row.adjclose,
         "volume": row.volume, "currency": currency}
        for row in frame.itertuples(index=False)
    ]


@dg.asset(
    group_name="market",
    kinds={"sql"},
    deps=[company_universe],
    description="Daily equity prices (Yahoo chart format) of the universe's listed companies into "
    "`market_prices`: close as traded that day (splits undone) for market value, adjusted close for returns.",
)
def market_prices(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    prices: PricesResource,
) -> dg.MaterializeResult:
    store, live = warehouse.get(), _live()
    capture = fetch.RawCapture(object_store.get())
    client = prices.client(raw_sink=capture) if live else None
    loaded: dict[str, int] = {}
    start, today = dt.date.fromisoformat(prices.history_start), dt.date.today()
    try:
        for company in store.read("companies").to_dict("records"):
            for symbol in price_symbols(company):
                try:
                    if client is not None:
                        payload = client.chart_payload(symbol, start, today)
                    else:
                        body = bundled.price_chart(symbol)
                        if body is None:
                            continue
                        capture(f"yahoo/chart/{symbol}_bundled.json", body, "application/json")
                        payload = json.loads(body)
                except NotFound:
                    continue
                except SourceError as error:
                    context.log.warning(f"{company['company_id']} {symbol}: prices not refreshed: {error}")
                    break
                rows = _price_rows(symbol, payload)
                if rows:
                    store.upsert("market_prices", rows, replace={"symbol": symbol})
                    loaded[symbol] = len(rows)
                    break
    finally:
        if client is not None:
            client.close()
    return dg.MaterializeResult(metadata={"symbols": len(loaded), "bars": sum(loaded.values()),
                                          "loaded": dg.MetadataValue.json(loaded)})


def _prices_by_company(store, companies: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame, str | None]]:
    """company_id -> (symbol, price frame, currency) for the first candidate symbol that has prices."""
    by_symbol = dict(tuple(store.read("market_prices").groupby("symbol", sort=False)))
    out = {}
    for company in companies.to_dict("records"):
        for symbol in price_symbols(company):
            bars = by_symbol.get(symbol)
            if bars is not None and len(bars):
                frame = pd.DataFrame({"date": pd.to_datetime(bars["price_date"]), "close": bars["close"].astype(float),
                                      "adjclose": bars["adjclose"].astype(float)}).sort_values("date")
                out[company["company_id"]] = (symbol, frame.reset_index(drop=True), bars["currency"].iloc[0])
                break
    return out


def compute_market_features(statement_rows: pd.DataFrame, companies: pd.DataFrame, priced: dict,
                            book: MacroBook, specs) -> pd.DataFrame:
    """One market_features row per statement row (values None with the reason where an input is missing)."""
    country = dict(zip(companies["company_id"], companies["country"], strict=True))
    empty = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "close": pd.Series(dtype=float),
                          "adjclose": pd.Series(dtype=float)})
    rows = []
    for row in statement_rows.to_dict("records"):
        symbol, frame, currency = priced.get(row["company_id"], (None, empty, None))
        period_end = pd.Timestamp(row["period_end"]).date()
        rf = risk_free_rate(book.features(specs, country.get(row["company_id"], ""), period_end))
        if symbol is not None and currency and currency != row["currency"]:
            frame = empty  # a market value in another currency than the statements would be meaningless
        values = market.market_features(row, frame, period_end, rf)
        if symbol is None:
            values["reason"] = "; ".join(filter(None, ["no listed symbol with prices", values["reason"]]))[:400]
        elif frame is empty:
            values["reason"] = f"prices in {currency}, statements in {row['currency']}"
        rows.append({
            "company_id": row["company_id"], "period_end": period_end, "accession": row["accession"],
            "filed_at": pd.Timestamp(row["filed_at"]).date(), "symbol": symbol,
            **{k: v for k, v in values.items() if k != "debt_basis"},
        })
    return pd.DataFrame(rows)


@dg.asset(
    group_name="market",
    kinds={"pandas", "sql"},
    deps=[statements, market_prices, macro_indicators],
    automation_condition=FOLLOW_UPSTREAM,
    description="Per statement version: market value of equity (shares at the balance-sheet date x the close on "
    "or before it), equity volatility (a year of daily log returns), Merton distance to default (iterative, "
    "naive Bharath-Shumway fallback) with the risk-free rate known at the balance-sheet date.",
)
def market_features(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, macro_series: MacroSeriesResource
) -> dg.MaterializeResult:
    store = warehouse.get()
    companies = store.read("companies")
    frame = compute_market_features(store.read("statements"), companies, _prices_by_company(store, companies),
                                    MacroBook(store.read("indicators")), macro_series.specs())
    if len(frame):
        frame["computed_at"] = utc_now()
    # Derived entirely from statements, prices and indicators: replaced as a whole (one transaction).
    store.upsert("market_features", frame, replace={})
    available = {c: int(frame[c].notna().sum()) if len(frame) else 0
                 for c in ("market_value_equity", "equity_volatility", "merton_dd")}
    return dg.MaterializeResult(metadata={"rows": len(frame), **{f"{k}_available": v for k, v in available.items()}})
