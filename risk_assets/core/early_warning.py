"""Early-warning signals from the filing feeds: late-filing notices, non-clean audit opinions, overdue filings.

They are not defaults (labels come from core/events.py) but they precede many: a company that cannot file on
time, or whose auditor will not sign a clean opinion, is telling its creditors something. Each signal is a row
(company, kind, reference) dated by the day it became known, so features at t see only signals dated <= t.

- ``late_filing_notice``: SEC Form 12b-25 (NT 10-K, NT 10-Q, NT 20-F), dated by its filing date.
- ``non_clean_audit_opinion``: OpenDART ``accnutAdtorNmNdAdtOpinion`` (회계감사인의 명칭 및 감사의견): a
  current-year row ("(당기)" in ``bsns_year``) whose ``adt_opinion`` is not 적정 (unqualified): 한정 qualified,
  부적정 adverse, 의견거절 disclaimer. Dated by the report's receipt date (``rcept_no[:8]``). No recorded response
  exists: the format follows OpenDART's guide (DS002, apiId 2020009) as documented in API_NOTES-style notes.
- ``filing_overdue``: the company's own calendar (its past reports, one year on) says a report is due and
  none has arrived by the period end + the filing deadline + the grace a late-filing notice buys. SEC: 10-K
  90 days + 15 (Rule 12b-25), 10-Q 45 + 5, 20-F 120. OpenDART: annual report 90 days, quarterly and
  half-year reports 45 (no grace). Dated the day after the grace ends; ``resolved_at`` is the day the report
  finally arrived. Only deadlines before ``horizon`` (the day the filing list was fetched) are judged, so a
  stale snapshot never makes a filing look missing.
"""

from __future__ import annotations

import datetime as dt
import re
from calendar import monthrange
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk_assets.core.events import parse_loose_date, sec_late_filing_notices

LATE_FILING_NOTICE = "late_filing_notice"
NON_CLEAN_AUDIT_OPINION = "non_clean_audit_opinion"
FILING_OVERDUE = "filing_overdue"
SIGNAL_KINDS = (LATE_FILING_NOTICE, NON_CLEAN_AUDIT_OPINION, FILING_OVERDUE)

SEC_ANNUAL_FORMS = frozenset({"10-K", "10-K405", "10-KT", "20-F", "40-F"})
SEC_QUARTERLY_FORMS = frozenset({"10-Q", "10-QT"})
#: SEC deadlines (days after the period end) by filer category: (10-K, 10-Q).
SEC_DEADLINES = (90, 45)  # the longest any filer gets for the 10-K and the 10-Q
SEC_GRACE_DAYS = (15, 5)  # Rule 12b-25 extensions for the annual and the quarterly report
FOREIGN_DEADLINES = (120, 0)  # 20-F: four months; no quarterly report
DART_DEADLINES = (90, 45)
DART_GRACE_DAYS = (0, 0)
#: A report "for" an expected period end reports a period ending within this many days of it.
PERIOD_MATCH_DAYS = 10
#: A report filed fewer days than this after its reportDate has no usable period (see FiledReport).
MIN_FILING_LAG_DAYS = 10
#: Such a report covers an expected period it was filed within deadline + grace + this many days after.
UNKNOWN_PERIOD_SLACK_DAYS = 30
#: How long a non-clean opinion or a late-filing notice stays a live flag.
OPINION_FLAG_DAYS = 400
NOTICE_FLAG_DAYS = 365

CLEAN_OPINION = "적정"
_DART_REPORT_PERIOD = re.compile(r"(\d{4})\.(\d{1,2})")


def _signal(
    company_id: str,
    kind: str,
    reference: str,
    signal_date: dt.date,
    source: str,
    detail: str,
    resolved_at: dt.date | None = None,
) -> dict[str, Any]:
    return {
        "company_id": company_id,
        "kind": kind,
        "reference": reference[:64],
        "signal_date": signal_date,
        "resolved_at": resolved_at,
        "source": source,
        "detail": detail[:400],
    }


# ------------------------------------------------------------------------------------------ the signals


def sec_late_filing_signals(submissions: dict, company_id: str) -> list[dict[str, Any]]:
    """One signal per NT 10-K / NT 10-Q / NT 20-F in a submissions response or page."""
    return [
        _signal(
            company_id,
            LATE_FILING_NOTICE,
            notice["reference"],
            notice["filed_at"],
            "sec_12b-25",
            f"{notice['form']} filed {notice['filed_at']}",
        )
        for notice in sec_late_filing_notices(submissions, company_id)
        if notice["filed_at"] is not None
    ]


def dart_audit_opinion_signals(payload: dict, company_id: str) -> list[dict[str, Any]]:
    """Non-clean current-year opinions in one accnutAdtorNmNdAdtOpinion response (013 = none)."""
    status = str(payload.get("status") or "000")
    if status == "013":
        return []
    if status != "000":
        raise ValueError(f"OpenDART error status {status}: {payload.get('message')}")
    signals: dict[str, dict[str, Any]] = {}
    for row in payload.get("list") or []:
        if "당기" not in str(row.get("bsns_year") or ""):
            continue
        opinion = str(row.get("adt_opinion") or "").strip()
        if not opinion or opinion == "-" or opinion.startswith(CLEAN_OPINION):
            continue  # no audit report (adtor "-") is not an opinion; 적정 is clean
        rcept_no = str(row.get("rcept_no") or "")
        filed = parse_loose_date(rcept_no[:8])
        if filed is None:
            continue
        auditor = str(row.get("adtor") or "").strip()
        signals.setdefault(
            rcept_no,
            _signal(
                company_id,
                NON_CLEAN_AUDIT_OPINION,
                rcept_no,
                filed,
                "dart_audit_opinion",
                f"{opinion} ({auditor}), {row.get('bsns_year')}",
            ),
        )
    return list(signals.values())


@dataclass(frozen=True)
class FiledReport:
    """A periodic report on file: which period it covers (its end) and when it was filed."""

    period_end: dt.date
    filed_at: dt.date
    annual: bool

    @property
    def period_known(self) -> bool:
        """EDGAR stamps some older filings' reportDate with the filing date: no report is filed within days of
        its period end, so such a date says nothing about the period."""
        return (self.filed_at - self.period_end).days >= MIN_FILING_LAG_DAYS

    def covers(self, end: dt.date, annual: bool, window_days: int) -> bool:
        """Whether this is the report for the period ending about ``end`` (by its period, or, when that is
        unknown, by being filed within ``window_days`` after ``end``)."""
        if self.annual != annual:
            return False
        if self.period_known:
            return abs((self.period_end - end).days) <= PERIOD_MATCH_DAYS
        return 0 < (self.filed_at - end).days <= window_days


def overdue_signals(
    company_id: str,
    reports: Sequence[FiledReport],
    horizon: dt.date,
    *,
    deadlines: tuple[int, int],
    grace_days: tuple[int, int],
    source: str,
) -> list[dict[str, Any]]:
    """Reports the company's own calendar expected but that had not arrived by deadline + grace.

    The calendar is the company's own history: each report on file announces the same report one year later
    (its period end + 1 year, +-10 days for 52/53-week years), so Costco's 12-week quarters or a fiscal year
    ending in January need no configuration. Only deadlines before ``horizon`` are judged. A company that
    stopped filing is signalled once, at the first missed report (``resolved_at`` empty until one arrives).
    """
    if not reports:
        return []
    expected: dict[tuple[dt.date, bool], None] = {}
    for report in reports:
        if report.period_known:
            expected[(_one_year_after(report.period_end), report.annual)] = None
    candidates = []
    for end, annual in expected:
        due = end + dt.timedelta(days=deadlines[0 if annual else 1] + grace_days[0 if annual else 1])
        if due < horizon:
            candidates.append((due, end, annual))
    signals = []
    in_gap = False
    for due, end, annual in sorted(candidates):
        index = 0 if annual else 1
        window = deadlines[index] + grace_days[index] + UNKNOWN_PERIOD_SLACK_DAYS
        matching = [r for r in reports if r.covers(end, annual, window)]
        filed = min((r.filed_at for r in matching), default=None)
        if filed is not None and filed <= due:
            in_gap = False
            continue
        if filed is None and in_gap:
            continue
        in_gap = filed is None
        kind = "annual" if annual else "quarterly"
        detail = (
            f"no {kind} report for the period ending about {end} by {due} "
            f"({deadlines[index]} days + {grace_days[index]} grace)"
        )
        if filed is not None:
            detail += f"; filed {filed}"
        signals.append(
            _signal(
                company_id,
                FILING_OVERDUE,
                f"{kind}:{end.isoformat()}",
                due + dt.timedelta(days=1),
                source,
                detail,
                resolved_at=filed,
            )
        )
    return signals


def _one_year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _filing_columns(document: dict) -> dict:
    filings = document.get("filings")
    return (filings.get("recent") or {}) if isinstance(filings, dict) else document


def sec_filed_reports(submissions_documents: Iterable[dict]) -> list[FiledReport]:
    """10-K / 10-Q filings (amendments excluded) with the period they report (``reportDate``)."""
    reports = []
    for document in submissions_documents:
        columns = _filing_columns(document)
        forms, report_dates, filing_dates = (
            columns.get(k) or [] for k in ("form", "reportDate", "filingDate")
        )
        for form, report_date, filing_date in zip(forms, report_dates, filing_dates, strict=False):
            if form not in SEC_ANNUAL_FORMS and form not in SEC_QUARTERLY_FORMS:
                continue
            period, filed = parse_loose_date(report_date), parse_loose_date(filing_date)
            if period is not None and filed is not None:
                reports.append(FiledReport(period, filed, form in SEC_ANNUAL_FORMS))
    return reports


def sec_overdue_signals(
    submissions_documents: Sequence[dict], company_id: str, horizon: dt.date
) -> list[dict[str, Any]]:
    """Overdue 10-K / 10-Q (20-F / 40-F for foreign private issuers) against the filer's own calendar.

    Deadlines are the longest the rules give any filer (10-K 90 days, 10-Q 45; 20-F four months) so a filer
    whose category changed over the years is never flagged early; a large accelerated filer late by its own
    shorter deadline files an NT 10-K, which is a signal of its own.
    """
    foreign = any(
        form in ("20-F", "40-F")
        for document in submissions_documents
        for form in _filing_columns(document).get("form") or []
    )
    return overdue_signals(
        company_id,
        sec_filed_reports(submissions_documents),
        horizon,
        deadlines=FOREIGN_DEADLINES if foreign else SEC_DEADLINES,
        grace_days=SEC_GRACE_DAYS,
        source="sec_calendar",
    )


def dart_filed_reports(list_rows: Iterable[Mapping[str, Any]]) -> list[FiledReport]:
    """Periodic reports in list.json rows: 사업보고서 (annual), 반기/분기보고서, with the period "(YYYY.MM)".

    Corrections ([기재정정]) are not new reports: the first filing of a period counts.
    """
    reports = []
    for row in list_rows:
        name = str(row.get("report_nm") or "").replace(" ", "")
        annual = "사업보고서" in name
        if not (annual or "반기보고서" in name or "분기보고서" in name):
            continue
        match = _DART_REPORT_PERIOD.search(name)
        filed = parse_loose_date(str(row.get("rcept_dt") or ""))
        if match is None or filed is None:
            continue
        year, month = int(match[1]), int(match[2])
        reports.append(FiledReport(dt.date(year, month, monthrange(year, month)[1]), filed, annual))
    return reports


def dart_overdue_signals(
    list_rows: Sequence[Mapping[str, Any]], company_id: str, horizon: dt.date
) -> list[dict[str, Any]]:
    return overdue_signals(
        company_id,
        dart_filed_reports(list_rows),
        horizon,
        deadlines=DART_DEADLINES,
        grace_days=DART_GRACE_DAYS,
        source="dart_calendar",
    )


# ------------------------------------------------------------------------------------------ as features


def warning_flags(signals: pd.DataFrame, as_of: dt.date, *, audit_opinions_known: bool) -> dict[str, Any]:
    """Flags known at ``as_of`` from one company's signals (rows dated after it are ignored).

    late_filing_notices_12m: notices in the year up to as_of; non_clean_audit_opinion: 1 if one was
    reported in the last 400 days (None when the company's source has no audit-opinion feed);
    filing_overdue: 1 if a report was overdue at as_of and had not arrived by then.
    """
    cutoff = pd.Timestamp(as_of)
    known = signals if signals.empty else signals[pd.to_datetime(signals["signal_date"]) <= cutoff]
    dates = pd.to_datetime(known["signal_date"]) if len(known) else pd.Series(dtype="datetime64[ns]")

    def recent(kind: str, days: int) -> int:
        if known.empty:
            return 0
        mask = (known["kind"] == kind) & (dates > cutoff - pd.Timedelta(days=days))
        return int(mask.sum())

    overdue = 0
    if not known.empty:
        late = known[known["kind"] == FILING_OVERDUE]
        resolved = pd.to_datetime(late["resolved_at"])
        overdue = int(((resolved.isna()) | (resolved > cutoff)).any())
    return {
        "late_filing_notices_12m": recent(LATE_FILING_NOTICE, NOTICE_FLAG_DAYS),
        "non_clean_audit_opinion": (
            min(recent(NON_CLEAN_AUDIT_OPINION, OPINION_FLAG_DAYS), 1) if audit_opinions_known else None
        ),
        "filing_overdue": overdue,
        "latest_signal_date": None if known.empty else dates.max().date().isoformat(),
    }


#: The flags of warning_flags, each a column of warning_flag_frame.
WARNING_FLAGS: tuple[str, ...] = (
    "late_filing_notices_12m",
    "non_clean_audit_opinion",
    "filing_overdue",
    "latest_signal_date",
)


def _nanoseconds(values: object) -> np.ndarray:
    """Dates or times as int64 nanoseconds; NaT stays the int64 minimum (callers drop or mask it)."""
    return pd.to_datetime(pd.Series(np.asarray(values))).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def warning_flag_frame(
    signals: pd.DataFrame,
    company_ids: Sequence[str],
    as_of: Sequence[dt.date],
    audit_opinions_known: Sequence[bool],
) -> pd.DataFrame:
    """warning_flags for every (company, as_of) pair at once: one column per WARNING_FLAGS name, in the pairs'
    order. ``signals`` holds every company's signals; a pair only sees its own company's, dated on or before its
    as_of. Counts are int64, ``non_clean_audit_opinion`` nullable Int64 (NA where the company's source has no
    audit-opinion feed), ``latest_signal_date`` a ``datetime.date`` or None.

    Each count is a difference of two sorted-key searches (company, time) instead of a filter per pair."""
    n = len(company_ids)
    if not (len(as_of) == len(audit_opinions_known) == n):
        raise ValueError("warning_flag_frame: company_ids, as_of and audit_opinions_known differ in length")
    companies = np.asarray(company_ids, dtype=object)
    cutoff = _nanoseconds(as_of)
    nat = np.iinfo(np.int64).min
    if (cutoff == nat).any():
        raise ValueError("warning_flag_frame: every pair needs an as_of date")
    if signals.empty:
        signals = pd.DataFrame(columns=["company_id", "kind", "signal_date", "resolved_at"])
    dated = _nanoseconds(signals["signal_date"].to_numpy(dtype=object)) != nat
    signals = signals[dated]
    signal_time = _nanoseconds(signals["signal_date"].to_numpy(dtype=object))
    resolved = (
        _nanoseconds(signals["resolved_at"].to_numpy(dtype=object))
        if "resolved_at" in signals.columns
        else np.full(len(signals), nat, dtype=np.int64)
    )
    kind = signals["kind"].to_numpy(dtype=object)
    codes, _ = pd.factorize(np.concatenate([companies, signals["company_id"].to_numpy(dtype=object)]))
    row_company, signal_company = codes[:n].astype(np.int64), codes[n:].astype(np.int64)

    def days_before(days: int) -> np.ndarray:
        return cutoff - np.int64(days) * 86_400_000_000_000

    # Every time compared, ranked: (company, rank) is then one int64 key, ordered as (company, time) is.
    windows = {LATE_FILING_NOTICE: NOTICE_FLAG_DAYS, NON_CLEAN_AUDIT_OPINION: OPINION_FLAG_DAYS}
    times = np.unique(
        np.concatenate(
            [signal_time, np.maximum(signal_time, resolved), cutoff, *map(days_before, windows.values())]
        )
    )
    width = np.int64(len(times) + 1)

    def key(company: np.ndarray, time: np.ndarray) -> np.ndarray:
        return company * width + np.searchsorted(times, time).astype(np.int64)

    def counted(selected: np.ndarray, time: np.ndarray, after: np.ndarray | None) -> np.ndarray:
        """Per pair, its company's selected signals whose ``time`` is in (after, as_of] (after None: all up to)."""
        keys = np.sort(key(signal_company[selected], time[selected]))
        upto = np.searchsorted(keys, key(row_company, cutoff), side="right")
        start = (
            np.searchsorted(keys, row_company * width - 1, side="right")
            if after is None
            else np.searchsorted(keys, key(row_company, after), side="right")
        )
        return (upto - start).astype(np.int64)

    late = counted(kind == LATE_FILING_NOTICE, signal_time, days_before(NOTICE_FLAG_DAYS))
    opinions = counted(kind == NON_CLEAN_AUDIT_OPINION, signal_time, days_before(OPINION_FLAG_DAYS))
    overdue = kind == FILING_OVERDUE
    # Overdue at t: dated on or before t and not resolved by then (resolved_at empty or after t).
    raised = counted(overdue, signal_time, None)
    settled = counted(overdue & (resolved != nat), np.maximum(signal_time, resolved), None)
    # The newest signal of any kind dated on or before t.
    order = np.lexsort((signal_time, signal_company))
    keys = key(signal_company, signal_time)[order]
    last = np.searchsorted(keys, key(row_company, cutoff), side="right") - 1
    mine = last >= 0
    mine[mine] = signal_company[order][last[mine]] == row_company[mine]
    latest = np.full(n, None, dtype=object)
    if mine.any():
        latest[mine] = pd.to_datetime(signal_time[order][last[mine]]).date
    known = np.asarray(audit_opinions_known, dtype=bool)
    opinion = pd.Series(np.minimum(opinions, 1), dtype="Int64")
    opinion[~known] = pd.NA
    return pd.DataFrame(
        {
            "late_filing_notices_12m": late,
            "non_clean_audit_opinion": opinion.array,
            "filing_overdue": ((raised - settled) > 0).astype(np.int64),
            "latest_signal_date": latest,
        }
    )


def warning_flags_table(
    signals: pd.DataFrame, as_of: dt.date, audit_opinions_known: pd.Series
) -> pd.DataFrame:
    """warning_flags for many companies at one date: per company of ``audit_opinions_known`` (a bool per company
    id, the index), the same late_filing_notices_12m, non_clean_audit_opinion (None where the company's source
    has no audit-opinion feed) and filing_overdue (warning_flag_frame with one date)."""
    companies = audit_opinions_known.index
    flags = warning_flag_frame(
        signals, list(companies), [as_of] * len(companies), audit_opinions_known.astype(bool).tolist()
    )
    opinions = flags["non_clean_audit_opinion"].astype(object)
    return pd.DataFrame(
        {
            "late_filing_notices_12m": flags["late_filing_notices_12m"].to_numpy(),
            "non_clean_audit_opinion": opinions.where(opinions.notna(), None).to_numpy(dtype=object),
            "filing_overdue": flags["filing_overdue"].to_numpy(),
        },
        index=companies,
    )
