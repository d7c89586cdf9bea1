"""Features of a batch of companies: the training data's ratios computed from canonical items, the classic scores
as published, market features (market value, Merton DD), macro values and early-warning flags, all as known at
the row's filed_at.

Point in time: a feature row dated t (its ``filed_at``) uses its own statement (filed at t), prior years as
known at t, prices up to its balance-sheet date (<= t), macro observations released on or before t and warning
signals dated on or before t. Annual (FY) and trailing-twelve-month (TTM) rows are computed apart, so a TTM
row's "prior year" is the TTM row of the same fiscal quarter a year earlier, never an annual row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS
from risk_assets.core.classic import classic_score_frame
from risk_assets.core.early_warning import warning_flag_frame
from risk_assets.core.feature_table import (
    FEATURE_COLUMN_NAMES,
    MACRO_COLUMNS,
    MARKET_COLUMNS,
    MARKET_FIELDS,
    RATIO_COLUMNS,
    FeatureColumn,
)
from risk_assets.core.field_features import compute_field_features
from risk_assets.core.macro import MacroBook, MacroSeries
from risk_assets.core.pit import prior_year_versions
from risk_assets.core.price_index import ohlson_price_index
from risk_assets.core.ratios import compute_ratio_frame
from risk_assets.core.ttm import PERIOD_TYPE_ANNUAL, with_period_columns
from risk_assets.storage.warehouse import Warehouse

#: The statement columns a feature row repeats (its key and what kind of statement it is).
ROW_COLUMNS = (
    "company_id",
    "period_end",
    "accession",
    "fiscal_year",
    "filed_at",
    "currency",
    "period_type",
    "fiscal_period",
)


def _groups(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """FY rows together; TTM rows by fiscal quarter (a TTM row's prior year is the same quarter a year back)."""
    annual = frame["period_type"] == PERIOD_TYPE_ANNUAL
    groups = [frame[annual]]
    ttm = frame[~annual]
    groups += [group for _, group in ttm.groupby("fiscal_period")]
    return [group for group in groups if len(group)]


def _market_positions(group: pd.DataFrame, market: pd.DataFrame | None) -> np.ndarray:
    """Per statement row, the position of its market_features row (same company, balance-sheet date and
    accession; the last such row wins), -1 where it has none."""
    if market is None or market.empty:
        return np.full(len(group), -1, dtype=np.int64)
    keys = pd.DataFrame(
        {
            "company_id": market["company_id"].to_numpy(dtype=object),
            "_end": pd.to_datetime(market["period_end"]).dt.normalize().to_numpy(),
            "accession": market["accession"].to_numpy(dtype=object),
            "_position": np.arange(len(market)),
        }
    ).drop_duplicates(["company_id", "_end", "accession"], keep="last")
    asked = pd.DataFrame(
        {
            "company_id": group["company_id"].to_numpy(dtype=object),
            "_end": pd.to_datetime(group["period_end"]).dt.normalize().to_numpy(),
            "accession": group["accession"].to_numpy(dtype=object),
        }
    )
    found = asked.merge(keys, on=["company_id", "_end", "accession"], how="left")
    return found["_position"].fillna(-1).to_numpy(dtype=np.int64)


def _market_values(market: pd.DataFrame | None, positions: np.ndarray, name: str) -> np.ndarray:
    """A market_features column taken at ``positions`` as stored (objects), None where there is no row."""
    out = np.full(len(positions), None, dtype=object)
    found = positions >= 0
    if market is not None and name in market.columns and found.any():
        out[found] = market[name].to_numpy(dtype=object)[positions[found]]
    return out


def _finite(values: np.ndarray) -> np.ndarray:
    """Objects -> float array with NaN for None and anything not finite (finite_or_none, a column at a time)."""
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    return np.where(np.isfinite(numbers), numbers, np.nan)


def _with_market(group: pd.DataFrame, market: pd.DataFrame | None, positions: np.ndarray) -> pd.DataFrame:
    """The statements with their market inputs: market value from price x shares at the balance-sheet date where
    prices exist (it wins over the 10-K cover's public float the statement may carry), equity volatility and
    Merton DD from prices; ``market_value_source`` says where the market value came from."""
    out = group.copy()
    price_mv = _finite(_market_values(market, positions, "market_value_equity"))
    statement_mv = pd.to_numeric(out.get("market_value_equity"), errors="coerce").to_numpy(dtype=float)
    derived = out.get("derived_items", pd.Series("", index=out.index)).fillna("").astype(str)
    float_mv = derived.str.contains("market_value_equity").to_numpy()
    out["market_value_equity"] = np.where(np.isfinite(price_mv), price_mv, statement_mv)
    source = np.where(
        np.isfinite(price_mv),
        "price x shares at the balance-sheet date",
        np.where(
            np.isnan(statement_mv),
            None,
            np.where(float_mv, "public float on the annual report's cover", "reported with the statement"),
        ),
    )
    carried = out.get("market_value_carried_from", pd.Series(None, index=out.index)).to_numpy(dtype=object)
    with_carry = pd.notna(source) & pd.notna(carried) & np.isnan(price_mv)
    source[with_carry] = (
        pd.Series(source[with_carry], dtype=object)
        + ", carried from the period ending "
        + pd.Series(carried[with_carry], dtype=object).astype(str)
    ).to_numpy(dtype=object)
    out["market_value_source"] = source
    out["equity_volatility"] = _finite(_market_values(market, positions, "equity_volatility"))
    out["merton_dd"] = _finite(_market_values(market, positions, "merton_dd"))
    return out


#: How old (period end to period end) a market value may be when carried to a later statement of the company.
MARKET_VALUE_CARRY_DAYS = 400


def carry_market_value(frame: pd.DataFrame) -> pd.DataFrame:
    """Statements without a market value (TTM rows, a 10-K/A) take the company's latest one known at their filing
    date, when it belongs to a period ending at most MARKET_VALUE_CARRY_DAYS earlier: the annual report's public
    float is the only market value most filers give, and it should not vanish between annual reports.
    ``market_value_carried_from`` names the period end it came from (None where the row has its own)."""
    out = frame.copy()
    out["market_value_carried_from"] = None
    mv = pd.to_numeric(out.get("market_value_equity"), errors="coerce")
    known = out[mv.notna()]
    if known.empty or mv.notna().all():
        return out
    lookup = pd.DataFrame(
        {
            "company_id": known["company_id"].to_numpy(),
            "_filed": pd.to_datetime(known["filed_at"]).to_numpy(),
            "_mv": mv[mv.notna()].to_numpy(),
            "_from": pd.to_datetime(known["period_end"]).to_numpy(),
            "_derived": known.get("derived_items", pd.Series("", index=known.index)).fillna("").to_numpy(),
        }
    ).sort_values(["_filed", "_from"])  # same-day ties: the newest period last
    wanting = out[mv.isna()]
    asked = pd.DataFrame(
        {
            "_row": wanting.index.to_numpy(),
            "company_id": wanting["company_id"].to_numpy(),
            "_filed": pd.to_datetime(wanting["filed_at"]).to_numpy(),
            "_end": pd.to_datetime(wanting["period_end"]).to_numpy(),
        }
    ).sort_values("_filed")
    found = pd.merge_asof(asked, lookup, on="_filed", by="company_id", direction="backward")
    fresh = found["_mv"].notna() & (
        (found["_end"] - found["_from"]).dt.days.between(0, MARKET_VALUE_CARRY_DAYS)
    )
    found = found[fresh]
    out.loc[found["_row"].to_numpy(), "market_value_equity"] = found["_mv"].to_numpy()
    out.loc[found["_row"].to_numpy(), "market_value_carried_from"] = found["_from"].dt.date.to_numpy()
    carried_float = found["_derived"].str.contains("market_value_equity").to_numpy()
    rows = found["_row"].to_numpy()
    out.loc[rows[carried_float], "derived_items"] = (
        out.loc[rows[carried_float], "derived_items"].fillna("").astype(str) + ",market_value_equity"
    )
    return out


def _price_indices(fiscal_years: np.ndarray) -> np.ndarray:
    """ohlson_price_index per row, looked up once per fiscal year."""
    years, inverse = np.unique(fiscal_years.astype(int), return_inverse=True)
    return np.array([ohlson_price_index(int(year))[0] for year in years], dtype=float)[inverse]


def _dates(values: np.ndarray) -> np.ndarray:
    """Stored dates (date, Timestamp or ISO text) as ``datetime.date`` objects, None where missing."""
    days = pd.to_datetime(pd.Series(values, dtype=object))
    return np.where(days.notna(), days.dt.date, None)


def _typed(values: np.ndarray, column: FeatureColumn) -> object:
    """market_features values as the column's kind."""
    if column.kind == "float":
        return _finite(values)
    if column.kind == "int":
        return pd.array(pd.to_numeric(pd.Series(values, dtype=object)), dtype="Int64")
    if column.kind == "date":
        return _dates(values)
    return np.where(pd.notna(values), values, None)


def _group_features(group: pd.DataFrame, market: pd.DataFrame | None, positions: np.ndarray) -> pd.DataFrame:
    """Ratios, classic scores and market columns of one group of _groups (the group's index); ``positions``:
    each row's market_features row (_market_positions)."""
    group = _with_market(group, market, positions)
    ratios = pd.concat([compute_ratio_frame(group), compute_field_features(group)], axis=1)
    prior = prior_year_versions(group[["company_id", "fiscal_year", "filed_at", "net_income"]])
    items = group.reindex(columns=list(CANONICAL_ITEMS))
    items = items.where(items.notna(), np.nan).astype(float)
    classic = classic_score_frame(
        items,
        pd.to_numeric(prior["net_income"], errors="coerce"),
        usd_per_unit=np.where(group["currency"].to_numpy(dtype=object) == "USD", 1.0, np.nan),
        price_index=_price_indices(group["fiscal_year"].to_numpy()),
    )
    # equity_volatility and merton_dd are features too: their one column holds what the ratios computed from
    # the same market row (finite or null, as the market field reads).
    market_columns = {
        column.name: _typed(_market_values(market, positions, field), column)
        for field, column in MARKET_COLUMNS.items()
        if field in MARKET_FIELDS and column.name not in RATIO_COLUMNS
    }
    reason = pd.Series(_market_values(market, positions, "reason"), dtype=object)
    reason = reason.where(reason.notna() & (reason.astype(str) != ""), "no market features")
    merton_dd = ratios["merton_dd"].to_numpy(dtype=float)
    return pd.concat(
        [
            ratios[list(RATIO_COLUMNS)],
            classic[[c for c in classic.columns if c in FEATURE_COLUMN_NAMES]],
            pd.DataFrame(
                {
                    "merton_dd_reason": np.where(np.isnan(merton_dd), reason.to_numpy(dtype=object), None),
                    **market_columns,
                    "market_value_source": group["market_value_source"].to_numpy(dtype=object),
                },
                index=group.index,
            ),
        ],
        axis=1,
    )


def _no_macro(rows: int) -> pd.DataFrame:
    """Every macro column null (build_features without a MacroBook)."""
    return pd.DataFrame(
        {
            column.name: np.full(rows, np.nan)
            if column.kind == "float"
            else np.full(rows, None, dtype=object)
            for column in MACRO_COLUMNS.values()
        }
    )


def build_features(
    frame: pd.DataFrame,
    *,
    market: pd.DataFrame | None = None,
    book: MacroBook | None = None,
    specs: Sequence[MacroSeries] = (),
    signals: pd.DataFrame | None = None,
    companies: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One feature row per statement version: the statement's ROW_COLUMNS and the typed columns of
    core.feature_table (ratios, classic scores with their reasons, market inputs, macro values, warning flags;
    see the module docstring for what each may see). Without ``book`` the macro columns are null.

    Whole columns at a time: a handful of groups (FY and each TTM quarter), macro values once per (country,
    date), warning flags by sorted-key searches; no loop over rows or companies."""
    frame = with_period_columns(frame.reset_index(drop=True))
    if frame.empty:
        return pd.DataFrame()
    frame = carry_market_value(frame)
    positions = _market_positions(frame, market)  # frame's index is a range: positions by label
    groups = _groups(frame)
    parts = [_group_features(group, market, positions[group.index.to_numpy()]) for group in groups]
    out = pd.concat([pd.concat(groups)[list(ROW_COLUMNS)], pd.concat(parts)], axis=1).reset_index(drop=True)
    out["fiscal_year"] = out["fiscal_year"].astype(int)
    filed = pd.to_datetime(out["filed_at"]).dt.date.to_numpy(dtype=object)
    company = out["company_id"].to_numpy(dtype=object)
    if book is not None:
        country_of = (
            dict(zip(companies["company_id"], companies["country"], strict=True))
            if companies is not None
            else {}
        )
        countries = pd.Series(company).map(country_of).fillna("").to_numpy(dtype=object)
        macro = book.feature_frame(specs, countries, filed)
    else:
        macro = _no_macro(len(out))
    dart = (
        set(companies.loc[companies["dart_corp_code"].notna(), "company_id"])
        if companies is not None
        else set()
    )
    flags = warning_flag_frame(
        signals if signals is not None else pd.DataFrame(),
        company,
        filed,
        pd.Series(company).isin(dart).to_numpy(),
    )
    return pd.concat([out, macro, flags], axis=1)[[*ROW_COLUMNS, *FEATURE_COLUMN_NAMES]]


@dataclass(frozen=True)
class FeatureBatch:
    """build_features of one batch of companies, from what the warehouse holds for them (picklable, so a worker
    process can derive the batch: workers.derived_batches)."""

    book: MacroBook
    specs: tuple[MacroSeries, ...]

    def __call__(self, store: Warehouse, batch: list[str]) -> pd.DataFrame:
        return build_features(
            store.read("statements", where={"company_id": batch}),
            market=store.read("market_features", where={"company_id": batch}),
            book=self.book,
            specs=self.specs,
            signals=store.read("warning_signals", where={"company_id": batch}),
            companies=store.read("companies", where={"company_id": batch}),
        )
