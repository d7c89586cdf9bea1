"""OpenDART fnlttSinglAcntAll -> canonical rows, checked against Samsung Electronics' FY2023 CFS response.

Expected figures are literals from the bundled JSON (account_id and field cited), or hand arithmetic on them.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from importlib.resources import files

import pytest

from risk_assets.core.canonical import CANONICAL_ITEMS, ISSUES_COLUMN, STATEMENT_META_COLUMNS
from risk_assets.core.dart_statements import normalize_account_name, normalize_fnltt, parse_amount

FNLTT = files("risk_assets") / "data" / "opendart" / "fnlttSinglAcntAll"
SAMSUNG = "00126380"


def samsung_cfs() -> dict:
    return json.loads((FNLTT / "00126380_2023_11011_CFS.sjunepark-golden.json").read_text(encoding="utf-8"))


def by_year(frame):
    return {int(row["fiscal_year"]): row for _, row in frame.iterrows()}


def test_samsung_fy2023_every_item_equals_the_filed_line():
    frame = normalize_fnltt(samsung_cfs(), SAMSUNG)
    assert list(frame.columns) == list(STATEMENT_META_COLUMNS) + list(CANONICAL_ITEMS) + [ISSUES_COLUMN]
    row = by_year(frame)[2023]
    assert row["company_id"] == SAMSUNG
    assert row["accession"] == "20240312000736"
    assert row["filed_at"] == dt.date(2024, 3, 12)  # rcept_no[:8]
    assert (row["period_start"], row["period_end"]) == (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    assert row["currency"] == "KRW"
    assert row["source"] == "dart_fnltt"
    assert row["form"] == "11011"

    # thstrm_amount of each line (sj_div in brackets)
    expected = {
        "total_assets": 455_905_980_000_000,  # [BS] ifrs-full_Assets 자산총계
        "total_liabilities": 92_228_115_000_000,  # [BS] ifrs-full_Liabilities
        "current_assets": 195_936_557_000_000,  # [BS] ifrs-full_CurrentAssets
        "current_liabilities": 75_719_452_000_000,  # [BS] ifrs-full_CurrentLiabilities
        "cash": 69_080_893_000_000,  # [BS] ifrs-full_CashAndCashEquivalents
        "receivables": 36_647_393_000_000,  # [BS] ifrs-full_CurrentTradeReceivables 매출채권
        "inventory": 51_625_874_000_000,  # [BS] ifrs-full_Inventories
        "total_equity": 363_677_865_000_000,  # [BS] ifrs-full_Equity 자본총계 (incl. non-controlling interests)
        "retained_earnings": 346_652_238_000_000,  # [BS] ifrs-full_RetainedEarnings
        "revenue": 258_935_494_000_000,  # [IS] ifrs-full_Revenue
        "cost_of_goods_sold": 180_388_580_000_000,  # [IS] ifrs-full_CostOfSales
        "gross_profit": 78_546_914_000_000,  # [IS] ifrs-full_GrossProfit
        "operating_expenses": 71_979_938_000_000,  # [IS] dart_TotalSellingGeneralAdministrativeExpenses
        "ebit": 6_566_976_000_000,  # [IS] dart_OperatingIncomeLoss 영업이익
        "pretax_income": 11_006_265_000_000,  # [IS] ifrs-full_ProfitLossBeforeTax
        "net_income": 14_473_401_000_000,  # [IS] ifrs-full_ProfitLossAttributableToOwnersOfParent
        "operating_cash_flow": 44_137_427_000_000,  # [CF] ifrs-full_CashFlowsFromUsedInOperatingActivities
        # [CF] ifrs-full_InterestPaidClassifiedAsOperatingActivities 이자의 지급: the proxy, since there is no
        # interest-expense line. NOT ifrs-full_FinanceCosts 12,645,530,000,000 (total finance costs).
        "interest_expense": 844_691_000_000,
        # [BS] 사채 537,618,000,000 + 장기차입금 3,724,850,000,000 = 4,262,468,000,000
        "long_term_debt": 4_262_468_000_000,
        # [BS] 단기차입금 (non-standard line) 7,114,601,000,000 + 유동성장기부채 1,308,875,000,000
        # = 8,423,476,000,000
        "short_term_debt": 8_423_476_000_000,
    }
    for item, value in expected.items():
        assert row[item] == value, item
    # Not in the response: unknown, not zero (D&A is only in the notes; no share count in this endpoint).
    for item in ("depreciation_amortization", "ebitda", "shares_outstanding", "market_value_equity"):
        assert math.isnan(row[item]), item
    assert row["derived_items"] == "interest_expense,long_term_debt,short_term_debt"


def test_samsung_comparative_years():
    rows = by_year(normalize_fnltt(samsung_cfs(), SAMSUNG))
    assert sorted(rows) == [2021, 2022, 2023]
    fy2022, fy2021 = rows[2022], rows[2021]
    assert fy2022["period_end"] == dt.date(2022, 12, 31)
    assert fy2022["filed_at"] == dt.date(2024, 3, 12)  # as known at the FY2023 report
    assert fy2022["accession"] == "20240312000736"
    assert fy2022["total_assets"] == 448_424_507_000_000  # ifrs-full_Assets frmtrm_amount
    assert fy2022["net_income"] == 54_730_018_000_000  # ProfitLossAttributableToOwnersOfParent frmtrm
    assert fy2022["currency"] == "KRW"
    assert fy2021["total_assets"] == 426_621_158_000_000  # ifrs-full_Assets bfefrmtrm_amount


def test_finance_costs_are_never_taken_for_interest_expense():
    payload = samsung_cfs()
    payload["list"] = [r for r in payload["list"] if "InterestPaid" not in r["account_id"]]
    row = by_year(normalize_fnltt(payload, SAMSUNG))[2023]
    assert math.isnan(row["interest_expense"])  # ifrs-full_FinanceCosts is still there, and ignored


def test_an_interest_expense_line_beats_the_cash_flow_proxy():
    payload = samsung_cfs()
    template = next(r for r in payload["list"] if r["account_id"] == "ifrs-full_FinanceCosts")
    line = dict(
        template, account_id="ifrs-full_InterestExpense", account_nm="이자비용", thstrm_amount="900000000000"
    )
    payload["list"].append(line)
    row = by_year(normalize_fnltt(payload, SAMSUNG))[2023]
    assert row["interest_expense"] == 900_000_000_000
    assert "interest_expense" not in row["derived_items"].split(",")


@pytest.mark.parametrize("report_code", ["11012", "11013", "11014"])
def test_quarterly_reports_are_refused(report_code):
    payload = samsung_cfs()
    for row in payload["list"]:
        row["reprt_code"] = report_code
    with pytest.raises(ValueError, match="quarterly"):
        normalize_fnltt(payload, SAMSUNG)


def test_absent_null_and_empty_amounts_are_all_unknown():
    template = samsung_cfs()["list"][0]  # ifrs-full_Assets, BS
    rows = []
    for account_id, amount in [
        ("ifrs-full_Assets", "100"),
        ("ifrs-full_Liabilities", None),  # null
        ("ifrs-full_CurrentAssets", ""),  # empty string
    ]:
        row = dict(template, account_id=account_id, thstrm_amount=amount)
        row.pop("frmtrm_amount")  # absent
        row.pop("bfefrmtrm_amount")
        rows.append(row)
    frame = normalize_fnltt({"status": "000", "message": "정상", "list": rows}, SAMSUNG)
    assert len(frame) == 1  # prior years had nothing at all
    row = frame.iloc[0]
    assert row["total_assets"] == 100
    assert math.isnan(row["total_liabilities"]) and math.isnan(row["current_assets"])


def test_third_year_needs_a_balance_sheet():
    payload = samsung_cfs()
    for row in payload["list"]:
        if row["sj_div"] == "BS":
            row["bfefrmtrm_amount"] = ""
    assert sorted(by_year(normalize_fnltt(payload, SAMSUNG))) == [2022, 2023]


def test_no_data_status_is_an_empty_result_and_errors_raise():
    empty = normalize_fnltt({"status": "013", "message": "조회된 데이타가 없습니다."}, SAMSUNG)
    assert empty.empty and list(empty.columns) == list(STATEMENT_META_COLUMNS) + list(CANONICAL_ITEMS) + [
        ISSUES_COLUMN
    ]
    with pytest.raises(ValueError, match="020"):
        normalize_fnltt({"status": "020", "message": "요청 제한을 초과하였습니다."}, SAMSUNG)


def test_separate_statement_first_row_fixture():
    payload = json.loads((FNLTT / "00126380_2023_11011_OFS.first-row-only.json").read_text(encoding="utf-8"))
    rows = by_year(normalize_fnltt(payload, SAMSUNG))
    # ifrs-full_Assets thstrm / frmtrm / bfefrmtrm of the separate (OFS) statements
    assert {y: r["total_assets"] for y, r in rows.items()} == {
        2023: 296_857_289_000_000,
        2022: 260_083_750_000_000,
        2021: 251_112_184_000_000,
    }


def test_non_december_fiscal_month_moves_the_period():
    payload = copy.deepcopy(samsung_cfs())
    row = by_year(normalize_fnltt(payload, SAMSUNG, fiscal_year_end_month=3))[2023]
    assert (row["period_start"], row["period_end"]) == (dt.date(2022, 4, 1), dt.date(2023, 3, 31))


def test_amount_and_name_parsing():
    assert parse_amount("-477617000000") == -477_617_000_000
    assert parse_amount("195,936,557,000,000") == 195_936_557_000_000  # fnlttSinglAcnt's comma format
    assert parse_amount("") is None and parse_amount(None) is None and parse_amount("-") is None
    assert normalize_account_name("장기차입금 (주27)") == normalize_account_name("장기차입금")
