"""Quarterly filings -> trailing-twelve-month rows, checked against the filings' own figures.

SEC: Apple's companyfacts (bundled, byte-exact). Expected figures are literals read from the fixture facts
(accession cited) and hand arithmetic on them. DART: no recorded quarterly response exists; the quarterly
payload is BUILT from the documented fields (tests/sources/stubs.py) with synthetic amounts, and the expected
TTM is the documented formula applied by hand to those amounts.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from functools import cache

import pandas as pd
import pytest

from risk_assets.core.dart_statements import normalize_fnltt
from risk_assets.core.sec_statements import normalize_companyfacts
from risk_assets.core.ttm import (
    dart_interim_report,
    fiscal_period_for,
    is_dart_interim,
    sec_interim_reports,
    trailing_twelve_months,
)
from tests.sources import stubs

MILLION = 1_000_000
APPLE = "sec-0000320193"
Q1_FY2010_10Q = "0001193125-10-012085"  # filed 2010-01-25, quarter 2009-09-27 .. 2009-12-26
Q3_FY2009_10Q = "0001193125-09-153165"  # filed 2009-07-22: Apple's first XBRL 10-Q


@cache
def apple_facts() -> dict:
    return json.loads(
        gzip.decompress((stubs.DATA / "sec" / "companyfacts" / "CIK0000320193.json.gz").read_bytes())
    )


@cache
def apple_ttm() -> pd.DataFrame:
    facts = apple_facts()
    return trailing_twelve_months(normalize_companyfacts(facts, APPLE), sec_interim_reports(facts, APPLE))


def test_apple_q1_fy2010_ttm_uses_the_restated_year_known_that_day() -> None:
    row = apple_ttm().set_index("accession").loc[Q1_FY2010_10Q]
    assert (row["period_type"], row["fiscal_period"], row["fiscal_year"]) == ("TTM", "Q1", 2010)
    assert (row["period_end"], row["filed_at"]) == (dt.date(2009, 12, 26), dt.date(2010, 1, 25))
    assert row["period_start"] == dt.date(2008, 12, 28)  # the day after the prior-year quarter end
    # NetIncomeLoss: FY2009 per the 10-K/A filed the same day (0001193125-10-012091) 8,235m; Q1 FY2010 3,378m;
    # Q1 FY2009 as restated in the 10-Q 2,255m.  8,235 + 3,378 - 2,255 = 9,358.
    assert row["net_income"] / MILLION == 9358
    # SalesRevenueNet: FY2009 (10-K/A) 42,905m + Q1 FY2010 15,683m - Q1 FY2009 11,880m = 46,708m.
    assert row["revenue"] / MILLION == 42905 + 15683 - 11880
    # Balance sheet: the 10-Q's own instants at 2009-12-26 (Assets 53,926m).
    assert row["total_assets"] / MILLION == 53926


def test_a_quarter_without_a_known_prior_year_has_no_ttm_row() -> None:
    # The Q3 FY2009 10-Q (2009-07-22) came before any full-year FY2008 fact was filed in XBRL (the FY2009 10-K
    # of 2009-10-27 first reported it): no TTM row rather than a guess.
    reports = {r.accession: r for r in sec_interim_reports(apple_facts(), APPLE)}
    assert reports[Q3_FY2009_10Q].fiscal_period == "Q3"
    assert reports[Q3_FY2009_10Q].ytd["net_income"] / MILLION == 4039  # 2008-09-28 .. 2009-06-27
    assert Q3_FY2009_10Q not in set(apple_ttm()["accession"])


def test_apple_latest_ttm_rows_and_keys_are_unique() -> None:
    ttm = apple_ttm()
    assert not ttm.duplicated(["company_id", "period_end", "accession"]).any()
    assert set(ttm["form"]) <= {"10-Q", "10-Q/A"}
    assert (pd.to_datetime(ttm["filed_at"]) > pd.to_datetime(ttm["period_end"])).all()
    latest = ttm.sort_values("period_end").iloc[-1]
    # 10-Q 0000320193-26-000006 (Q1 FY2026, to 2025-12-27): NetIncomeLoss FY2025 112,010m + 42,097m - 36,330m.
    assert latest["accession"] == "0000320193-26-000006"
    assert latest["net_income"] / MILLION == 112010 + 42097 - 36330


@pytest.mark.parametrize(
    ("days", "period"),
    [(90, "Q1"), (91, "Q1"), (182, "Q2"), (168, "Q2"), (273, "Q3"), (252, "Q3"), (364, None), (30, None)],
)
def test_fiscal_period_from_the_year_to_date_length(days: int, period: str | None) -> None:
    # 13/26/39-week and 3/6/9-month quarters; Costco's 12/24/36-week ones (84/168/252 days) too.
    assert fiscal_period_for(days) == period


def test_dart_quarterly_report_becomes_a_ttm_row() -> None:
    payload = stubs.samsung_q1_2024_payload()
    assert is_dart_interim(payload)
    report = dart_interim_report(payload, stubs.SAMSUNG)
    assert (report.fiscal_period, report.year_start, report.period_end) == (
        "Q1",
        dt.date(2024, 1, 1),
        dt.date(2024, 3, 31),
    )
    assert (report.accession, report.filed_at) == (stubs.SAMSUNG_Q1_2024_RCEPT, dt.date(2024, 5, 16))
    annual = normalize_fnltt({"status": "000", "list": stubs.samsung_fy2023_rows()}, stubs.SAMSUNG)
    row = trailing_twelve_months(annual, [report]).iloc[0]
    revenue, net_income, ocf = 258_935_494_000_000, 14_473_401_000_000, 44_137_427_000_000  # FY2023 lines
    # IS rows: thstrm_add_amount (YTD) and frmtrm_add_amount (prior-year YTD) = FY2023 x 0.27 / x 0.24.
    assert row["revenue"] == revenue + round(revenue * 0.27) - round(revenue * 0.24)
    assert row["net_income"] == net_income + round(net_income * 0.27) - round(net_income * 0.24)
    # CF rows are cumulative: thstrm_amount (x 0.26) and frmtrm_amount (x 0.22) are the YTD figures.
    assert row["operating_cash_flow"] == ocf + round(ocf * 0.26) - round(ocf * 0.22)
    # BS: thstrm_amount at the quarter end (FY2023 total assets x 1.01).
    assert row["total_assets"] == round(455_905_980_000_000 * 1.01)
    assert (row["period_type"], row["fiscal_period"], row["currency"]) == ("TTM", "Q1", "KRW")


def test_dart_ttm_needs_the_prior_annual_report_filed_before_it() -> None:
    report = dart_interim_report(stubs.samsung_q1_2024_payload(), stubs.SAMSUNG)
    annual = normalize_fnltt({"status": "000", "list": stubs.samsung_fy2023_rows()}, stubs.SAMSUNG)
    late = annual.assign(filed_at=dt.date(2024, 6, 1))  # as if the FY2023 report came after the quarter's
    assert trailing_twelve_months(late, [report]).empty


def test_the_annual_normaliser_still_refuses_quarterly_reports() -> None:
    with pytest.raises(ValueError, match="quarterly"):
        normalize_fnltt(stubs.samsung_q1_2024_payload(), stubs.SAMSUNG)
