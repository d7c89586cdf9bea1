"""Market data: macro indicators with their release dates, daily equity prices, and per-statement market features.

Where the series and charts come from is the ``market_source`` resource (``BundledMarket``: data/fred and
data/yahoo through the same parsers a live fetch feeds; ``LiveMarket``: the FRED, ECOS and price clients), chosen
in Definitions. Every raw body is stored in the object store (content-addressed) before it is parsed.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from risk_assets.clients import NotFound, SourceError
from risk_assets.core import market
from risk_assets.core.fingerprint import combined_fingerprint, table_fingerprint
from risk_assets.core.macro import MacroBook
from risk_assets.defs.incremental import (
    SHARED_TOKEN,
    company_work,
    derive_by_company,
    no_company_work,
)
from risk_assets.defs.resources import (
    MacroSeriesResource,
    MarketSource,
    ObjectStoreResource,
    PricesResource,
    WarehouseResource,
)
from risk_assets.defs.sources import fetch
from risk_assets.defs.sources.assets import FOLLOW_UPSTREAM, company_universe
from risk_assets.defs.statements.assets import statements
from risk_assets.derive.market import MarketBatch
from risk_assets.version import code_version


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
    market_source: MarketSource,
    macro_series: MacroSeriesResource,
) -> dg.MaterializeResult:
    store, specs = warehouse.get(), macro_series.specs()
    capture = fetch.RawCapture(object_store.get())
    loaded: dict[str, int] = {}
    failed: list[str] = []
    with market_source.session(capture, specs) as session:
        for spec in specs:
            for series_id in spec.series_ids:
                try:
                    rows = session.series_rows(spec, series_id, context.log)
                except SourceError as error:
                    context.log.warning(f"{spec.source}:{series_id} not refreshed: {error}")
                    failed.append(f"{spec.source}:{series_id}")
                    continue
                if rows:
                    # One transaction per series: it is replaced as a whole or not at all.
                    store.upsert("indicators", rows, replace={"source": spec.source, "series_id": series_id})
                    loaded[f"{spec.source}:{series_id}"] = len(rows)
    if failed and not loaded:
        raise dg.Failure(f"no macro series could be refreshed: {', '.join(failed)}")
    return dg.MaterializeResult(
        metadata={
            "series": len(loaded),
            "observations": sum(loaded.values()),
            "failed": ", ".join(failed) or "none",
            "loaded": dg.MetadataValue.json(loaded),
            "raw_bytes": capture.stored_bytes,
            "mode": market_source.mode,
        }
    )


def _price_rows(symbol: str, payload: dict) -> list[dict]:
    frame = market.traded_prices(payload)
    currency = market.chart_currency(payload)
    return [
        {
            "symbol": symbol,
            "price_date": row.date.date(),
            "close": row.close,
            "adjclose": row.adjclose,
            "volume": row.volume,
            "currency": currency,
        }
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
    market_source: MarketSource,
    prices: PricesResource,
) -> dg.MaterializeResult:
    store = warehouse.get()
    capture = fetch.RawCapture(object_store.get())
    loaded: dict[str, int] = {}
    start, today = dt.date.fromisoformat(prices.history_start), dt.date.today()
    with market_source.session(capture) as session:
        for company in store.read("companies").to_dict("records"):
            for symbol in market.price_symbols(company):
                try:
                    payload = session.chart_payload(symbol, start, today)
                except NotFound:
                    continue
                except SourceError as error:
                    context.log.warning(f"{company['company_id']} {symbol}: prices not refreshed: {error}")
                    break
                rows = _price_rows(symbol, payload) if payload is not None else []
                if rows:
                    with store.transaction() as conn:  # new prices: the company's market features are stale
                        store.upsert("market_prices", rows, replace={"symbol": symbol}, connection=conn)
                        store.mark_stale(conn, ["market_features"], [company["company_id"]])
                    loaded[symbol] = len(rows)
                    break
    return dg.MaterializeResult(
        metadata={
            "symbols": len(loaded),
            "bars": sum(loaded.values()),
            "loaded": dg.MetadataValue.json(loaded),
            "mode": market_source.mode,
        }
    )


#: Market inputs whose availability a market_features run reports.
MARKET_COLUMNS = ("market_value_equity", "equity_volatility", "merton_dd")


def market_counts(frame: pd.DataFrame) -> dict[str, int]:
    """A batch's rows with each market input computed."""
    return {column: int(frame[column].notna().sum()) for column in MARKET_COLUMNS}


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
    indicators, specs = store.read("indicators"), macro_series.specs()
    shared = combined_fingerprint([table_fingerprint(indicators), repr(tuple(specs)), code_version()])
    work = company_work(
        context, store, shared, lambda: store.distinct("statements", "company_id"), "market_features"
    )
    if not work.companies:
        return no_company_work(context, store, work, shared)
    # Derived from the batch's statements and prices: replaced per company. The write marks features stale for
    # the companies whose market rows changed (storage/stale.py).
    written, counted = derive_by_company(
        context,
        store,
        work,
        "market_features",
        MarketBatch(MacroBook(indicators), tuple(specs)),
        workers=warehouse.derive_workers,
        counts=market_counts,
    )
    return dg.MaterializeResult(
        metadata={
            "rows": written,
            **work.metadata(),
            **{f"{column}_available": counted[column] for column in MARKET_COLUMNS},
            SHARED_TOKEN: shared,
        }
    )
