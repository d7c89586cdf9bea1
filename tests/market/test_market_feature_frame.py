"""market_feature_frame computes the market_features rows from whole columns; its frame equals, value for value
and dtype for dtype, the per-row loop compute_market_features ran before (kept here as the reference:
core.market.market_features and MacroBook.features row by row), on the bundled warehouse (its statements and the
recorded Yahoo AAPL chart) and on synthetic panels built to reach every branch: no prices, prices in another
currency, a stale last close, too few returns for a volatility, missing or non-positive shares, no risk-free rate,
no debt, a Merton solve refused for a negative market value, restatements sharing their inputs."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_assets.core import market
from risk_assets.core.macro import DEFAULT_SERIES, MacroBook, risk_free_rate
from risk_assets.derive.market import _prices_by_company, compute_market_features
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse
from tests.sources import stubs

# --- the reference: the per-row loop compute_market_features ran before it was vectorised ---------------------


def reference_market_features(
    statement_rows: pd.DataFrame, companies: pd.DataFrame, priced: dict, book: MacroBook, specs
) -> pd.DataFrame:
    country = dict(zip(companies["company_id"], companies["country"], strict=True))
    empty = pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "close": pd.Series(dtype=float),
            "adjclose": pd.Series(dtype=float),
        }
    )
    rows = []
    for row in statement_rows.to_dict("records"):
        symbol, frame, currency = priced.get(row["company_id"], (None, empty, None))
        period_end = pd.Timestamp(row["period_end"]).date()
        rf = risk_free_rate(book.features(specs, country.get(row["company_id"], ""), period_end))
        if symbol is not None and currency and currency != row["currency"]:
            frame = empty  # a market value in another currency than the statements would be meaningless
        values = market.market_features(row, frame, period_end, rf)
        if symbol is None:
            values["reason"] = "; ".join(filter(None, ["no listed symbol with prices", values["reason"]]))[
                :400
            ]
        elif frame is empty:
            values["reason"] = f"prices in {currency}, statements in {row['currency']}"
        rows.append(
            {
                "company_id": row["company_id"],
                "period_end": period_end,
                "accession": row["accession"],
                "filed_at": pd.Timestamp(row["filed_at"]).date(),
                "symbol": symbol,
                **{k: v for k, v in values.items() if k != "debt_basis"},
            }
        )
    return pd.DataFrame(rows)


def _same(got: object, want: object) -> bool:
    """Equal and of the same type; NaN equals NaN (a float column's missing value), None only None."""
    if type(got) is not type(want):
        return False
    if isinstance(want, float) and math.isnan(want):
        return math.isnan(got)  # type: ignore[arg-type]
    return got == want


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns in the same order, same dtypes, same index, every value equal (floats exactly) and of the
    same type, None and NaN in the same places."""
    assert list(got.columns) == list(want.columns) == list(market.MARKET_FEATURE_COLUMNS)
    assert got.dtypes.to_dict() == want.dtypes.to_dict()
    assert got.index.equals(want.index)
    keys = list(zip(want["company_id"], want["period_end"], want["accession"], strict=True))
    for name in want.columns:
        for key, a, b in zip(keys, got[name].tolist(), want[name].tolist(), strict=True):
            assert _same(a, b), (key, name, a, b)


# --- synthetic panels --------------------------------------------------------------------------------------------


def _indicators() -> pd.DataFrame:
    """US policy rate (monthly, to the end of 2018) and 10-year yield (weekly, 2015 to 2021): later rows fall back
    on the yield, rows before 2015 and non-US rows have no risk-free rate."""
    rows = []
    spans = (("FEDFUNDS", "MS", 35, "2018-12-31"), ("WGS10YR", "W-FRI", 7, "2021-12-31"))
    for series_id, freq, lag, end in spans:
        for i, day in enumerate(pd.date_range("2015-01-01", end, freq=freq).date):
            rows.append(("fred", series_id, day, day + dt.timedelta(days=lag), 1.0 + 0.01 * i, "lag"))
    return pd.DataFrame(
        rows, columns=["source", "series_id", "observation_date", "released_at", "value", "release_basis"]
    )


def _synthetic_prices(rng: np.random.Generator, start: str, end: str) -> pd.DataFrame:
    """Business-day bars of a random walk, a few closes and adjusted closes missing, one undated bar."""
    dates = pd.bdate_range(start, end)
    adjclose = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, len(dates))))
    close = adjclose * rng.choice([1.0, 2.0], p=[0.7, 0.3])
    close[rng.random(len(dates)) < 0.02] = np.nan
    adjclose[rng.random(len(dates)) < 0.02] = np.nan
    frame = pd.DataFrame({"date": dates, "close": close, "adjclose": adjclose})
    undated = pd.DataFrame({"date": [pd.NaT], "close": [10.0], "adjclose": [10.0]})
    return pd.concat([frame, undated], ignore_index=True)  # sorted last, as sort_values puts NaT


def _apple_bars() -> pd.DataFrame:
    payload = json.loads((stubs.DATA / "yahoo" / "chart-AAPL-2020-08-31-to-2020-11-07.json").read_bytes())
    return market.traded_prices(payload)[["date", "close", "adjclose"]]


def synthetic_panel(seed: int, n_companies: int = 40) -> dict:
    """Statements (annual and quarterly rows, restatements), companies and prices reaching every branch."""
    rng = np.random.default_rng(seed)
    companies, statements, priced = [], [], {}
    for c in range(n_companies):
        cid = f"co-{c:03d}"
        # 0 no prices, 1 another currency, 2 no currency given, 3-7 priced in the statements' currency
        kind = c % 8
        country = "KR" if c % 11 == 5 else "US"
        currency = "USD"
        companies.append({"company_id": cid, "country": country})
        if kind == 1:
            priced[cid] = (f"S{c}", _synthetic_prices(rng, "2014-01-01", "2021-12-31"), "KRW")
        elif kind == 2:
            priced[cid] = (f"S{c}", _synthetic_prices(rng, "2016-06-01", "2021-12-31"), None)
        elif kind == 3:
            priced[cid] = (f"S{c}", _synthetic_prices(rng, "2014-01-01", "2019-03-31"), "USD")  # stale after
        elif kind == 4:
            priced[cid] = (f"S{c}", _synthetic_prices(rng, "2019-10-01", "2021-12-31"), "USD")  # short
        elif kind == 5:
            priced[cid] = ("AAPL", _apple_bars(), "USD")
        elif kind == 6:
            entry = (f"S{c}", _synthetic_prices(rng, "2014-01-01", "2021-12-31"), "USD")
            priced[cid] = entry if c % 3 else (None, entry[1], "USD")  # a symbol-less entry still prices
        elif kind == 7:
            bars = _synthetic_prices(rng, "2014-01-01", "2021-12-31")
            priced[cid] = (f"S{c}", bars.iloc[:0] if c % 2 else bars, "USD")  # no bars at all, or some
        scale = float(np.exp(rng.normal(20, 1.5)))
        ends = [dt.date(y, m, 28 if m == 2 else 30) for y in range(2014, 2022) for m in (3, 6, 9)]
        ends += [dt.date(y, 12, 31) for y in range(2014, 2022)] + [dt.date(2020, 9, 26), dt.date(2020, 11, 6)]
        for end in ends:
            versions = [f"{cid}-{end:%Y%m%d}"] + ([f"{cid}-{end:%Y%m%d}-A"] if rng.random() < 0.15 else [])
            for accession in versions:
                items = {
                    "shares_outstanding": float(rng.uniform(1e6, 1e9)),
                    "short_term_debt": scale * float(rng.uniform(0, 0.3)),
                    "long_term_debt": scale * float(rng.uniform(0, 1)),
                    "current_liabilities": scale * float(rng.uniform(0.1, 0.5)),
                    "total_liabilities": scale * float(rng.uniform(0.5, 2)),
                }
                draw = rng.random()
                if draw < 0.08:
                    items["shares_outstanding"] = None
                elif draw < 0.10:
                    items["shares_outstanding"] = 0.0
                elif draw < 0.11:
                    items["shares_outstanding"] = -5.0
                elif draw < 0.12:
                    items["shares_outstanding"] = math.inf
                draw = rng.random()
                if draw < 0.1:  # no debt lines: the liabilities set the default point
                    items["short_term_debt"] = items["long_term_debt"] = None
                elif draw < 0.15:  # no debt lines, no liabilities: no default point
                    items.update(dict.fromkeys(items.keys() - {"shares_outstanding"}))
                elif draw < 0.18:  # debt lines that sum to zero fall back on the liabilities
                    items.update(short_term_debt=0.0, long_term_debt=None)
                elif draw < 0.20:  # liabilities whose default point is not positive
                    items.update(short_term_debt=None, long_term_debt=-0.0, total_liabilities=0.0)
                    items["current_liabilities"] = -1.0
                elif draw < 0.22:
                    items["long_term_debt"] = None
                if rng.random() < 0.03:
                    items["short_term_debt"] = math.nan
                statements.append(
                    {
                        "company_id": cid,
                        "period_end": end,
                        "accession": accession,
                        "filed_at": end + dt.timedelta(days=int(rng.integers(20, 90))),
                        "currency": currency if rng.random() < 0.95 else "EUR",
                        **items,
                    }
                )
    # a priced company whose bars include a negative close: a negative market value the Merton solve refuses
    bars = _synthetic_prices(rng, "2014-01-01", "2021-12-31")
    bars.loc[bars["date"] == pd.Timestamp("2019-06-28"), "close"] = -3.0
    priced["co-neg"] = ("NEG", bars, "USD")
    companies.append({"company_id": "co-neg", "country": "US"})
    for accession in ("neg-1", "neg-2"):  # a restatement with the same inputs: one solve
        statements.append(
            {
                "company_id": "co-neg",
                "period_end": dt.date(2019, 6, 30),
                "accession": accession,
                "filed_at": dt.date(2019, 8, 1),
                "currency": "USD",
                "shares_outstanding": 1e8,
                "short_term_debt": 1e9,
                "long_term_debt": 2e9,
                "current_liabilities": None,
                "total_liabilities": None,
            }
        )
    companies.append({"company_id": "co-nocountry", "country": None})
    statements.append({**statements[0], "company_id": "co-nocountry", "accession": "nc-1"})
    frame = pd.DataFrame(statements).sample(frac=1.0, random_state=seed)  # any order, any index
    return {
        "statement_rows": frame,
        "companies": pd.DataFrame(companies),
        "priced": priced,
        "book": MacroBook(_indicators()),
        "specs": DEFAULT_SERIES,
    }


# --- the tests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_frame_equals_the_per_row_reference_on_synthetic_panels(seed: int) -> None:
    panel = synthetic_panel(seed)
    reference = reference_market_features(**panel)
    reasons = " | ".join(reference["reason"].dropna())
    for text in (
        "no listed symbol with prices; ",
        "prices in KRW, statements in USD",
        "prices in USD, statements in EUR",
        "is more than 7 days before",
        "no close on or before",
        "no prices for the company's symbol",
        "equity volatility needs 60 daily returns up to",
        "shares_outstanding at the balance-sheet date is unknown",
        "no risk-free rate released on or before",
        "no debt or liabilities to set a default point",
        "distance to default needs positive equity_value",
    ):
        assert text in reasons, text
    assert reference["merton_method"].eq("merton").sum() > 50
    assert {0, 18, 252} <= set(reference["n_returns"])  # none, the Apple chart's 18, a capped window
    assert reference["n_returns"].between(60, 251).any()  # a volatility from a history shorter than a year
    assert reference["risk_free_series"].nunique() == 2  # the policy rate, and the yield after it stops
    assert_same_frame(compute_market_features(**panel), reference)


def test_a_batch_without_prices_or_rates_equals_the_reference() -> None:
    """Every float column of such a batch is missing throughout: the per-row frame held them as None."""
    panel = synthetic_panel(4, n_companies=8)
    panel["priced"], panel["book"] = {}, MacroBook(_indicators().iloc[:0])
    reference = reference_market_features(**panel)
    assert reference["close"].dtype == object and reference["merton_dd"].isna().all()
    assert_same_frame(compute_market_features(**panel), reference)


def test_an_empty_batch_has_the_columns() -> None:
    """The per-row frame of no rows had no columns at all; the frame version names them (nothing is written)."""
    panel = synthetic_panel(6, n_companies=4)
    panel["statement_rows"] = panel["statement_rows"].iloc[:0]
    frame = compute_market_features(**panel)
    assert frame.empty and list(frame.columns) == list(market.MARKET_FEATURE_COLUMNS)


def test_prices_must_be_sorted_by_date() -> None:
    panel = synthetic_panel(5, n_companies=8)
    symbol, bars, currency = panel["priced"]["co-003"]
    panel["priced"]["co-003"] = (symbol, bars.iloc[::-1], currency)
    with pytest.raises(ValueError, match="sorted by date"):
        compute_market_features(**panel)


def test_the_frame_equals_the_reference_on_the_bundled_warehouse(graph_env: Path) -> None:
    store = Warehouse(Settings.from_env().warehouse_url)
    try:
        companies = store.read("companies")
        inputs = {
            "statement_rows": store.read("statements"),
            "companies": companies,
            "priced": _prices_by_company(store, companies),
            "book": MacroBook(store.read("indicators")),
            "specs": DEFAULT_SERIES,
        }
    finally:
        store.dispose()
    reference = reference_market_features(**inputs)
    # the recorded Apple chart prices its FY2020 balance sheet; its 18 returns give no volatility
    apple = reference[reference["period_end"] == dt.date(2020, 9, 26)]
    assert apple["market_value_equity"].notna().any() and (apple["n_returns"] == 18).all()
    assert reference["risk_free_rate"].notna().any()
    assert_same_frame(compute_market_features(**inputs), reference)
    # what the asset reads of the wide statements table is enough: the same frame from those columns alone
    narrow = inputs["statement_rows"][list(market.STATEMENT_INPUTS)]
    assert_same_frame(compute_market_features(**{**inputs, "statement_rows": narrow}), reference)
