"""SEC companyfacts -> annual canonical statement versions, checked against the bundled real filings.

Expected figures are literals read from the bundled companyfacts JSON (tag and accession cited beside each),
or hand arithmetic on such literals shown in a comment.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import math
from functools import cache
from importlib.resources import files

import pandas as pd
import pytest

from risk_assets.core.canonical import CANONICAL_ITEMS, ISSUES_COLUMN, STATEMENT_META_COLUMNS
from risk_assets.core.sec_statements import fiscal_year_of, normalize_companyfacts, statement_as_of

COMPANYFACTS = files("risk_assets") / "data" / "sec" / "companyfacts"

APPLE, MARVELL, WALMART, TEXAS_INSTRUMENTS = 320193, 1835632, 104169, 97476
NIKOLA, SUNEDISON, HERTZ = 1731289, 945436, 1657853
BUNDLED_CIKS = sorted(int(p.name[3:13]) for p in COMPANYFACTS.iterdir() if p.name.endswith(".json.gz"))


@cache
def _raw(cik: int) -> str:
    with (COMPANYFACTS / f"CIK{cik:010d}.json.gz").open("rb") as fh, gzip.open(fh) as gz:
        return gz.read().decode("utf-8")


def companyfacts(cik: int) -> dict:
    return json.loads(_raw(cik))


@cache
def _versions(cik: int) -> pd.DataFrame:
    return normalize_companyfacts(companyfacts(cik), f"CIK{cik:010d}")


def versions(cik: int) -> pd.DataFrame:
    return _versions(cik).copy()


def rows_for(frame: pd.DataFrame, period_end: dt.date) -> pd.DataFrame:
    return frame[frame["period_end"] == period_end].sort_values("filed_at")


# ----------------------------------------------------------------------------------------------- Apple


def test_columns_are_the_canonical_statement_columns():
    assert list(versions(APPLE).columns) == list(STATEMENT_META_COLUMNS) + list(CANONICAL_ITEMS) + [
        ISSUES_COLUMN
    ]


def test_apple_fy2023_every_item_equals_the_filed_fact():
    fy2023 = rows_for(versions(APPLE), dt.date(2023, 9, 30))
    # The FY2024 and FY2025 10-Ks repeat FY2023 unchanged (e.g. NetIncomeLoss 96,995,000,000 in
    # 0000320193-24-000123 and 0000320193-25-000079), so the original 10-K is the only version.
    assert len(fy2023) == 1
    row = fy2023.iloc[0]
    assert row["accession"] == "0000320193-23-000106"
    assert row["filed_at"] == dt.date(2023, 11, 3)
    assert row["form"] == "10-K"
    assert row["fiscal_year"] == 2023
    assert row["period_start"] == dt.date(2022, 9, 25)  # `start` of the full-year duration facts
    assert row["currency"] == "USD"
    assert row["source"] == "sec_companyfacts"

    # us-gaap facts of accession 0000320193-23-000106 (10-K filed 2023-11-03), instants at 2023-09-30,
    # durations 2022-09-25 .. 2023-09-30.
    expected = {
        "total_assets": 352_583_000_000,  # Assets
        "total_liabilities": 290_437_000_000,  # Liabilities
        "current_assets": 143_566_000_000,  # AssetsCurrent
        "current_liabilities": 145_308_000_000,  # LiabilitiesCurrent
        "cash": 29_965_000_000,  # CashAndCashEquivalentsAtCarryingValue
        "receivables": 29_508_000_000,  # AccountsReceivableNetCurrent
        "inventory": 6_331_000_000,  # InventoryNet
        "total_equity": 62_146_000_000,  # StockholdersEquity
        "retained_earnings": -214_000_000,  # RetainedEarningsAccumulatedDeficit
        "long_term_debt": 95_281_000_000,  # LongTermDebtNoncurrent
        "shares_outstanding": 15_550_061_000,  # CommonStockSharesOutstanding (unit: shares)
        "revenue": 383_285_000_000,  # RevenueFromContractWithCustomerExcludingAssessedTax
        "cost_of_goods_sold": 214_137_000_000,  # CostOfGoodsAndServicesSold
        "gross_profit": 169_148_000_000,  # GrossProfit
        "operating_expenses": 54_847_000_000,  # OperatingExpenses
        "ebit": 114_301_000_000,  # OperatingIncomeLoss
        "depreciation_amortization": 11_519_000_000,  # DepreciationDepletionAndAmortization
        "interest_expense": 3_933_000_000,  # InterestExpense (not InterestPaidNet 3,803,000,000)
        "pretax_income": 113_736_000_000,  # IncomeLossFromContinuingOperationsBeforeIncomeTaxesExtraordinary...
        "net_income": 96_995_000_000,  # NetIncomeLoss
        "operating_cash_flow": 110_543_000_000,  # NetCashProvidedByUsedInOperatingActivities
        # Derived: CommercialPaper 5,985,000,000 + LongTermDebtCurrent 9,822,000,000 = 15,807,000,000
        "short_term_debt": 15_807_000_000,
        # Derived: OperatingIncomeLoss 114,301,000,000 + D&A 11,519,000,000 = 125,820,000,000
        "ebitda": 125_820_000_000,
    }
    for item, value in expected.items():
        assert row[item] == value, item
    # the cover page's public float of the same 10-K (dei:EntityPublicFloat, as of 2023-03-31); price x shares,
    # where prices exist, replaces it in the features
    assert row["market_value_equity"] == 2_591_165_000_000
    assert "market_value_equity" in row["derived_items"].split(",")
    assert row["derived_items"] == "ebitda,market_value_equity,short_term_debt"


def test_apple_fy2009_restatement_gives_two_versions_and_point_in_time_views():
    fy2009 = rows_for(versions(APPLE), dt.date(2009, 9, 26))
    # NetIncomeLoss 2008-09-28..2009-09-26: 5,704,000,000 in 10-K 0001193125-09-214859 (filed 2009-10-27),
    # 8,235,000,000 in 10-K/A 0001193125-10-012091 (filed 2010-01-25); the FY2010 and FY2011 10-Ks repeat
    # 8,235,000,000 and add no version.
    assert list(fy2009["filed_at"]) == [dt.date(2009, 10, 27), dt.date(2010, 1, 25)]
    assert list(fy2009["form"]) == ["10-K", "10-K/A"]
    assert list(fy2009["net_income"]) == [5_704_000_000, 8_235_000_000]
    assert set(fy2009["fiscal_year"]) == {2009}

    before = statement_as_of(versions(APPLE), dt.date(2009, 12, 31))
    after = statement_as_of(versions(APPLE), dt.date(2010, 2, 1))
    assert rows_for(before, dt.date(2009, 9, 26))["net_income"].tolist() == [5_704_000_000]
    assert rows_for(after, dt.date(2009, 9, 26))["net_income"].tolist() == [8_235_000_000]
    # Nothing filed after the as-of date is visible: FY2010 ends 2010-09-25, filed 2010-10-27.
    assert (pd.to_datetime(after["filed_at"]) <= pd.Timestamp(2010, 2, 1)).all()
    assert dt.date(2010, 9, 25) not in set(after["period_end"])


def test_statement_as_of_accepts_datetime64_filed_at_and_keeps_one_row_per_period():
    stored = versions(APPLE)
    stored["filed_at"] = pd.to_datetime(stored["filed_at"])  # as it comes back from a warehouse
    view = statement_as_of(stored, dt.date(2010, 2, 1))
    assert not view.duplicated(["company_id", "period_end"]).any()
    assert rows_for(view, dt.date(2009, 9, 26))["net_income"].tolist() == [8_235_000_000]


def test_periods_come_from_start_end_not_fy():
    # The FY2009 10-K (fy=2009) also reports FY2007 and FY2008 figures: they land on their own periods.
    first_10k = versions(APPLE).query("accession == '0001193125-09-214859'")
    assert sorted(first_10k["period_end"]) == [
        dt.date(2007, 9, 29),
        dt.date(2008, 9, 27),
        dt.date(2009, 9, 26),
    ]
    # SalesRevenueNet 2006-10-01..2007-09-29 = 24,006,000,000 in that 10-K
    fy2007 = first_10k[first_10k["period_end"] == dt.date(2007, 9, 29)].iloc[0]
    assert fy2007["revenue"] == 24_006_000_000
    assert fy2007["fiscal_year"] == 2007


def test_apple_revenue_present_every_year_across_tag_changes():
    latest = statement_as_of(versions(APPLE), dt.date(2100, 1, 1))
    by_year = latest.set_index("fiscal_year")["revenue"]
    assert set(range(2009, 2026)) <= set(by_year.index)
    assert by_year.loc[2009:2025].notna().all()
    # One value per tag era (all from the fixture):
    assert by_year[2015] == 233_715_000_000  # SalesRevenueNet, 0001193125-15-356351
    assert by_year[2018] == 265_595_000_000  # Revenues, 0000320193-18-000145 (the only year-end with it)
    assert by_year[2019] == 260_174_000_000  # RevenueFromContractWithCustomerExcludingAssessedTax


def test_unknown_stays_nan_never_zero():
    latest = statement_as_of(versions(APPLE), dt.date(2100, 1, 1)).set_index("fiscal_year")
    # Apple's FY2024 10-K tags neither InterestExpense nor InterestPaidNet for FY2024.
    assert math.isnan(latest.loc[2024, "interest_expense"])
    # McDonald's reports no cost of goods sold (restaurant costs are not COGS) and no gross profit.
    mcd = versions(63908)
    assert mcd["cost_of_goods_sold"].isna().all() and mcd["gross_profit"].isna().all()


# --------------------------------------------------------------------------------------- fallbacks


def test_marvell_interest_expense_before_and_after_its_tag_change():
    frame = versions(MARVELL)
    assert frame["interest_expense"].notna().all()
    # InterestExpense 2021-01-31..2022-01-29 = 139,341,000 (0001835632-22-000016, filed 2022-03-10)
    fy2022 = rows_for(frame, dt.date(2022, 1, 29)).iloc[0]
    assert fy2022["filed_at"] == dt.date(2022, 3, 10)
    assert fy2022["interest_expense"] == 139_341_000
    # InterestExpenseNonoperating 2024-02-04..2025-02-01 = 189,400,000 (0001835632-25-000057); the
    # InterestExpense tag has no fact for that year.
    fy2025 = rows_for(frame, dt.date(2025, 2, 1)).iloc[0]
    assert fy2025["interest_expense"] == 189_400_000
    assert fy2025["fiscal_year"] == 2025
    assert "interest_expense" not in fy2025["derived_items"].split(",")


def test_later_rounding_is_not_a_new_version():
    # Marvell's FY2022 InterestExpense is 139,341,000 in the 2022 10-K and 139,300,000 in the 2023 10-K
    # (0001835632-23-000013), which only rounds it; the 2023 10-K changes nothing else for FY2022 either.
    filed = rows_for(versions(MARVELL), dt.date(2022, 1, 29))["filed_at"].tolist()
    assert dt.date(2023, 3, 9) not in filed


def test_total_liabilities_derived_when_not_reported_walmart():
    fy2026 = rows_for(versions(WALMART), dt.date(2026, 1, 31)).iloc[-1]
    # 0000104169-26-000055: Assets 284,668,000,000; StockholdersEquityIncludingPortionAttributableTo-
    # NoncontrollingInterest 105,887,000,000; RedeemableNoncontrollingInterestEquityCarryingAmount
    # (mezzanine) 293,000,000. 284,668 - 105,887 - 293 = 178,488 (millions).
    assert fy2026["total_liabilities"] == 178_488_000_000
    assert "total_liabilities" in fy2026["derived_items"].split(",")
    assert fy2026["total_assets"] == 284_668_000_000  # reported, never derived
    assert (
        fy2026["total_equity"] == 105_887_000_000
    )  # including noncontrolling interest: the balance-sheet total


def test_derived_total_liabilities_reproduces_apples_reported_liabilities():
    facts = companyfacts(APPLE)
    stripped = copy.deepcopy(facts)
    del stripped["facts"]["us-gaap"]["Liabilities"]
    derived = normalize_companyfacts(stripped, "CIK0000320193")
    reported = versions(APPLE)
    merged = reported.merge(derived, on=["period_end", "accession"], suffixes=("_reported", "_derived"))
    merged = merged[merged["total_liabilities_reported"].notna()]
    assert len(merged) >= 20
    assert (merged["total_liabilities_derived"] == merged["total_liabilities_reported"]).all()
    assert merged["derived_items_derived"].str.contains("total_liabilities").all()
    assert not merged["derived_items_reported"].str.contains("total_liabilities").any()


def test_shares_outstanding_from_issued_minus_treasury():
    fy2013 = rows_for(versions(TEXAS_INSTRUMENTS), dt.date(2013, 12, 31)).iloc[0]
    # 0000097476-14-000007: CommonStockSharesIssued 1,740,815,939 - TreasuryStockShares 658,012,970
    # = 1,082,802,969 (TI tags no CommonStockSharesOutstanding)
    assert fy2013["shares_outstanding"] == 1_082_802_969
    assert "shares_outstanding" in fy2013["derived_items"].split(",")


def test_revenue_from_gross_profit_plus_cost_of_sales_when_untagged():
    fy2023 = rows_for(versions(NIKOLA), dt.date(2023, 12, 31)).iloc[0]
    # 0001731289-24-000053 tags no revenue line for FY2023, but GrossProfit -214,067,000 and
    # CostOfGoodsAndServicesSold 249,906,000: revenue = -214,067,000 + 249,906,000 = 35,839,000
    assert fy2023["revenue"] == 35_839_000
    assert "revenue" in fy2023["derived_items"].split(",")
    assert fy2023["gross_profit"] == -214_067_000  # reported, kept as is


def test_empty_companyfacts_give_an_empty_frame_with_the_columns():
    frame = normalize_companyfacts({"cik": 1, "entityName": "Empty", "facts": {}}, "x")
    assert frame.empty
    assert list(frame.columns) == list(STATEMENT_META_COLUMNS) + list(CANONICAL_ITEMS) + [ISSUES_COLUMN]
    assert statement_as_of(frame, dt.date(2020, 1, 1)).empty


def test_fiscal_year_rule():
    assert fiscal_year_of(dt.date(2016, 1, 2)) == 2015  # 52/53-week year ending in the first days of Jan
    assert fiscal_year_of(dt.date(2016, 1, 7)) == 2015
    assert fiscal_year_of(dt.date(2016, 1, 31)) == 2016  # Walmart: its fiscal 2016
    assert fiscal_year_of(dt.date(2023, 9, 30)) == 2023


# ------------------------------------------------------------------------------- synthetic edge cases


def _fact(val, end, accn, filed, form="10-K", start=None, fy=2020, fp="FY"):
    fact = {"end": end, "val": val, "accn": accn, "fy": fy, "fp": fp, "form": form, "filed": filed}
    if start:
        fact["start"] = start
    return fact


def _facts(**tags):
    return {"cik": 1, "entityName": "T", "facts": {"us-gaap": {t: {"units": u} for t, u in tags.items()}}}


def test_quarterly_facts_and_fy_labels_do_not_make_periods():
    payload = _facts(
        NetIncomeLoss={
            "USD": [
                # the annual figure, labelled with the FILING's fy 2021 (as companyfacts does)
                _fact(100.0, "2020-12-31", "a-1", "2021-02-01", start="2020-01-01", fy=2021),
                # a quarter inside a 10-K and a 10-Q quarter: not fiscal years
                _fact(30.0, "2020-12-31", "a-1", "2021-02-01", start="2020-10-01", fy=2021),
                _fact(25.0, "2021-03-31", "q-1", "2021-05-01", form="10-Q", start="2021-01-01", fp="Q1"),
            ]
        },
        Assets={
            "USD": [
                _fact(1000.0, "2020-12-31", "a-1", "2021-02-01"),
                _fact(900.0, "2021-03-31", "q-1", "2021-05-01", form="10-Q"),
            ]
        },
    )
    frame = normalize_companyfacts(payload, "T")
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["period_start"], row["period_end"], row["fiscal_year"]) == (
        dt.date(2020, 1, 1),
        dt.date(2020, 12, 31),
        2020,
    )
    assert (row["net_income"], row["total_assets"]) == (100.0, 1000.0)
    assert math.isnan(row["total_liabilities"])  # no equity reported: nothing to derive from


def test_total_liabilities_takes_out_noncontrolling_and_mezzanine_equity():
    instant = lambda v: {"USD": [_fact(v, "2020-12-31", "a-1", "2021-02-01")]}  # noqa: E731
    payload = _facts(
        Revenues={"USD": [_fact(50.0, "2020-12-31", "a-1", "2021-02-01", start="2020-01-01")]},
        Assets=instant(1000.0),
        StockholdersEquity=instant(300.0),
        MinorityInterest=instant(40.0),
        TemporaryEquityCarryingAmountAttributableToParent=instant(60.0),
    )
    row = normalize_companyfacts(payload, "T").iloc[0]
    # 1000 assets - (300 parent equity + 40 NCI) - 60 redeemable preferred (mezzanine) = 600
    assert row["total_liabilities"] == 600.0
    assert row["total_equity"] == 300.0
    assert row["derived_items"] == "total_liabilities"


# ------------------------------------------------------------------------------------------- sweep


@pytest.mark.parametrize("cik", BUNDLED_CIKS)
def test_every_bundled_company_yields_annual_rows(cik):
    frame = versions(cik)
    assert len(frame) > 0
    assert frame["fiscal_year"].between(2000, 2030).all()
    span = pd.to_datetime(frame["period_end"]) - pd.to_datetime(frame["period_start"])
    assert span.dt.days.between(349, 379).all()  # full years only (end - start = days - 1)
    assert (pd.to_datetime(frame["filed_at"]) > pd.to_datetime(frame["period_end"])).all()
    assets = frame["total_assets"].dropna()
    assert len(assets) > 0 and (assets > 0).all()
    assert not frame.duplicated(["period_end", "accession"]).any()
    assert set(frame["currency"]) == {"USD"}


def test_bundled_sweep_covers_all_thirteen_companies():
    assert len(BUNDLED_CIKS) == 13


@pytest.mark.parametrize(
    ("cik", "fiscal_year"),
    [
        (SUNEDISON, 2014),  # last 10-K before the April 2016 Chapter 11
        (NIKOLA, 2023),  # Chapter 11 in February 2025
        (HERTZ, 2019),  # Chapter 11 in May 2020
    ],
)
def test_bankrupt_filers_have_pre_bankruptcy_years(cik, fiscal_year):
    frame = versions(cik)
    year = frame[frame["fiscal_year"] == fiscal_year]
    assert len(year) >= 1
    assert year["total_assets"].notna().all() and year["net_income"].notna().all()


def test_public_float_is_read_from_the_same_filing_and_carried_only_across_its_own_period():
    from risk_assets.core.sec_statements import public_floats

    facts = {
        "facts": {
            "dei": {
                "EntityPublicFloat": {
                    "units": {
                        "USD": [
                            {
                                "end": "2023-03-31",
                                "val": 2.5e12,
                                "accn": "A-23",
                                "form": "10-K",
                                "filed": "2023-11-03",
                            },
                            {
                                "end": "2023-03-31",
                                "val": -1,
                                "accn": "BAD",
                                "form": "10-K",
                                "filed": "2023-11-03",
                            },
                        ]
                    }
                }
            }
        }
    }
    assert public_floats(facts, "USD") == {"A-23": (dt.date(2023, 3, 31), 2.5e12)}
    assert public_floats(facts, "EUR") == {}
    assert public_floats({"facts": {}}, "USD") == {}
