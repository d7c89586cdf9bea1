"""OpenDART (Korea FSS) client: corp-code master, disclosure list, company overview, statements, events.

OpenDART reports business errors as HTTP 200 with a ``status`` code in the body, so every JSON answer
is checked here: ``000`` ok, ``013`` no data (an empty result, not a failure), ``020`` rate limited
(raised at once and the client then refuses to send for a cool-down, because OpenDART answers hammering
with a 24 h block), ``010``/``011``/``012`` key problems. The key has a daily budget (20,000 by common
account), counted per calendar day in Asia/Seoul and enforced *before* a request leaves.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Unpack
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from pyrate_limiter import Duration, Rate

from risk_assets.clients.http import (
    AccessDenied,
    BadResponse,
    DailyCapReached,
    RateLimited,
    SourceClient,
    SourceError,
    SourceUnavailable,
    Transport,
    required_api_key,
    source_http,
    utc_now,
)

SOURCE = "opendart"
#: OpenDART allows 20,000 requests a day per key; riskgraph stops at half, leaving the rest of the day's quota to
#: the key's other uses (set it higher when the key is riskgraph's alone). Requests are spaced by 0.2 s.
DAILY_REQUEST_CAP = 10000
MIN_INTERVAL_SECONDS = 0.2
SEOUL = ZoneInfo("Asia/Seoul")
MAJOR_EVENT_ENDPOINTS = frozenset({"dfOcr", "ctrcvsBgrq", "bnkMngtPcbg"})
"""Distress events (DS005): dishonoured bill, rehabilitation filing, creditor-bank workout."""
REPORT_CODES = frozenset({"11011", "11012", "11013", "11014"})
STATUS_OK = "000"
STATUS_NO_DATA = "013"
STATUS_RATE_LIMITED = "020"
KEY_STATUSES = frozenset({"010", "011", "012"})
UNAVAILABLE_STATUSES = frozenset({"800"})


def dart_status_error(status: str, message: str, url: str | None = None) -> SourceError:
    """The exception for a non-OK, non-empty OpenDART status."""
    text = f"OpenDART status {status}: {message}"
    if status == STATUS_RATE_LIMITED:
        return RateLimited(text + " (request limit exceeded; not retrying)", source=SOURCE, url=url)
    if status in KEY_STATUSES:
        return AccessDenied(
            text + " (check the OpenDART API key: unregistered, locked or IP not allowed)",
            source=SOURCE,
            url=url,
        )
    if status in UNAVAILABLE_STATUSES:
        return SourceUnavailable(text, source=SOURCE, url=url)
    return SourceError(text, source=SOURCE, url=url)


def parse_corp_codes(xml_bytes: bytes) -> list[dict[str, str | None]]:
    """Rows of CORPCODE.xml; a blank stock code (unlisted, sent as a single space) becomes ``None``."""
    root = ElementTree.fromstring(xml_bytes)
    rows: list[dict[str, str | None]] = []
    for item in root.iter("list"):
        row: dict[str, str | None] = {}
        for name in ("corp_code", "corp_name", "corp_eng_name", "stock_code", "modify_date"):
            text = item.findtext(name)
            row[name] = (text.strip() or None) if text is not None else None
        rows.append(row)
    return rows


class DailyRequestCounter:
    """Counts requests per calendar day in ``timezone`` and refuses the one beyond ``cap``.

    In-process only: two processes sharing a key each see their own count, so configure the cap with
    headroom when several workers fetch at once.

    Hand-written on purpose: OpenDART's budget resets at midnight in Seoul and the cap refuses a request rather
    than waiting for tomorrow. pyrate-limiter's windows either roll (a sliding 24 h, never a calendar day) or
    align to UTC epoch multiples, and its limiter waits; a rolling GCRA refills all day, so a day could see
    twice the cap. The request spacing, which has none of these quirks, is pyrate-limiter's (``RateLimiter``).
    """

    def __init__(self, cap: int, *, wall_clock: Callable[[], datetime] = utc_now, timezone: ZoneInfo = SEOUL):
        if cap < 1:
            raise ValueError("daily_request_cap must be at least 1")
        self.cap = cap
        self._wall_clock = wall_clock
        self._timezone = timezone
        self._lock = threading.Lock()
        self._day: date | None = None
        self._count = 0

    def today(self) -> date:
        return self._wall_clock().astimezone(self._timezone).date()

    def used(self) -> int:
        with self._lock:
            return self._count if self._day == self.today() else 0

    def take(self) -> None:
        """Count one request, or raise ``DailyCapReached`` without counting it."""
        with self._lock:
            day = self.today()
            if day != self._day:
                self._day, self._count = day, 0
            if self._count >= self.cap:
                raise DailyCapReached(
                    f"OpenDART daily request cap of {self.cap} reached for {day.isoformat()} (Asia/Seoul); "
                    "request not sent",
                    source=SOURCE,
                )
            self._count += 1


@dataclass(frozen=True)
class DartStatements:
    """Full statements of one report. ``fs_div`` is the basis actually returned (None when neither had data)."""

    corp_code: str
    bsns_year: str
    reprt_code: str
    fs_div: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rcept_no(self) -> str | None:
        """Receipt number of the filing; its first 8 digits are the filing date (the statement's t)."""
        return self.rows[0].get("rcept_no") if self.rows else None


class OpenDartClient(SourceClient):
    """OpenDART endpoints used by riskgraph; one instance per API key."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://opendart.fss.or.kr/api",
        daily_request_cap: int = DAILY_REQUEST_CAP,
        min_interval_seconds: float = MIN_INTERVAL_SECONDS,
        rate_limited_cooldown_seconds: float = 600.0,
        user_agent: str = "riskgraph/0.1",
        **transport: Unpack[Transport],
    ):
        self._api_key = required_api_key(
            api_key, "OpenDART needs an API key (crtfc_key, 40 characters) from opendart.fss.or.kr"
        )
        self._clock = transport.get("clock", time.monotonic)
        self.rate_limited_cooldown_seconds = rate_limited_cooldown_seconds
        self._blocked_until: float | None = None
        self.daily_counter = DailyRequestCounter(
            daily_request_cap, wall_clock=transport.get("wall_clock", utc_now)
        )
        self.http = source_http(
            source=SOURCE,
            rate=Rate(1, Duration.SECOND * min_interval_seconds),
            base_url=base_url,
            headers={"User-Agent": user_agent},
            secrets=(self._api_key,),
            before_send=self._before_send,
            **transport,
        )

    # -- endpoints
    def corp_codes(self) -> list[dict[str, str | None]]:
        """The DART code master (ZIP of CORPCODE.xml): corp_code, corp_name, corp_eng_name, stock_code, modify_date."""
        response = self.http.get("corpCode.xml", params=self._params(), sink_key="opendart/corpCode.zip")
        body = response.body
        if body[:2] != b"PK":
            # OpenDART answers a key error on its ZIP endpoints with an XML (or JSON) status body.
            status, message = _status_from_non_zip(body)
            if status is not None and status != STATUS_OK:
                raise dart_status_error(status, message, response.url)
            raise BadResponse(
                f"corpCode.xml: expected a ZIP, got {response.content_type or 'unknown'}: "
                f"{response.excerpt()!r}",
                source=SOURCE,
                url=response.url,
            )
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                member = next((n for n in archive.namelist() if n.lower().endswith("corpcode.xml")), None)
                if member is None:
                    raise BadResponse(
                        f"corpCode ZIP holds no CORPCODE.xml: {archive.namelist()}",
                        source=SOURCE,
                        url=response.url,
                    )
                xml_bytes = archive.read(member)
        except zipfile.BadZipFile as exc:
            raise BadResponse(f"corpCode ZIP is damaged: {exc}", source=SOURCE, url=response.url) from None
        try:
            return parse_corp_codes(xml_bytes)
        except ElementTree.ParseError as exc:
            raise BadResponse(
                f"CORPCODE.xml is not valid XML: {exc}", source=SOURCE, url=response.url
            ) from None

    def disclosures(
        self,
        corp_code: str,
        bgn_de: str,
        end_de: str,
        pblntf_ty: str | None = None,
        *,
        page_count: int = 100,
        max_pages: int = 1000,
    ) -> list[dict[str, Any]]:
        """Every ``list.json`` row for one company in [bgn_de, end_de] (YYYYMMDD), all pages, newest first.

        corp_code is required: an unfiltered list returns every filer in Korea. Rows are de-duplicated on
        ``rcept_no`` because a filing arriving mid-paging shifts the pages by one.
        """
        corp_code = _corp_code(corp_code)
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        page_no = 1
        while True:
            params = self._params(
                corp_code=corp_code,
                bgn_de=bgn_de,
                end_de=end_de,
                pblntf_ty=pblntf_ty,
                page_no=page_no,
                page_count=page_count,
            )
            key = f"opendart/list/{corp_code}_{bgn_de}_{end_de}_{pblntf_ty or 'all'}_p{page_no}.json"
            payload = self._json("list.json", params, key)
            if payload is None:
                return rows
            for row in payload.get("list") or []:
                if row.get("rcept_no") not in seen:
                    seen.add(row.get("rcept_no"))
                    rows.append(row)
            total_page = int(payload.get("total_page") or 1)
            if page_no >= total_page or page_no >= max_pages:
                return rows
            page_no += 1

    def company(self, corp_code: str) -> dict[str, Any] | None:
        """The company overview (corp_name, stock_code, induty_code, acc_mt ...); None when DART has none."""
        corp_code = _corp_code(corp_code)
        payload = self._json(
            "company.json", self._params(corp_code=corp_code), f"opendart/company/{corp_code}.json"
        )
        if payload is None:
            return None
        return {k: v for k, v in payload.items() if k not in ("status", "message")}

    def statements(self, corp_code: str, bsns_year: str | int, reprt_code: str) -> DartStatements:
        """Full statements (fnlttSinglAcntAll): consolidated (CFS) first, separate (OFS) when CFS is empty.

        A company without subsidiaries files no consolidated statements; DART then answers CFS with 013.
        """
        corp_code = _corp_code(corp_code)
        year = str(bsns_year)
        if reprt_code not in REPORT_CODES:
            raise ValueError(f"reprt_code must be one of {sorted(REPORT_CODES)}, got {reprt_code!r}")
        for fs_div in ("CFS", "OFS"):
            params = self._params(corp_code=corp_code, bsns_year=year, reprt_code=reprt_code, fs_div=fs_div)
            key = f"opendart/fnlttSinglAcntAll/{corp_code}_{year}_{reprt_code}_{fs_div}.json"
            payload = self._json("fnlttSinglAcntAll.json", params, key)
            if payload is not None and payload.get("list"):
                return DartStatements(corp_code, year, reprt_code, fs_div, list(payload["list"]))
        return DartStatements(corp_code, year, reprt_code, None, [])

    def major_events(self, endpoint: str, corp_code: str, bgn_de: str, end_de: str) -> list[dict[str, Any]]:
        """Rows of a DS005 distress-event endpoint (dfOcr, ctrcvsBgrq, bnkMngtPcbg) in [bgn_de, end_de]."""
        if endpoint not in MAJOR_EVENT_ENDPOINTS:
            raise ValueError(f"endpoint must be one of {sorted(MAJOR_EVENT_ENDPOINTS)}, got {endpoint!r}")
        corp_code = _corp_code(corp_code)
        params = self._params(corp_code=corp_code, bgn_de=bgn_de, end_de=end_de)
        payload = self._json(
            f"{endpoint}.json", params, f"opendart/{endpoint}/{corp_code}_{bgn_de}_{end_de}.json"
        )
        return list(payload.get("list") or []) if payload is not None else []

    def audit_opinion(
        self, corp_code: str, bsns_year: str | int, reprt_code: str = "11011"
    ) -> list[dict[str, Any]]:
        """Rows of accnutAdtorNmNdAdtOpinion (auditor and audit opinion, DS002): current, prior and earlier
        years of one periodic report (``bsns_year`` holds labels such as "제55기 (당기)"); [] for 013."""
        corp_code = _corp_code(corp_code)
        if reprt_code not in REPORT_CODES:
            raise ValueError(f"reprt_code must be one of {sorted(REPORT_CODES)}, got {reprt_code!r}")
        params = self._params(corp_code=corp_code, bsns_year=str(bsns_year), reprt_code=reprt_code)
        payload = self._json(
            "accnutAdtorNmNdAdtOpinion.json",
            params,
            f"opendart/accnutAdtorNmNdAdtOpinion/{corp_code}_{bsns_year}_{reprt_code}.json",
        )
        return list(payload.get("list") or []) if payload is not None else []

    # -- internals
    def _params(self, **params: Any) -> dict[str, Any]:
        return {"crtfc_key": self._api_key, **{k: v for k, v in params.items() if v is not None}}

    def _before_send(self) -> None:
        if self._blocked_until is not None and self._clock() < self._blocked_until:
            remaining = self._blocked_until - self._clock()
            raise RateLimited(
                f"OpenDART answered 020 (rate limited) recently; not sending for another {remaining:.0f}s",
                source=SOURCE,
                retry_after_seconds=remaining,
            )
        self.daily_counter.take()

    def _json(self, endpoint: str, params: dict[str, Any], sink_key: str) -> dict[str, Any] | None:
        """The payload for status 000, None for 013 (no data); raises for every other status."""
        response = self.http.get(endpoint, params=params, sink_key=sink_key)
        payload = self.http.decode_json(response)
        if not isinstance(payload, dict) or "status" not in payload:
            raise BadResponse(
                f"{endpoint}: no status in the body: {response.excerpt()!r}", source=SOURCE, url=response.url
            )
        status = str(payload["status"])
        if status == STATUS_OK:
            return payload
        if status == STATUS_NO_DATA:
            return None
        if status == STATUS_RATE_LIMITED:
            self._blocked_until = self._clock() + self.rate_limited_cooldown_seconds
        raise dart_status_error(status, str(payload.get("message", "")), response.url)


def _corp_code(corp_code: str) -> str:
    value = str(corp_code).strip()
    if len(value) != 8 or not value.isdigit():
        raise ValueError(f"corp_code must be DART's 8-digit code (not the 6-digit ticker), got {corp_code!r}")
    return value


def _status_from_non_zip(body: bytes) -> tuple[str | None, str]:
    """(status, message) from the XML or JSON status body DART sends instead of a ZIP."""
    text = body.strip()
    if text.startswith(b"<"):
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            return None, ""
        status = root.findtext("status") if root.tag != "status" else root.text
        return (status.strip() if status else None), (root.findtext("message") or "").strip()
    if text.startswith(b"{"):
        try:
            payload = json.loads(text)
        except ValueError:
            return None, ""
        if isinstance(payload, dict) and "status" in payload:
            return str(payload["status"]), str(payload.get("message", ""))
    return None, ""
