"""Row validation and the accounting identity on real filings with planted defects."""

import copy
import datetime as dt
import gzip
import json
from importlib import resources

import pandas as pd

from risk_assets.core.dart_statements import normalize_fnltt
from risk_assets.core.quality import accounting_identity, validate_statements
from risk_assets.core.sec_statements import normalize_companyfacts

DATA = resources.files("risk_assets.data")
APPLE_FY2023_10K = "0000320193-23-000106"
APPLE_FY2022_10K = "0000320193-22-000108"


def apple_facts() -> dict:
    return json.loads(gzip.decompress(DATA.joinpath("sec/companyfacts/CIK0000320193.json.gz").read_bytes()))


def _set_fact(facts: dict, tag: str, accession: str, end: str, value: object) -> None:
    for fact in facts["facts"]["us-gaap"][tag]["units"]["USD"]:
        if fact["accn"] == accession and fact["end"] == end:
            fact["val"] = value


def test_a_filing_with_text_in_a_number_is_rejected_and_the_rest_lands():
    clean_good, clean_rejected = validate_statements(normalize_companyfacts(apple_facts(), "sec-0000320193"))
    facts = copy.deepcopy(apple_facts())
    _set_fact(facts, "NetIncomeLoss", APPLE_FY2023_10K, "2023-09-30", "n/a")
    frame = normalize_companyfacts(facts, "sec-0000320193")
    good, rejected = validate_statements(frame)

    new = rejected[~rejected["record_key"].isin(clean_rejected["record_key"])]
    bad_rows = frame[frame["accession"] == APPLE_FY2023_10K]
    assert len(bad_rows) >= 1
    assert set(new["record_key"]) == {f"{row.period_end}|{APPLE_FY2023_10K}" for row in bad_rows.itertuples()}
    assert all("NetIncomeLoss = 'n/a' is not a number" in reason for reason in new["reason"])
    assert APPLE_FY2023_10K not in set(good["accession"])

    # Every other version still lands. (The FY2024 10-K's FY2023 comparative now also becomes a version: it
    # is the first filing to give a usable FY2023 net income.)
    def keys(frame):
        return set(zip(frame["period_end"], frame["accession"], strict=True))

    assert keys(clean_good[clean_good["accession"] != APPLE_FY2023_10K]) <= keys(good)
    assert len(good) == len(clean_good) - len(bad_rows) + 1


def test_total_assets_not_positive_is_rejected_with_the_value():
    _clean_good, clean_rejected = validate_statements(normalize_companyfacts(apple_facts(), "sec-0000320193"))
    facts = copy.deepcopy(apple_facts())
    _set_fact(facts, "Assets", APPLE_FY2022_10K, "2022-09-24", -5)
    good, rejected = validate_statements(normalize_companyfacts(facts, "sec-0000320193"))
    new = rejected[~rejected["record_key"].isin(clean_rejected["record_key"])]
    assert dict(zip(new["record_key"], new["reason"], strict=True)) == {
        f"2022-09-24|{APPLE_FY2022_10K}": "total_assets <= 0 (-5)"
    }
    assert (good["total_assets"] > 0).all()


def test_missing_total_assets_and_missing_key_fields_are_reasons():
    frame = pd.DataFrame(
        [
            {
                "company_id": "x",
                "period_end": dt.date(2020, 12, 31),
                "filed_at": dt.date(2021, 2, 1),
                "accession": "a1",
                "currency": "USD",
                "total_assets": None,
                "net_income": 5.0,
            },
            {
                "company_id": "x",
                "period_end": dt.date(2021, 12, 31),
                "filed_at": None,
                "accession": "a2",
                "currency": "USD",
                "total_assets": 10.0,
            },
            {
                "company_id": "x",
                "period_end": dt.date(2022, 12, 31),
                "filed_at": dt.date(2023, 2, 1),
                "accession": "a3",
                "currency": "USD",
                "total_assets": "12,0",
            },
            {
                "company_id": "x",
                "period_end": dt.date(2023, 12, 31),
                "filed_at": dt.date(2024, 2, 1),
                "accession": "a4",
                "currency": "USD",
                "total_assets": 20.0,
                "revenue": "abc",
            },
            {
                "company_id": "x",
                "period_end": dt.date(2024, 12, 31),
                "filed_at": dt.date(2025, 2, 1),
                "accession": "a5",
                "currency": "USD",
                "total_assets": 30.0,
            },
        ]
    )
    good, rejected = validate_statements(frame)
    reasons = dict(zip(rejected["record_key"], rejected["reason"], strict=True))
    assert reasons == {
        "2020-12-31|a1": "total_assets is missing",
        "2021-12-31|a2": "filed_at is missing",
        "2022-12-31|a3": "total_assets is not a number ('12,0')",
        "2023-12-31|a4": "revenue is not a number ('abc')",
    }
    assert list(good["accession"]) == ["a5"]
    assert good["total_assets"].dtype == float


def test_dart_filing_with_a_non_numeric_amount_is_rejected_whole():
    payload = json.loads(
        DATA.joinpath("opendart/fnlttSinglAcntAll/00126380_2023_11011_CFS.sjunepark-golden.json").read_text()
    )
    for row in payload["list"]:
        if row["account_id"] == "ifrs-full_Revenue":
            row["thstrm_amount"] = "1O0"  # a letter O typed for a zero
    good, rejected = validate_statements(normalize_fnltt(payload, "dart-00126380"))
    assert good.empty
    assert len(rejected) == 3  # FY2023, FY2022, FY2021 all come from this one filing
    assert all("ifrs-full_Revenue thstrm_amount = '1O0' is not a number" in r for r in rejected["reason"])


def test_accounting_identity_excludes_derived_rows_and_counts_violations():
    frame = pd.DataFrame(
        {
            "company_id": ["a", "a", "b", "c", "d"],
            "period_end": ["2020", "2021", "2020", "2020", "2020"],
            "accession": ["1", "2", "3", "4", "5"],
            "total_assets": [100.0, 100.0, 100.0, 100.0, 100.0],
            # a: 60 + 40 = 100 holds; a/2: 60 + 39.5 -> gap 0.5% within 1%; b: 50 + 40 -> gap 10% violates;
            # c: liabilities derived from the identity -> excluded; d: equity unknown -> excluded as incomplete.
            "total_liabilities": [60.0, 60.0, 50.0, 60.0, 60.0],
            "total_equity": [40.0, 39.5, 40.0, 40.0, None],
            "derived_items": ["", "ebitda", "", "total_liabilities", ""],
        }
    )
    report = accounting_identity(frame, tolerance=0.01)
    assert (report.rows, report.derived_excluded, report.incomplete_excluded, report.checked) == (5, 1, 1, 3)
    assert report.violations == 1
    assert report.violation_share == 1 / 3
    assert list(report.worst["company_id"]) == ["b"]
