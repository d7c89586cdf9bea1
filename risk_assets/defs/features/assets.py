"""Features: the training data's ratios computed from canonical items, the classic scores as published, market
features (market value, Merton DD), macro values and early-warning flags, all as known at the row's filed_at.

Point in time: a feature row dated t (its ``filed_at``) uses its own statement (filed at t), prior years as
known at t, prices up to its balance-sheet date (<= t), macro observations released on or before t and warning
signals dated on or before t. Annual (FY) and trailing-twelve-month (TTM) rows are computed apart, so a TTM
row's "prior year" is the TTM row of the same fiscal quarter a year earlier, never an annual row.
"""

import datetime as dt
import json
from collections.abc import Sequence

import dagster as dg
import numpy as np
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS
from risk_assets.core.classic import classic_scores
from risk_assets.core.early_warning import warning_flags
from risk_assets.core.macro import MacroBook, MacroSeries
from risk_assets.core.pit import prior_year_versions
from risk_assets.core.price_index import ohlson_price_index
from risk_assets.core.ratios import MODEL_RATIOS, compute_ratio_frame
from risk_assets.core.ttm import PERIOD_TYPE_ANNUAL, with_period_columns
from risk_assets.defs.market.assets import macro_indicators, market_features
from risk_assets.defs.resources import MacroSeriesResource, WarehouseResource
from risk_assets.defs.sources.assets import FOLLOW_UPSTREAM, warning_signals
from risk_assets.defs.statements.assets import statements
from risk_assets.storage.warehouse import utc_now

CLASSIC_COLUMNS = {
    "altman_z": "altman_z",
    "altman_z_double_prime": "altman_z_double_prime",
    "ohlson_o": "ohlson_o",
    "zmijewski": "zmijewski",
}
#: market_features columns carried into a feature row's ``market`` JSON.
MARKET_FIELDS = ("symbol", "price_date", "close", "shares_outstanding", "market_value_equity", "equity_volatility",
                 "n_returns", "debt_face", "risk_free_rate", "risk_free_series", "risk_free_released_at",
                 "merton_dd", "merton_pd", "merton_method", "reason")


def _items(row: pd.Series) -> dict[str, float | None]:
    out = {}
    for item in CANONICAL_ITEMS:
        value = row.get(item)
        out[item] = None if value is None or pd.isna(value) else float(value)
    return out


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _plain(value: object) -> object:
    """A JSON-safe value: dates as ISO text, NaN as null, numpy scalars as Python numbers."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dt.date | pd.Timestamp):
        return pd.Timestamp(value).date().isoformat()
    return value


def _groups(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """FY rows together; TTM rows by fiscal quarter (a TTM row's prior year is the same quarter a year back)."""
    annual = frame["period_type"] == PERIOD_TYPE_ANNUAL
    groups = [frame[annual]]
    ttm = frame[~annual]
    groups += [group for _, group in ttm.groupby("fiscal_period")]
    return [group for group in groups if len(group)]


def _market_lookup(market: pd.DataFrame | None) -> dict[tuple, dict]:
    if market is None or market.empty:
        return {}
    keys = zip(market["company_id"], pd.to_datetime(market["period_end"]).dt.date, market["accession"], strict=True)
    return dict(zip(keys, market.to_dict("records"), strict=True))


def build_features(
    frame: pd.DataFrame,
    *,
    market: pd.DataFrame | None = None,
    book: MacroBook | None = None,
    specs: Sequence[MacroSeries] = (),
    signals: pd.DataFrame | None = None,
    companies: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One feature row per statement version: ratios (JSON), classic scores with their reasons, market, macro
    and warning JSON (see the module docstring for what each may see)."""
    frame = with_period_columns(frame.reset_index(drop=True))
    if frame.empty:
        return pd.DataFrame()
    by_market = _market_lookup(market)
    country = dict(zip(companies["company_id"], companies["country"], strict=True)) if companies is not None else {}
    dart_companies = set(companies.loc[companies["dart_corp_code"].notna(), "company_id"]) if companies is not None \
        else set()
    signals_of = {cid: group for cid, group in signals.groupby("company_id")} if signals is not None and len(signals) \
        else {}
    no_signals = pd.DataFrame(columns=["company_id", "kind", "signal_date", "resolved_at"])
    rows = []
    for group in _groups(frame):
        ratios = compute_ratio_frame(group)
        prior = prior_year_versions(group)
        for i, row in group.iterrows():
            key = (row["company_id"], pd.Timestamp(row["period_end"]).date(), row["accession"])
            filed_at = pd.Timestamp(row["filed_at"]).date()
            items = _items(row)
            found = by_market.get(key, {})
            if items["market_value_equity"] is None and found.get("market_value_equity") is not None \
                    and np.isfinite(found["market_value_equity"]):
                items["market_value_equity"] = float(found["market_value_equity"])
            prior_items = _items(prior.loc[i]) if prior.loc[i].notna().any() else None
            usd = 1.0 if row["currency"] == "USD" else None
            index, _note = ohlson_price_index(int(row["fiscal_year"]))
            scores = classic_scores(items, prior_items, usd_per_unit=usd, price_index=index)
            classic = {name: {"value": _finite_or_none(s.value), "reason": s.reason, "zone": s.zone}
                       for name, s in scores.items()}
            merton_dd = _plain(found.get("merton_dd"))
            classic["merton_dd"] = {"value": merton_dd, "zone": None,
                                    "reason": None if merton_dd is not None else (found.get("reason")
                                                                                  or "no market features")}
            macro = book.features(specs, country.get(row["company_id"], ""), filed_at) if book is not None else {}
            flags = warning_flags(signals_of.get(row["company_id"], no_signals), filed_at,
                                  audit_opinions_known=row["company_id"] in dart_companies)
            rows.append(
                {
                    "company_id": row["company_id"],
                    "period_end": row["period_end"],
                    "accession": row["accession"],
                    "fiscal_year": int(row["fiscal_year"]),
                    "filed_at": row["filed_at"],
                    "currency": row["currency"],
                    "period_type": row["period_type"],
                    "fiscal_period": row["fiscal_period"],
                    "ratios": json.dumps({k: _finite_or_none(v)
                                          for k, v in ratios.loc[i, list(MODEL_RATIOS)].items()}),
                    "classic": json.dumps(classic, sort_keys=True),
                    **{column: classic.get(name, {}).get("value") for column, name in CLASSIC_COLUMNS.items()},
                    "merton_dd": merton_dd,
                    "market": json.dumps({f: _plain(found.get(f)) for f in MARKET_FIELDS}, sort_keys=True),
                    "macro": json.dumps(macro, sort_keys=True),
                    "warnings": json.dumps(flags, sort_keys=True),
                }
            )
    return pd.DataFrame(rows)


@dg.asset(
    group_name="features",
    kinds={"pandas", "sql"},
    deps=[statements, market_features, macro_indicators, warning_signals],
    automation_condition=FOLLOW_UPSTREAM,
    description="Per statement version (annual and TTM): the Polish-data ratios computable from canonical items "
    "(prior years taken point in time), Altman Z (where a market value exists), Z'', Ohlson O, Zmijewski and "
    "Merton DD, each null with a reason when an input is missing; macro values released by filed_at and "
    "early-warning flags known by then.",
)
def features(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, macro_series: MacroSeriesResource
) -> dg.MaterializeResult:
    store = warehouse.get()
    frame = build_features(
        store.read("statements"),
        market=store.read("market_features"),
        book=MacroBook(store.read("indicators")),
        specs=macro_series.specs(),
        signals=store.read("warning_signals"),
        companies=store.read("companies"),
    )
    if frame.empty:
        context.log.warning("no statements: the features table is left as it is")
        return dg.MaterializeResult(metadata={"rows": 0})
    frame["computed_at"] = utc_now()
    with store.transaction() as conn:
        # Derived entirely from statements: replace the table so removed versions disappear with them.
        store.upsert("features", frame, replace={}, connection=conn)
    available = {c: int(frame[c].notna().sum()) for c in [*CLASSIC_COLUMNS, "merton_dd"]}
    return dg.MaterializeResult(
        metadata={"rows": len(frame), "companies": int(frame["company_id"].nunique()),
                  "ttm_rows": int((frame["period_type"] != PERIOD_TYPE_ANNUAL).sum()),
                  "ratios": len(MODEL_RATIOS), **{f"{c}_available": n for c, n in available.items()}}
    )
