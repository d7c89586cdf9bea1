"""Market features of a batch of companies: each statement row's market value, equity volatility and Merton
distance to default, from the prices the warehouse holds (core.market computes them)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from risk_assets.core import market
from risk_assets.core.macro import MacroBook, MacroSeries
from risk_assets.storage.warehouse import Warehouse


def _prices_by_company(store, companies: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame, str | None]]:
    """company_id -> (symbol, price frame, currency) for the first candidate symbol that has prices."""
    candidates = sorted(
        {symbol for company in companies.to_dict("records") for symbol in market.price_symbols(company)}
    )
    by_symbol = dict(
        tuple(store.read("market_prices", where={"symbol": candidates}).groupby("symbol", sort=False))
    )
    out = {}
    for company in companies.to_dict("records"):
        for symbol in market.price_symbols(company):
            bars = by_symbol.get(symbol)
            if bars is not None and len(bars):
                frame = pd.DataFrame(
                    {
                        "date": pd.to_datetime(bars["price_date"]),
                        "close": bars["close"].astype(float),
                        "adjclose": bars["adjclose"].astype(float),
                    }
                ).sort_values("date")
                out[company["company_id"]] = (symbol, frame.reset_index(drop=True), bars["currency"].iloc[0])
                break
    return out


def compute_market_features(
    statement_rows: pd.DataFrame, companies: pd.DataFrame, priced: dict, book: MacroBook, specs
) -> pd.DataFrame:
    """One market_features row per statement row (values None with the reason where an input is missing),
    computed from whole columns (core.market.market_feature_frame)."""
    country = dict(zip(companies["company_id"], companies["country"], strict=True))
    return market.market_feature_frame(statement_rows, country, priced, book, specs)


@dataclass(frozen=True)
class MarketBatch:
    """compute_market_features of one batch of companies, from what the warehouse holds for them (picklable, so
    a worker process can derive the batch: workers.derived_batches)."""

    book: MacroBook
    specs: tuple[MacroSeries, ...]

    def __call__(self, store: Warehouse, batch: list[str]) -> pd.DataFrame:
        companies = store.read("companies", where={"company_id": batch})
        return compute_market_features(
            store.read("statements", where={"company_id": batch}, columns=market.STATEMENT_INPUTS),
            companies,
            _prices_by_company(store, companies),
            self.book,
            self.specs,
        )
