"""Live fetching for the sources assets: what to request per company, and the raw capture behind it.

Every response a client receives goes through :class:`RawCapture` (the clients' ``raw_sink``) before the client
parses it: the bytes are stored in the object store under their sha256 and indexed in ``raw_filings``, so a
parser fix re-runs ``statements`` from the stored bytes without fetching again. The embedded default feeds the
same parsers from the bundled files (bundled.py): after the fetch, the code path is one.

No Dagster objects here (helpers only; the assets in assets.py call them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from risk_assets.clients import NotFound, OpenDartClient, SecEdgarClient
from risk_assets.clients.dart import MAJOR_EVENT_ENDPOINTS
from risk_assets.core.sectors import is_financial_ksic, is_financial_sic, sector_from_ksic, sector_from_sic
from risk_assets.storage.objects import ObjectStore, sha256_hex
from risk_assets.storage.warehouse import utc_now

logger = logging.getLogger("risk_assets.sources")

#: fnlttSinglAcntAll has data from this business year on.
DART_FIRST_YEAR = 2015
DART_ANNUAL, DART_QUARTERLY = "11011", {1: "11013", 2: "11012", 3: "11014"}
_DART_PERIOD = re.compile(r"\((\d{4})\.(\d{1,2})\)")
_SUBMISSIONS_PAGE = re.compile(r"^CIK\d{10}-submissions-(\d+)\.json$")


def raw_kind(sink_key: str) -> tuple[str, str]:
    """(source, kind) of a client's sink key: the names ``raw_filings`` and the parsers use.

    sec/companyfacts/CIK...json -> (sec, companyfacts); sec/submissions/CIK...-submissions-001.json ->
    (sec, submissions:001); opendart/fnlttSinglAcntAll/00126380_2023_11011_CFS.json ->
    (dart, fnlttSinglAcntAll:2023:11011:CFS); opendart/list/..._A_p2.json -> (dart, list:A:p2);
    opendart/dfOcr/... -> (dart, dfOcr); opendart/accnutAdtorNmNdAdtOpinion/X_2023_11011.json ->
    (dart, auditOpinion:2023); yahoo/chart/AAPL_....json -> (yahoo, chart:AAPL).
    """
    parts = sink_key.split("/")
    source, name = parts[0], parts[-1]
    stem = name.rsplit(".", 1)[0]
    if source == "sec":
        folder = parts[1] if len(parts) > 2 else stem
        page = _SUBMISSIONS_PAGE.match(name)
        if folder == "submissions" and page:
            return "sec", f"submissions:{page[1]}"
        return "sec", folder
    if source == "opendart":
        endpoint = parts[1] if len(parts) > 2 else stem
        fields = stem.split("_")
        if endpoint == "fnlttSinglAcntAll" and len(fields) == 4:
            return "dart", f"fnlttSinglAcntAll:{fields[1]}:{fields[2]}:{fields[3]}"
        if endpoint == "list":
            return "dart", f"list:{fields[-2]}:{fields[-1]}"
        if endpoint == "accnutAdtorNmNdAdtOpinion" and len(fields) >= 2:
            return "dart", f"auditOpinion:{fields[1]}"
        return "dart", endpoint
    if source == "yahoo":
        return "yahoo", f"chart:{stem.split('_')[0]}"
    return source, stem[:40]


def _extension(content_type: str, body: bytes) -> str:
    if body[:2] == b"PK":
        return "zip"
    if "xml" in (content_type or "").lower() or body.lstrip()[:1] == b"<":
        return "xml"
    return "json"


@dataclass
class RawCapture:
    """A ``raw_sink`` that stores each body before the client parses it and collects raw_filings rows.

    ``company_id`` is switched between companies by the caller; left empty (macro series, prices) the bodies
    are stored under ``_shared`` but not indexed per company.
    """

    objects: ObjectStore
    company_id: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    stored_bytes: int = 0

    def __call__(self, sink_key: str, body: bytes, content_type: str) -> None:
        self.store(*raw_kind(sink_key), body, content_type)

    def store(self, source: str, kind: str, body: bytes, content_type: str) -> None:
        """Store one body under its sha256 (once) and, for a company, collect its raw_filings row."""
        digest = sha256_hex(body)
        owner = self.company_id or "_shared"
        key = f"raw/{source}/{owner}/{kind.replace(':', '_')}/{digest}.{_extension(content_type, body)}"
        if not self.objects.exists(key):
            self.objects.put(key, body, content_type or "application/octet-stream")
        self.stored_bytes += len(body)
        if self.company_id:
            self.rows.append(
                {
                    "company_id": self.company_id,
                    "source": source,
                    "kind": kind[:40],
                    "sha256": digest,
                    "object_key": key,
                    "content_type": (content_type or "")[:80] or None,
                    "size_bytes": len(body),
                    "fetched_at": utc_now(),
                }
            )

    def take_rows(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        # The same body fetched twice in one run is one row.
        return list({(r["company_id"], r["source"], r["kind"], r["sha256"]): r for r in rows}.values())


# ------------------------------------------------------------------------------------------ companies


def company_row_from_sec(
    submissions: dict, company_id: str, cik: str, updated_at: dt.datetime
) -> dict[str, Any]:
    """A companies row from a submissions response: name, SIC, fiscal year end, first ticker."""
    sic = str(submissions.get("sic") or "") or None
    tickers = submissions.get("tickers") or []
    business = ((submissions.get("addresses") or {}).get("business")) or {}
    foreign = bool(business.get("isForeignLocation"))
    return {
        "company_id": company_id,
        "name": str(submissions.get("name") or company_id)[:200],
        "ticker": (str(tickers[0])[:16] if tickers else None),
        "cik": cik,
        "dart_corp_code": None,
        "country": "ZZ" if foreign else "US",
        "currency": None if foreign else "USD",
        "sic": sic,
        "induty_code": None,
        "sector": sector_from_sic(sic),
        "is_financial": is_financial_sic(sic),
        "fiscal_year_end": str(submissions.get("fiscalYearEnd") or "")[:4] or None,
        "source": "sec",
        "updated_at": updated_at,
    }


def fiscal_month_of(overview: dict) -> int:
    """The fiscal year's closing month from company.json's ``acc_mt`` (December when absent)."""
    return int(str(overview.get("acc_mt") or "12").strip() or 12)


def company_row_from_dart(
    overview: dict, company_id: str, corp_code: str, updated_at: dt.datetime
) -> dict[str, Any]:
    """A companies row from company.json: name, KSIC induty_code, fiscal month (acc_mt -> "MMDD")."""
    ksic = str(overview.get("induty_code") or "") or None
    month = fiscal_month_of(overview)
    last_day = monthrange(2001, month)[1]  # a common year: February ends on the 28th
    return {
        "company_id": company_id,
        "name": str(overview.get("corp_name_eng") or overview.get("corp_name") or company_id)[:200],
        "ticker": (str(overview.get("stock_code") or "").strip() or None),
        "cik": None,
        "dart_corp_code": corp_code,
        "country": "KR",
        "currency": "KRW",
        "sic": None,
        "induty_code": ksic,
        "sector": sector_from_ksic(ksic),
        "is_financial": is_financial_ksic(ksic),
        "fiscal_year_end": f"{month:02d}{last_day:02d}",
        "source": "dart",
        "updated_at": updated_at,
    }


# ------------------------------------------------------------------------------------------------ SEC


def fetch_sec_documents(
    client: SecEdgarClient, cik: str, log: Callable[[str], None] = logger.warning
) -> None:
    """Submissions (every page) and companyfacts; each body is captured by the client's raw sink."""
    client.submissions(cik)
    try:
        client.companyfacts(cik)
    except NotFound:
        log(f"SEC has no XBRL companyfacts for CIK {cik}: only its filing index is stored")


# ----------------------------------------------------------------------------------------------- DART


def dart_periodic_reports(rows: list[dict[str, Any]], fiscal_month: int = 12) -> dict[tuple[int, str], str]:
    """{(bsns_year, reprt_code): newest rcept_no} of the periodic reports in list.json rows.

    "사업보고서 (2023.12)" -> (2023, 11011); "분기보고서 (2024.03)" -> (2024, 11013); "반기보고서 (2024.06)" ->
    (2024, 11012); "분기보고서 (2024.09)" -> (2024, 11014) for a December year end. ``bsns_year`` is taken as
    the year the fiscal year ends in (the same assumption as normalize_fnltt for other fiscal months).
    """
    found: dict[tuple[int, str], str] = {}
    for row in rows:
        name = str(row.get("report_nm") or "").replace(" ", "")
        match = _DART_PERIOD.search(name)
        if match is None or not any(k in name for k in ("사업보고서", "반기보고서", "분기보고서")):
            continue
        year, month = int(match[1]), int(match[2])
        quarter = ((month - fiscal_month) % 12) // 3
        code = DART_ANNUAL if quarter == 0 else DART_QUARTERLY.get(quarter)
        if code is None:
            continue
        fiscal_year = year + (1 if month > fiscal_month else 0)
        rcept_no = str(row.get("rcept_no") or "")
        key = (fiscal_year, code)
        if rcept_no > found.get(key, ""):
            found[key] = rcept_no
    return found


def _window(today: dt.date, years: int) -> tuple[str, str]:
    return (today - dt.timedelta(days=365 * years + years // 4)).strftime("%Y%m%d"), today.strftime("%Y%m%d")


def fetch_dart_documents(
    client: OpenDartClient,
    corp_code: str,
    *,
    today: dt.date,
    stored_rcept: Callable[[str], str | None] = lambda kind: None,
    history_years: int = 10,
    quarterly_years: int = 3,
    log: Callable[[str], None] = logger.warning,
) -> dict[str, int]:
    """Company overview, the periodic-report list, statements of each report (CFS, else OFS), the three
    distress-event endpoints and the latest annual audit opinion. Returns request counts by kind.

    ``stored_rcept(kind)`` gives the rcept_no already stored for a statements kind; a report whose newest
    receipt is already stored is not fetched again (the daily cap is precious).
    """
    counts = {"statements": 0, "skipped_unchanged": 0, "events": 0}
    overview = client.company(corp_code) or {}
    fiscal_month = fiscal_month_of(overview)
    begin, end = _window(today, history_years)
    periodic = client.disclosures(corp_code, begin, end, pblntf_ty="A")
    reports = dart_periodic_reports(periodic, fiscal_month)
    for (year, code), rcept_no in sorted(reports.items()):
        if year < DART_FIRST_YEAR or (code != DART_ANNUAL and year < today.year - quarterly_years):
            continue
        stored = stored_rcept(f"fnlttSinglAcntAll:{year}:{code}")
        if stored is not None and stored >= rcept_no:
            counts["skipped_unchanged"] += 1
            continue
        client.statements(corp_code, year, code)
        counts["statements"] += 1
    for endpoint in sorted(MAJOR_EVENT_ENDPOINTS):
        client.major_events(endpoint, corp_code, begin, end)
        counts["events"] += 1
    annual_years = sorted(year for (year, code) in reports if code == DART_ANNUAL and year >= DART_FIRST_YEAR)
    if annual_years:
        client.audit_opinion(corp_code, annual_years[-1], DART_ANNUAL)
    else:
        log(f"OpenDART lists no annual report for {corp_code} in the last {history_years} years")
    return counts


def rcept_no_of(body: bytes) -> str | None:
    """The rcept_no of a stored fnlttSinglAcntAll response (None for a 013 body)."""
    try:
        rows = json.loads(body).get("list") or []
    except (ValueError, AttributeError):
        return None
    return str(rows[0].get("rcept_no")) if rows else None
