"""Features: the training data's ratios computed from canonical items, the classic scores as published, market
features (market value, Merton DD), macro values and early-warning flags, all as known at the row's filed_at.

Point in time: a feature row dated t (its ``filed_at``) uses its own statement (filed at t), prior years as
known at t, prices up to its balance-sheet date (<= t), macro observations released on or before t and warning
signals dated on or before t. Annual (FY) and trailing-twelve-month (TTM) rows are computed apart, so a TTM
row's "prior year" is the TTM row of the same fiscal quarter a year earlier, never an annual row.
"""

import datetime as dt
import json
import time
from collections.abc import Sequence

import dagster as dg
import numpy as np
import pandas as pd

from risk_assets.core.canonical import item_records
from risk_assets.core.classic import classic_scores
from risk_assets.core.early_warning import warning_flags
from risk_assets.core.field_features import compute_field_features, finite_or_none
from risk_assets.core.fingerprint import combined_fingerprint, table_fingerprint
from risk_assets.core.macro import MacroBook, MacroSeries
from risk_assets.core.pit import prior_year_versions
from risk_assets.core.price_index import ohlson_price_index
from risk_assets.core.ratios import MODEL_RATIOS, compute_ratio_frame
from risk_assets.core.ttm import PERIOD_TYPE_ANNUAL, with_period_columns
from risk_assets.defs.incremental import (
    EVERY_COMPANY,
    SHARED_TOKEN,
    batch_progress,
    company_work,
    no_company_work,
)
from risk_assets.defs.market.assets import macro_indicators, market_features
from risk_assets.defs.resources import MacroSeriesResource, WarehouseResource
from risk_assets.defs.sources.assets import FOLLOW_UPSTREAM, warning_signals
from risk_assets.defs.statements.assets import statements
from risk_assets.storage.warehouse import utc_now
from risk_assets.version import code_version

CLASSIC_COLUMNS = {
    "altman_z": "altman_z",
    "altman_z_double_prime": "altman_z_double_prime",
    "ohlson_o": "ohlson_o",
    "zmijewski": "zmijewski",
}
#: market_features columns carried into a feature row's ``market`` JSON.
MARKET_FIELDS = (
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
    keys = zip(
        market["company_id"], pd.to_datetime(market["period_end"]).dt.date, market["accession"], strict=True
    )
    return dict(zip(keys, market.to_dict("records"), strict=True))


def _with_market(group: pd.DataFrame, by_market: dict[tuple, dict]) -> pd.DataFrame:
    """The statements with their market inputs: market value from price x shares at the balance-sheet date where
    prices exist (it wins over the 10-K cover's public float the statement may carry), equity volatility and
    Merton DD from prices; ``market_value_source`` says where the market value came from."""
    found = [
        by_market.get((c, pd.Timestamp(e).date(), a), {})
        for c, e, a in zip(group["company_id"], group["period_end"], group["accession"], strict=True)
    ]
    out = group.copy()

    def column(name: str) -> np.ndarray:
        return np.array([finite_or_none(_plain(f.get(name))) for f in found], dtype=float)

    price_mv = column("market_value_equity")
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
    carried = out.get("market_value_carried_from", pd.Series(None, index=out.index)).to_numpy()
    out["market_value_source"] = [
        f"{text}, carried from the period ending {when}"
        if text and when is not None and np.isnan(p)
        else text
        for text, when, p in zip(source, carried, price_mv, strict=True)
    ]
    out["equity_volatility"], out["merton_dd"] = column("equity_volatility"), column("merton_dd")
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
    frame = carry_market_value(frame)
    by_market = _market_lookup(market)
    country = (
        dict(zip(companies["company_id"], companies["country"], strict=True)) if companies is not None else {}
    )
    dart_companies = (
        set(companies.loc[companies["dart_corp_code"].notna(), "company_id"])
        if companies is not None
        else set()
    )
    signals_of = (
        {cid: group for cid, group in signals.groupby("company_id")}
        if signals is not None and len(signals)
        else {}
    )
    no_signals = pd.DataFrame(columns=["company_id", "kind", "signal_date", "resolved_at"])
    # A company without signals has the same flags at every date: computed once per audit-feed answer.
    quiet_flags = {
        known: warning_flags(no_signals, dt.date(2000, 1, 1), audit_opinions_known=known)
        for known in (False, True)
    }
    rows = []
    for group in _groups(frame):
        group = _with_market(group, by_market)
        ratios = pd.concat([compute_ratio_frame(group), compute_field_features(group)], axis=1)
        prior = prior_year_versions(group)
        items_of = item_records(group)
        prior_items_of = item_records(prior)
        has_prior = prior.notna().any(axis=1).to_numpy()
        ratio_records = ratios.to_dict("records")
        for position, row in enumerate(group.to_dict("records")):
            key = (row["company_id"], pd.Timestamp(row["period_end"]).date(), row["accession"])
            filed_at = pd.Timestamp(row["filed_at"]).date()
            items = items_of[position]
            found = by_market.get(key, {})
            prior_items = prior_items_of[position] if has_prior[position] else None
            usd = 1.0 if row["currency"] == "USD" else None
            index, _note = ohlson_price_index(int(row["fiscal_year"]))
            scores = classic_scores(items, prior_items, usd_per_unit=usd, price_index=index)
            classic = {
                name: {"value": finite_or_none(s.value), "reason": s.reason, "zone": s.zone}
                for name, s in scores.items()
            }
            merton_dd = _plain(found.get("merton_dd"))
            classic["merton_dd"] = {
                "value": merton_dd,
                "zone": None,
                "reason": None if merton_dd is not None else (found.get("reason") or "no market features"),
            }
            macro = (
                book.features(specs, country.get(row["company_id"], ""), filed_at) if book is not None else {}
            )
            audit_known = row["company_id"] in dart_companies
            company_signals = signals_of.get(row["company_id"])
            flags = (
                quiet_flags[audit_known]
                if company_signals is None
                else warning_flags(company_signals, filed_at, audit_opinions_known=audit_known)
            )
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
                    "ratios": json.dumps({k: finite_or_none(v) for k, v in ratio_records[position].items()}),
                    "classic": json.dumps(classic, sort_keys=True),
                    **{
                        column: classic.get(name, {}).get("value") for column, name in CLASSIC_COLUMNS.items()
                    },
                    "merton_dd": merton_dd,
                    "market": json.dumps(
                        {
                            **{f: _plain(found.get(f)) for f in MARKET_FIELDS},
                            "market_value_source": row["market_value_source"],
                        },
                        sort_keys=True,
                    ),
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
    description="Per statement version (annual and TTM), re-derived for the companies whose inputs changed: the "
    "Polish-data ratios computable from canonical items "
    "(prior years taken point in time), Altman Z (where a market value exists), Z'', Ohlson O, Zmijewski and "
    "Merton DD, each null with a reason when an input is missing; macro values released by filed_at and "
    "early-warning flags known by then.",
)
def features(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, macro_series: MacroSeriesResource
) -> dg.MaterializeResult:
    store = warehouse.get()
    indicators, specs = store.read("indicators"), macro_series.specs()
    shared = combined_fingerprint([table_fingerprint(indicators), repr(tuple(specs)), code_version()])
    work = company_work(
        context, store, shared, lambda: store.distinct("statements", "company_id"), "features"
    )
    if not work.companies:
        with store.transaction() as conn:
            store.clear_stale(conn, "features", work.marks)
        return no_company_work(context, work, shared)
    context.log.info(f"features: {work.reason}")
    book, started, done, written, ttm = MacroBook(indicators), time.perf_counter(), 0, 0, 0
    available = dict.fromkeys([*CLASSIC_COLUMNS, "merton_dd"], 0)
    for batch in work.batches():
        frame = build_features(
            store.read("statements", where={"company_id": batch}),
            market=store.read("market_features", where={"company_id": batch}),
            book=book,
            specs=specs,
            signals=store.read("warning_signals", where={"company_id": batch}),
            companies=store.read("companies", where={"company_id": batch}),
        )
        if len(frame):
            frame["computed_at"] = utc_now()
            ttm += int((frame["period_type"] != PERIOD_TYPE_ANNUAL).sum())
            for column in available:
                available[column] += int(frame[column].notna().sum())
        with store.transaction() as conn:
            # Derived entirely from the batch's statements: replaced per company, so removed versions disappear.
            store.upsert(
                "features", frame, replace={"company_id": batch}, connection=conn, track_changes=False
            )
            store.mark_stale(conn, ["risk_scores"], batch)
            store.clear_stale(conn, "features", work.marks_of(batch))
        done, written = done + len(batch), written + len(frame)
        batch_progress(context, work, done, written, started)
    with store.transaction() as conn:
        store.clear_stale(conn, "features", work.unhandled_marks())
    return dg.MaterializeResult(
        metadata={
            "rows": written,
            "companies_recomputed": len(work.companies),
            EVERY_COMPANY: work.everything,
            "why": work.reason,
            "ttm_rows": ttm,
            "ratios": len(MODEL_RATIOS),
            **{f"{c}_available": n for c, n in available.items()},
            "rows_per_second": round(written / max(time.perf_counter() - started, 1e-9)),
            SHARED_TOKEN: shared,
        }
    )
