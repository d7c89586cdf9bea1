"""Default events and early-warning filings, from SEC submissions and OpenDART major-event reports (DS005).

Default events label the training set (first default in (t, t+H]):
- SEC: an 8-K (or 8-K/A) with item 1.03 "Bankruptcy or Receivership". The event date is the 8-K's
  ``reportDate`` (the date of the event, e.g. the petition), else its ``filingDate``.
- OpenDART: 부도발생 (dfOcr, dishonoured bill), 회생절차 개시신청 (ctrcvsBgrq, rehabilitation filing) and
  채권은행 등의 관리절차 개시 (bnkMngtPcbg, creditor-bank workout). The event date is the row's own date
  field (Korean text such as "2023년 09월 25일"), else the receipt date ``rcept_no[:8]``.

Late-filing notices (NT 10-K / NT 10-Q) are not defaults; they are early-warning signals kept apart.
"""

from __future__ import annotations

import datetime as dt
import re

SEC_BANKRUPTCY_ITEM = "1.03"
SEC_CURRENT_REPORT_FORMS = frozenset({"8-K", "8-K/A"})
#: Notification of late filing (Form 12b-25) for the periodic reports.
SEC_LATE_FILING_FORMS = frozenset({"NT 10-K", "NT 10-K/A", "NT 10-Q", "NT 10-Q/A", "NT 20-F", "NT 20-F/A"})

#: DS005 endpoint -> (event kind, date fields of its rows in order of preference)
DART_EVENT_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dfOcr": ("default", ("dfd",)),  # 부도일자
    "ctrcvsBgrq": ("rehabilitation_filing", ("rqd",)),  # 신청일자
    "bnkMngtPcbg": ("creditor_bank_management", ("mngt_pcbg_dd", "cfd")),  # 관리절차개시일, 결정일
}

_DATE_PARTS = re.compile(r"(\d{4})\D{0,3}?(\d{1,2})\D{0,3}?(\d{1,2})")


def parse_loose_date(text: object) -> dt.date | None:
    """A date from "2023-09-25", "20230925", "2023.09.25" or "2023년 09월 25일"; None for "-", "" or junk."""
    if not isinstance(text, str):
        return None
    match = _DATE_PARTS.search(text)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _filing_columns(submissions: dict) -> dict[str, list]:
    """The columnar filing arrays of a submissions response (``filings.recent``) or of a page file
    (``CIK...-submissions-NNN.json``, whose arrays are at the top level)."""
    filings = submissions.get("filings")
    if isinstance(filings, dict):
        return filings.get("recent") or {}
    return submissions


def _filings(submissions: dict):
    columns = _filing_columns(submissions)
    accessions = columns.get("accessionNumber") or []
    for i, accession in enumerate(accessions):

        def field(name: str, i: int = i) -> str:
            values = columns.get(name) or []
            value = values[i] if i < len(values) else None
            return value if isinstance(value, str) else ""

        yield accession, field


def _items(text: str) -> set[str]:
    return {item.strip() for item in text.split(",") if item.strip()}


def sec_default_events(submissions: dict, company_id: str) -> list[dict]:
    """Bankruptcy events (8-K item 1.03) in one submissions response or page file."""
    events = []
    for accession, field in _filings(submissions):
        if field("form") not in SEC_CURRENT_REPORT_FORMS or SEC_BANKRUPTCY_ITEM not in _items(field("items")):
            continue
        event_date = parse_loose_date(field("reportDate")) or parse_loose_date(field("filingDate"))
        events.append(
            {
                "company_id": company_id,
                "event_date": event_date,
                "kind": "bankruptcy",
                "source": f"sec_8k_item_{SEC_BANKRUPTCY_ITEM}",
                "reference": accession,
            }
        )
    return sorted(events, key=lambda e: (e["event_date"] or dt.date.min, e["reference"]))


def sec_late_filing_notices(submissions: dict, company_id: str) -> list[dict]:
    """NT 10-K / NT 10-Q (and NT 20-F) notices: warning signals, not defaults."""
    notices = []
    for accession, field in _filings(submissions):
        if field("form") in SEC_LATE_FILING_FORMS:
            notices.append(
                {
                    "company_id": company_id,
                    "filed_at": parse_loose_date(field("filingDate")),
                    "form": field("form"),
                    "reference": accession,
                }
            )
    return sorted(notices, key=lambda n: (n["filed_at"] or dt.date.min, n["reference"]))


def dart_default_events(payload: dict, kind: str, company_id: str) -> list[dict]:
    """One event per list row of a DS005 response; ``kind`` is the endpoint: dfOcr, ctrcvsBgrq, bnkMngtPcbg."""
    if kind not in DART_EVENT_KINDS:
        raise ValueError(f"unknown DART event endpoint {kind!r}; expected one of {sorted(DART_EVENT_KINDS)}")
    status = str(payload.get("status") or "000")
    if status == "013":  # no data: an empty result
        return []
    if status != "000":
        raise ValueError(f"OpenDART error status {status}: {payload.get('message')}")
    event_kind, date_fields = DART_EVENT_KINDS[kind]
    events = []
    for row in payload.get("list") or []:
        rcept_no = str(row.get("rcept_no") or "")
        event_date = next(
            (d for d in (parse_loose_date(row.get(f)) for f in date_fields) if d is not None),
            parse_loose_date(rcept_no[:8]),
        )
        events.append(
            {
                "company_id": company_id,
                "event_date": event_date,
                "kind": event_kind,
                "source": f"dart_{kind}",
                "reference": rcept_no,
            }
        )
    return events
