"""Early-warning signals from the bundled SEC submissions (recorded) and an OpenDART audit-opinion response built
from its documented format (no recording exists), and the flags features see at a date."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pandas as pd
import pytest

from risk_assets.core import early_warning as ew
from tests.sources import stubs

SUNEDISON, NIKOLA = "sec-0000945436", "sec-0001731289"


def submissions(cik: str) -> dict:
    return json.loads(
        gzip.decompress((stubs.DATA / "sec" / "submissions" / f"CIK{cik}.json.gz").read_bytes())
    )


def test_late_filing_notices_of_sunedison() -> None:
    signals = ew.sec_late_filing_signals(submissions("0000945436"), SUNEDISON)
    # The NT 10-K of 2016-02-29 (its FY2015 10-K never came) and the NT 10-Qs of 2016: forms NT 10-K / NT 10-Q
    # in filings.recent, dated by filingDate.
    dated = [(str(s["signal_date"]), s["detail"].split(" filed")[0]) for s in signals]
    assert ("2016-02-29", "NT 10-K") in dated and ("2016-05-12", "NT 10-Q") in dated
    assert {s["kind"] for s in signals} == {ew.LATE_FILING_NOTICE}
    assert all(s["reference"].count("-") == 2 for s in signals)  # accession numbers


def test_overdue_reports_against_the_companys_own_calendar() -> None:
    nikola = submissions("0001731289")
    horizon = dt.date(2025, 10, 10)  # the recording's newest filing date
    signals = {s["reference"]: s for s in ew.sec_overdue_signals([nikola], NIKOLA, horizon)}
    # The FY2024 10-K (period 2024-12-31) was due by 2025-04-15 (90 days + 15 after an NT 10-K) and arrived on
    # 2025-10-09; the Q1 2025 10-Q (due 2025-05-20) never did.
    annual = signals["annual:2024-12-31"]
    assert (annual["signal_date"], annual["resolved_at"]) == (dt.date(2025, 4, 16), dt.date(2025, 10, 9))
    assert signals["quarterly:2025-03-31"]["resolved_at"] is None
    assert set(signals) == {"annual:2024-12-31", "quarterly:2025-03-31"}


def test_a_stale_snapshot_invents_no_misses() -> None:
    apple = submissions("0000320193")
    # Judged up to the recording (2026-02-26) nothing is late; judged on 2026-11-25 the next 10-Q is.
    assert ew.sec_overdue_signals([apple], "sec-0000320193", dt.date(2026, 2, 26)) == []
    late = ew.sec_overdue_signals([apple], "sec-0000320193", dt.date(2026, 11, 25))
    assert [s["reference"] for s in late] == ["quarterly:2026-03-29"]  # one signal for the whole gap


def test_a_report_with_a_filing_date_as_period_counts_as_filed() -> None:
    reports = [
        ew.FiledReport(dt.date(2007, 1, 31), dt.date(2007, 3, 30), annual=True),
        # EDGAR stamped this 10-K's reportDate with its filing date (Walmart's FY2009 10-K, 2009-04-01).
        ew.FiledReport(dt.date(2008, 4, 1), dt.date(2008, 4, 1), annual=True),
    ]
    assert (
        ew.overdue_signals(
            "x", reports, dt.date(2009, 1, 1), deadlines=(90, 45), grace_days=(15, 5), source="test"
        )
        == []
    )


def test_a_non_clean_audit_opinion_is_a_signal() -> None:
    clean = ew.dart_audit_opinion_signals(stubs.audit_opinion_payload("적정의견"), stubs.SAMSUNG)
    assert clean == []
    disclaimer = ew.dart_audit_opinion_signals(stubs.audit_opinion_payload("의견거절"), stubs.SAMSUNG)
    # Two current-year rows (consolidated and separate reports) of one receipt: one signal, dated rcept_no[:8].
    assert len(disclaimer) == 1
    assert (disclaimer[0]["kind"], disclaimer[0]["signal_date"]) == (
        ew.NON_CLEAN_AUDIT_OPINION,
        dt.date(2024, 3, 12),
    )
    assert disclaimer[0]["detail"].startswith("의견거절 (삼정회계법인)")
    assert (
        ew.dart_audit_opinion_signals(
            {"status": "013", "message": "조회된 데이타가 없습니다."}, stubs.SAMSUNG
        )
        == []
    )
    with pytest.raises(ValueError, match="020"):
        ew.dart_audit_opinion_signals(
            {"status": "020", "message": "요청 제한을 초과하였습니다."}, stubs.SAMSUNG
        )


def test_dart_periodic_reports_from_list_rows() -> None:
    rows = stubs.samsung_periodic_list(with_q1_2024=True)["list"]
    reports = ew.dart_filed_reports(rows)
    assert sorted((str(r.period_end), str(r.filed_at), r.annual) for r in reports) == [
        ("2023-12-31", "2024-03-12", True),
        ("2024-03-31", "2024-05-16", False),
    ]
    overdue = ew.dart_overdue_signals(rows, stubs.SAMSUNG, dt.date(2025, 12, 31))
    # Next annual report due 2024-12-31 + 90 days; nothing arrived: signalled once for the gap.
    assert [(s["reference"], str(s["signal_date"])) for s in overdue] == [("annual:2024-12-31", "2025-04-01")]


def test_flags_see_only_signals_known_at_the_date() -> None:
    signals = pd.DataFrame(
        [
            {
                "company_id": "c",
                "kind": ew.LATE_FILING_NOTICE,
                "reference": "a",
                "signal_date": dt.date(2016, 2, 29),
                "resolved_at": None,
            },
            {
                "company_id": "c",
                "kind": ew.FILING_OVERDUE,
                "reference": "b",
                "signal_date": dt.date(2016, 4, 16),
                "resolved_at": dt.date(2016, 9, 1),
            },
        ]
    )
    before = ew.warning_flags(signals, dt.date(2016, 2, 28), audit_opinions_known=False)
    assert (before["late_filing_notices_12m"], before["filing_overdue"], before["latest_signal_date"]) == (
        0,
        0,
        None,
    )
    during = ew.warning_flags(signals, dt.date(2016, 5, 1), audit_opinions_known=True)
    assert (
        during["late_filing_notices_12m"],
        during["filing_overdue"],
        during["non_clean_audit_opinion"],
    ) == (1, 1, 0)
    after = ew.warning_flags(signals, dt.date(2017, 3, 1), audit_opinions_known=False)
    # The overdue report arrived on 2016-09-01; the notice is more than a year old; no audit feed for SEC.
    assert (after["late_filing_notices_12m"], after["filing_overdue"], after["non_clean_audit_opinion"]) == (
        0,
        0,
        None,
    )
