"""build_features computes whole columns at a time; its rows, read back as documents (core.feature_table), equal
value for value the per-row computation it replaced (kept here as the reference: classic_scores on item dicts,
MacroBook.features, warning_flags and ohlson_price_index row by row), on the bundled warehouse and on synthetic
panels built to reach every branch (missing items, zero denominators, non-USD filers, restatements, TTM quarters,
market rows with and without Merton DD, every kind of warning signal, spreads and year-on-year macro series)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.canonical import CANONICAL_ITEMS, item_records
from risk_assets.core.classic import classic_score_frame, classic_scores
from risk_assets.core.early_warning import (
    FILING_OVERDUE,
    LATE_FILING_NOTICE,
    NON_CLEAN_AUDIT_OPINION,
    warning_flag_frame,
    warning_flags,
)
from risk_assets.core.feature_table import FEATURE_COLUMN_NAMES, MARKET_FIELDS, feature_document
from risk_assets.core.field_features import compute_field_features, finite_or_none
from risk_assets.core.macro import DEFAULT_SERIES, ROLES, MacroBook
from risk_assets.core.pit import prior_year_versions
from risk_assets.core.price_index import ohlson_price_index
from risk_assets.core.ratios import compute_ratio_frame
from risk_assets.core.ttm import with_period_columns
from risk_assets.derive.features import ROW_COLUMNS, _groups, build_features, carry_market_value
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse

# --- the reference: the per-row loop build_features ran before it was vectorised ------------------------------


def _plain(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dt.date | pd.Timestamp):
        return pd.Timestamp(value).date().isoformat()
    return value


def _reference_with_market(group: pd.DataFrame, by_market: dict) -> pd.DataFrame:
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
    carried = out["market_value_carried_from"].to_numpy()
    out["market_value_source"] = [
        f"{text}, carried from the period ending {when}"
        if text and when is not None and np.isnan(p)
        else text
        for text, when, p in zip(source, carried, price_mv, strict=True)
    ]
    out["equity_volatility"], out["merton_dd"] = column("equity_volatility"), column("merton_dd")
    return out


def reference_rows(frame, *, market=None, book=None, specs=(), signals=None, companies=None) -> list[dict]:
    """Per statement row: keys, and the ratios, classic, market, macro and warnings mappings."""
    frame = carry_market_value(with_period_columns(frame.reset_index(drop=True)))
    by_market = {}
    if market is not None and len(market):
        keys = zip(
            market["company_id"],
            pd.to_datetime(market["period_end"]).dt.date,
            market["accession"],
            strict=True,
        )
        by_market = dict(zip(keys, market.to_dict("records"), strict=True))
    country = (
        dict(zip(companies["company_id"], companies["country"], strict=True)) if companies is not None else {}
    )
    dart = (
        set(companies.loc[companies["dart_corp_code"].notna(), "company_id"])
        if companies is not None
        else set()
    )
    signals_of = dict(tuple(signals.groupby("company_id"))) if signals is not None and len(signals) else {}
    none = pd.DataFrame(columns=["company_id", "kind", "signal_date", "resolved_at"])
    rows = []
    for group in _groups(frame):
        group = _reference_with_market(group, by_market)
        ratios = pd.concat([compute_ratio_frame(group), compute_field_features(group)], axis=1)
        prior = prior_year_versions(group)
        items_of, prior_items_of = item_records(group), item_records(prior)
        has_prior = prior.notna().any(axis=1).to_numpy()
        for position, (row, ratio) in enumerate(
            zip(group.to_dict("records"), ratios.to_dict("records"), strict=True)
        ):
            found = by_market.get(
                (row["company_id"], pd.Timestamp(row["period_end"]).date(), row["accession"]), {}
            )
            filed_at = pd.Timestamp(row["filed_at"]).date()
            scores = classic_scores(
                items_of[position],
                prior_items_of[position] if has_prior[position] else None,
                usd_per_unit=1.0 if row["currency"] == "USD" else None,
                price_index=ohlson_price_index(int(row["fiscal_year"]))[0],
            )
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
            cid = row["company_id"]
            rows.append(
                {
                    "company_id": cid,
                    "period_end": row["period_end"],
                    "accession": row["accession"],
                    "fiscal_year": int(row["fiscal_year"]),
                    "filed_at": row["filed_at"],
                    "currency": row["currency"],
                    "period_type": row["period_type"],
                    "fiscal_period": row["fiscal_period"],
                    "ratios": {k: finite_or_none(v) for k, v in ratio.items()},
                    "classic": classic,
                    "merton_dd": merton_dd,
                    "market": {
                        **{f: _plain(found.get(f)) for f in MARKET_FIELDS},
                        "market_value_source": row["market_value_source"],
                    },
                    "macro": book.features(specs, country.get(cid, ""), filed_at) if book is not None else {},
                    "warnings": warning_flags(
                        signals_of.get(cid, none), filed_at, audit_opinions_known=cid in dart
                    ),
                }
            )
    return rows


def assert_rows_equal(built: pd.DataFrame, reference: list[dict]) -> None:
    """Same rows in the same order, every value equal (floats exactly): the statement columns, the classic score
    columns, and the documents the typed columns read back as (feature_document, what the API serves)."""
    assert len(built) == len(reference)
    assert list(built.columns) == [*ROW_COLUMNS, *FEATURE_COLUMN_NAMES]
    for got, want in zip(built.to_dict("records"), reference, strict=True):
        key = (want["company_id"], want["period_end"], want["accession"])
        for name in ROW_COLUMNS:
            assert got[name] == want[name], (key, name)
        documents = feature_document(got)
        for name in ("ratios", "classic", "market", "warnings"):
            assert documents[name] == want[name], (key, name)
        # without a MacroBook the reference had no macro document; the typed columns are then all null
        assert documents["macro"] == (want["macro"] or dict.fromkeys(ROLES)), key
        for name in ("altman_z", "altman_z_double_prime", "ohlson_o", "zmijewski", "merton_dd"):
            value = want["merton_dd"] if name == "merton_dd" else want["classic"][name]["value"]
            assert (None if pd.isna(got[name]) else got[name]) == value, (key, name)


# --- synthetic panels --------------------------------------------------------------------------------------------


def _indicators(rng: np.random.Generator) -> pd.DataFrame:
    """The default series' observations (US FRED, KR ECOS incl. the spread's two legs), released after a lag."""
    rows = []
    spans = {
        ("fred", "FEDFUNDS"): ("MS", 35),
        ("fred", "WGS10YR"): ("W-FRI", 7),
        ("fred", "BAA10Y"): ("B", 1),
        ("fred", "GDP"): ("QS", 90),
        ("fred", "CPILFESL"): ("MS", 45),
        ("ecos", "722Y001/0101000"): ("MS", 31),
        ("ecos", "817Y002/010210000"): ("B", 1),
        ("ecos", "817Y002/010300000"): ("B", 1),
        ("ecos", "817Y002/010200000"): ("B", 1),
        ("ecos", "901Y009/0"): ("MS", 35),
    }
    for (source, series_id), (freq, lag) in spans.items():
        dates = pd.date_range("2009-01-01", "2022-12-31", freq=freq)
        dates = dates[rng.random(len(dates)) > 0.05]  # gaps: some observations never published
        values = 100 + np.cumsum(rng.normal(0, 1, len(dates)))
        for day, value in zip(dates.date, values, strict=True):
            rows.append((source, series_id, day, day + dt.timedelta(days=lag), float(value), "lag"))
            if series_id == "GDP" and rng.random() < 0.3:  # a revision, released later
                rows.append(
                    (source, series_id, day, day + dt.timedelta(days=lag + 60), float(value) + 1, "lag")
                )
    return pd.DataFrame(
        rows, columns=["source", "series_id", "observation_date", "released_at", "value", "release_basis"]
    )


def synthetic_panel(seed: int, n_companies: int = 24) -> dict:
    """Statements, market rows, signals, companies and a macro book reaching every branch of the features."""
    rng = np.random.default_rng(seed)
    companies, statements, market, signals = [], [], [], []
    for c in range(n_companies):
        cid = f"co-{c:03d}"
        korean = c % 4 == 3
        companies.append(
            {
                "company_id": cid,
                "country": "KR" if korean else ("US" if c % 7 else "DE"),
                "dart_corp_code": f"{c:08d}" if korean or c % 5 == 0 else None,
            }
        )
        currency = "KRW" if korean else ("USD" if c % 6 else "EUR")
        scale = float(np.exp(rng.normal(18, 2)))
        for year in range(2012, 2022):
            end = dt.date(year, 12, 31)
            versions = [(f"{cid}-{year}", end + dt.timedelta(days=int(rng.integers(40, 90))))]
            if rng.random() < 0.2:  # a restatement filed later (and sometimes the same day)
                versions.append(
                    (f"{cid}-{year}-A", versions[0][1] + dt.timedelta(days=int(rng.integers(0, 200))))
                )
            for period_type, fiscal_period, period_end in [("FY", "FY", end)] + [
                ("TTM", f"Q{q}", dt.date(year + 1, 3 * q, 28)) for q in (1, 2, 3) if rng.random() < 0.6
            ]:
                for accession, filed in versions if period_type == "FY" else versions[:1]:
                    if period_type == "TTM":
                        accession, filed = f"{accession}-{fiscal_period}", period_end + dt.timedelta(days=40)
                    items = {item: scale * float(np.exp(rng.normal(0, 0.5))) for item in CANONICAL_ITEMS}
                    items["net_income"] *= rng.choice([1.0, -1.0], p=[0.7, 0.3])
                    items["retained_earnings"] *= rng.choice([1.0, -1.0], p=[0.8, 0.2])
                    items["total_equity"] = items["total_assets"] - items["total_liabilities"]
                    for item in CANONICAL_ITEMS:
                        draw = rng.random()
                        if draw < 0.08:
                            items[item] = None
                        elif draw < 0.10 and item in (
                            "total_liabilities",
                            "current_assets",
                            "current_liabilities",
                            "total_assets",
                        ):
                            items[item] = 0.0
                        elif draw < 0.11 and item == "total_assets":
                            items[item] = -items[item]
                    if rng.random() < 0.5:
                        items["market_value_equity"] = None
                    derived = "market_value_equity" if rng.random() < 0.5 else ""
                    statements.append(
                        {
                            "company_id": cid,
                            "period_end": period_end,
                            "accession": accession,
                            "fiscal_year": year,
                            "filed_at": filed,
                            "currency": currency,
                            "period_type": period_type,
                            "fiscal_period": fiscal_period,
                            "derived_items": derived,
                            "source": "synthetic",
                            **items,
                        }
                    )
                    if rng.random() < 0.5:
                        dd = float(rng.normal(3, 2)) if rng.random() < 0.6 else None
                        market.append(
                            {
                                "company_id": cid,
                                "period_end": period_end,
                                "accession": accession,
                                "filed_at": filed,
                                "symbol": f"S{c}" if rng.random() < 0.9 else None,
                                "price_date": period_end - dt.timedelta(days=int(rng.integers(0, 4))),
                                "close": float(rng.uniform(1, 300)) if rng.random() < 0.8 else None,
                                "shares_outstanding": float(rng.uniform(1e6, 1e9)),
                                "market_value_equity": scale * float(rng.uniform(0.2, 3))
                                if rng.random() < 0.7
                                else None,
                                "equity_volatility": float(rng.uniform(0.1, 0.9))
                                if rng.random() < 0.7
                                else None,
                                "n_returns": int(rng.integers(0, 260)),
                                "debt_face": scale * float(rng.uniform(0.1, 1)),
                                "risk_free_rate": float(rng.uniform(0, 0.05)),
                                "risk_free_series": "fred:WGS10YR",
                                "risk_free_released_at": period_end
                                - dt.timedelta(days=int(rng.integers(1, 9))),
                                "merton_dd": dd,
                                "merton_pd": None if dd is None else float(rng.uniform(0, 1)),
                                "merton_method": None if dd is None else "merton",
                                "reason": None
                                if dd is not None or rng.random() < 0.3
                                else "equity volatility needs 60 daily returns",
                            }
                        )
        if c % 3 == 0:  # signals of every kind, some resolved, some dated after every filing
            kinds = [LATE_FILING_NOTICE, NON_CLEAN_AUDIT_OPINION, FILING_OVERDUE]
            for kind in kinds + list(rng.choice(kinds, int(rng.integers(0, 6)))):
                day = dt.date(2012, 1, 1) + dt.timedelta(days=int(rng.integers(0, 4000)))
                resolved = (
                    day + dt.timedelta(days=int(rng.integers(0, 300)))
                    if kind == FILING_OVERDUE and rng.random() < 0.6
                    else None
                )
                signals.append(
                    {
                        "company_id": cid,
                        "kind": str(kind),
                        "reference": f"r{len(signals)}",
                        "signal_date": day,
                        "resolved_at": resolved,
                    }
                )
    statements = pd.DataFrame(statements).sample(frac=1.0, random_state=seed)  # the order must not matter
    return {
        "frame": statements,
        "market": pd.DataFrame(market),
        "book": MacroBook(_indicators(rng)),
        "specs": DEFAULT_SERIES,
        "signals": pd.DataFrame(
            signals, columns=["company_id", "kind", "reference", "signal_date", "resolved_at"]
        ),
        "companies": pd.DataFrame(companies),
    }


# --- the tests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_build_features_equals_the_per_row_reference_on_synthetic_panels(seed: int) -> None:
    panel = synthetic_panel(seed)
    built = build_features(**panel)
    # every branch was reached: scores computed and refused, each market and warning case
    reference = reference_rows(**panel)
    reasons = {r["classic"][n]["reason"] for r in reference for n in ("altman_z", "ohlson_o", "zmijewski")}
    assert {
        "Altman Z: total_assets is not positive",
        "Altman Z: total_liabilities is zero (division by zero)",
        "Ohlson O needs the prior year's net income (prior_items['net_income'])",
        "Ohlson O needs total assets in USD: the filing currency is unknown and no usd_per_unit was given",
        "Zmijewski: current_liabilities is zero (division by zero)",
    } <= reasons
    assert any(r["classic"]["ohlson_o"]["value"] is not None for r in reference)
    assert {r["warnings"]["filing_overdue"] for r in reference} == {0, 1}
    assert {r["warnings"]["non_clean_audit_opinion"] for r in reference} == {None, 0, 1}
    assert max(r["warnings"]["late_filing_notices_12m"] for r in reference) >= 1
    assert {r["market"]["market_value_source"] for r in reference} >= {
        None,
        "price x shares at the balance-sheet date",
        "public float on the annual report's cover",
        "reported with the statement",
    }
    assert any("carried from" in (r["market"]["market_value_source"] or "") for r in reference)
    assert any(r["macro"]["credit_spread"] for r in reference) and any(
        r["macro"]["gdp_growth"] for r in reference
    )
    assert_rows_equal(built, reference)


def test_build_features_without_optional_inputs_equals_the_reference() -> None:
    panel = synthetic_panel(4, n_companies=6)
    frame = panel["frame"].drop(columns=["period_type", "fiscal_period"])
    frame = frame[frame["accession"].str.count("-Q") == 0]  # annual rows only: no period columns given
    assert_rows_equal(build_features(frame), reference_rows(frame))


def test_classic_score_frame_reads_the_currency_as_classic_scores_does() -> None:
    items = pd.DataFrame(
        {
            "total_assets": [100.0] * 5,
            "total_liabilities": [60.0] * 5,
            "current_assets": [40.0] * 5,
            "current_liabilities": [25.0] * 5,
            "net_income": [5.0] * 5,
            "operating_cash_flow": [9.0] * 5,
            "currency": ["USD", "KRW", " ", None, "usd"],
        }
    )
    frame = classic_score_frame(items, np.full(5, 4.0), price_index=np.full(5, 500.0))
    for i, row in enumerate(items.to_dict("records")):
        want = classic_scores(row, {"net_income": 4.0}, price_index=500.0)["ohlson_o"]
        assert (finite_or_none(frame["ohlson_o"][i]), frame["ohlson_o_reason"][i]) == (
            want.value,
            want.reason,
        )
    given = classic_score_frame(
        items, np.full(5, 4.0), usd_per_unit=[1.0, 0.0, -2.0, np.nan, 1.0], price_index=np.full(5, 500.0)
    )
    assert given["ohlson_o_reason"].tolist()[:3] == [
        None,
        "Ohlson O: usd_per_unit must be a positive number, got 0.0",
        "Ohlson O: usd_per_unit must be a positive number, got -2.0",
    ]
    with pytest.raises(ValueError, match="3 values for 5 rows"):
        classic_score_frame(items, np.ones(3))


def test_warning_flag_frame_refuses_pairs_without_a_date() -> None:
    with pytest.raises(ValueError, match="as_of"):
        warning_flag_frame(pd.DataFrame(), ["a"], [None], [False])


def test_build_features_equals_the_reference_on_the_bundled_warehouse(graph_env: Path) -> None:
    store = Warehouse(Settings.from_env().warehouse_url)
    try:
        inputs = {
            "frame": store.read("statements"),
            "market": store.read("market_features"),
            "book": MacroBook(store.read("indicators")),
            "specs": DEFAULT_SERIES,
            "signals": store.read("warning_signals"),
            "companies": store.read("companies"),
        }
    finally:
        store.dispose()
    reference = reference_rows(**inputs)
    assert any(r["warnings"]["latest_signal_date"] for r in reference)
    assert any(r["classic"]["altman_z"]["value"] is not None for r in reference)
    assert_rows_equal(build_features(**inputs), reference)
