"""Default events and late-filing notices from the bundled SEC submissions and OpenDART DS005 responses."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from importlib.resources import files

import pytest

from risk_assets.core.events import (
    dart_default_events,
    parse_loose_date,
    sec_default_events,
    sec_late_filing_notices,
)

DATA = files("risk_assets") / "data"
SUBMISSIONS = DATA / "sec" / "submissions"
NIKOLA, SUNEDISON, APPLE = 1731289, 945436, 320193
HEALTHY = [63908, 97476, 104169, 320187, 320193, 354950, 909832, 1045810, 1744489, 1835632]


def submissions(cik: int) -> dict:
    with (SUBMISSIONS / f"CIK{cik:010d}.json.gz").open("rb") as fh, gzip.open(fh) as gz:
        return json.load(gz)


def dart(kind: str) -> dict:
    (path,) = [p for p in (DATA / "opendart" / kind).iterdir() if p.name.endswith(".json")]
    return json.loads(path.read_text(encoding="utf-8"))


def test_nikola_bankruptcy_8k():
    # filings.recent: 8-K 0001731289-25-000004, filingDate 2025-02-19, reportDate 2025-02-18,
    # items "1.03,2.04,2.06,5.02,7.01,8.01,9.01"
    assert sec_default_events(submissions(NIKOLA), "nikola") == [
        {
            "company_id": "nikola",
            "event_date": dt.date(2025, 2, 18),
            "kind": "bankruptcy",
            "source": "sec_8k_item_1.03",
            "reference": "0001731289-25-000004",
        }
    ]


def test_sunedison_bankruptcy_8k():
    # 8-K 0001193125-16-559806 filed 2016-04-27, reportDate 2016-04-21 (the Chapter 11 petition date),
    # items "1.01,1.03,2.03,2.04,3.01,7.01,9.01"
    (event,) = sec_default_events(submissions(SUNEDISON), "sune")
    assert (event["event_date"], event["reference"]) == (dt.date(2016, 4, 21), "0001193125-16-559806")


@pytest.mark.parametrize("cik", HEALTHY)
def test_healthy_filers_have_no_default_event(cik):
    assert sec_default_events(submissions(cik), str(cik)) == []


def test_page_file_shape_and_filing_date_fallback():
    recent = submissions(NIKOLA)["filings"]["recent"]
    page = {key: list(values) for key, values in recent.items()}  # arrays at the top level
    i = page["accessionNumber"].index("0001731289-25-000004")
    page["reportDate"][i] = ""
    (event,) = sec_default_events(page, "nikola")
    assert event["event_date"] == dt.date(2025, 2, 19)  # the filingDate


def test_item_1_03_must_be_a_whole_item():
    page = {
        "accessionNumber": ["a", "b", "c"],
        "form": ["8-K", "8-K/A", "10-K"],
        "filingDate": ["2020-01-02", "2020-01-03", "2020-01-04"],
        "reportDate": ["2020-01-01", "", ""],
        "items": ["1.031,2.03", "1.03", "1.03"],  # 1.031 is not 1.03; a 10-K is not a current report
    }
    assert [e["reference"] for e in sec_default_events(page, "x")] == ["b"]


def test_late_filing_notices():
    notices = sec_late_filing_notices(submissions(SUNEDISON), "sune")
    # NT 10-K and NT 10-Q filings of SunEdison (its NT 11-K of 2016-06-28, for an employee plan, is not one)
    assert [(n["filed_at"], n["form"]) for n in notices] == [
        (dt.date(2005, 11, 10), "NT 10-Q"),
        (dt.date(2006, 3, 16), "NT 10-K"),
        (dt.date(2006, 5, 10), "NT 10-Q"),
        (dt.date(2006, 8, 10), "NT 10-Q"),
        (dt.date(2014, 3, 4), "NT 10-K"),
        (dt.date(2016, 2, 29), "NT 10-K"),
        (dt.date(2016, 5, 12), "NT 10-Q"),
        (dt.date(2016, 8, 12), "NT 10-Q"),
    ]
    assert notices[-1] == {
        "company_id": "sune",
        "filed_at": dt.date(2016, 8, 12),
        "form": "NT 10-Q",
        "reference": "0001193125-16-680723",
    }
    assert [n["filed_at"] for n in sec_late_filing_notices(submissions(NIKOLA), "n")] == [
        dt.date(2025, 3, 31)
    ]
    assert sec_late_filing_notices(submissions(APPLE), "a") == []


@pytest.mark.parametrize(
    ("endpoint", "kind", "event_date", "reference"),
    [
        # dfd is "-": falls back to rcept_no[:8]
        ("dfOcr", "default", dt.date(2023, 10, 12), "20231012000317"),
        # rqd "2023년 09월 25일"
        ("ctrcvsBgrq", "rehabilitation_filing", dt.date(2023, 9, 25), "20230926000754"),
        # mngt_pcbg_dd "2024년 01월 11일" (the workout start), filed 2025-02-17
        ("bnkMngtPcbg", "creditor_bank_management", dt.date(2024, 1, 11), "20250217001661"),
    ],
)
def test_dart_events(endpoint, kind, event_date, reference):
    assert dart_default_events(dart(endpoint), endpoint, "corp") == [
        {
            "company_id": "corp",
            "event_date": event_date,
            "kind": kind,
            "source": f"dart_{endpoint}",
            "reference": reference,
        }
    ]


def test_dart_no_data_unknown_endpoint_and_errors():
    assert dart_default_events({"status": "013", "message": "조회된 데이타가 없습니다."}, "dfOcr", "c") == []
    with pytest.raises(ValueError):
        dart_default_events(dart("dfOcr"), "bsnSp", "c")
    with pytest.raises(ValueError, match="020"):
        dart_default_events({"status": "020", "message": "limit"}, "dfOcr", "c")


def test_parse_loose_date():
    assert parse_loose_date("2023년 09월 25일") == dt.date(2023, 9, 25)
    assert parse_loose_date("2024년 01월 11일 ~ 2027년 05월 30일") == dt.date(2024, 1, 11)
    assert parse_loose_date("20231012") == dt.date(2023, 10, 12)
    assert parse_loose_date("2016-04-21") == dt.date(2016, 4, 21)
    assert parse_loose_date("-") is None and parse_loose_date("") is None and parse_loose_date(None) is None
