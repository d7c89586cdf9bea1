"""SEC EDGAR client: ticker map, filing index (with its older pages merged) and XBRL company facts.

SEC's fair-access rules are why this client is strict: it refuses to run without a descriptive
User-Agent (name + contact e-mail) and spaces requests to at most ``max_requests_per_second`` (SEC's ceiling
is 10/s across all of sec.gov, so one limiter covers both hosts). An unknown CIK is an HTTP 404 with an
S3-style XML body, mapped to ``NotFound``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Unpack

from pyrate_limiter import Duration, Rate

from risk_assets.clients.http import (
    AccessDenied,
    BadResponse,
    HttpResponse,
    SourceClient,
    SourceError,
    Transport,
    source_http,
)

SOURCE = "sec"
#: SEC's ceiling is 10 requests a second per user; 9 leaves room for clock jitter between processes.
MAX_REQUESTS_PER_SECOND = 9.0


def cik10(cik: int | str) -> str:
    """Zero-padded 10-digit CIK from ``320193``, ``"320193"``, ``"0000320193"`` or ``"CIK0000320193"``."""
    text = str(cik).strip().upper().removeprefix("CIK")
    if not text.isdigit() or len(text) > 10 or int(text) == 0:
        raise ValueError(f"not a CIK: {cik!r}")
    return text.zfill(10)


def validate_user_agent(user_agent: str) -> str:
    """SEC blocks undeclared tools: require a name and a contact e-mail, e.g. ``"riskgraph ops@example.com"``."""
    value = (user_agent or "").strip()
    if not value:
        raise ValueError(
            "SEC EDGAR requires a descriptive User-Agent with a contact e-mail, e.g. "
            "'riskgraph ops@example.com' (set it in the SEC resource configuration)"
        )
    if "@" not in value:
        raise ValueError(
            f"SEC EDGAR User-Agent {value!r} has no contact e-mail; SEC asks for 'Company Name admin@domain'"
        )
    return value


def merge_submission_pages(first: Mapping[str, Any], pages: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Append the columnar arrays of ``filings.files[]`` pages to ``filings.recent``.

    Pages carry the arrays at their top level. Arrays stay aligned: a column missing from one side is
    padded with ``None``. The merged result has ``filings.files == []`` because nothing is left to fetch.
    """
    merged = dict(first)
    filings = dict(merged.get("filings") or {})
    recent = {key: list(values) for key, values in (filings.get("recent") or {}).items()}
    rows = max((len(v) for v in recent.values()), default=0)
    for page in pages:
        page_rows = max((len(v) for v in page.values() if isinstance(v, list)), default=0)
        for key in set(recent) | {k for k, v in page.items() if isinstance(v, list)}:
            column = recent.setdefault(key, [None] * rows)
            values = page.get(key)
            column.extend(values if isinstance(values, list) else [None] * page_rows)
        rows += page_rows
    filings["recent"] = recent
    filings["files"] = []
    merged["filings"] = filings
    return merged


def _sec_error(response: HttpResponse) -> SourceError | None:
    if response.status == 403:
        return AccessDenied(
            "SEC refused the request: check the User-Agent (name + e-mail) and the request rate "
            f"(<= 10/s); body: {response.excerpt()!r}",
            source=SOURCE,
            url=response.url,
            status=403,
        )
    return None


class SecEdgarClient(SourceClient):
    """company_tickers(), submissions(cik) and companyfacts(cik) from data.sec.gov / www.sec.gov."""

    def __init__(
        self,
        *,
        user_agent: str,
        base_url_data: str = "https://data.sec.gov",
        base_url_www: str = "https://www.sec.gov",
        max_requests_per_second: float = MAX_REQUESTS_PER_SECOND,
        **transport: Unpack[Transport],
    ):
        self.user_agent = validate_user_agent(user_agent)
        self.base_url_data = base_url_data.rstrip("/")
        self.base_url_www = base_url_www.rstrip("/")
        self.http = source_http(
            source=SOURCE,
            rate=Rate(max_requests_per_second, Duration.SECOND, burst=1),
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
            error_mapper=_sec_error,
            **transport,
        )

    def company_tickers(self) -> list[dict[str, Any]]:
        """Ticker -> CIK map as rows ``{"cik": int, "ticker": str, "title": str}`` in the file's order."""
        payload = self.http.get_json(
            f"{self.base_url_www}/files/company_tickers.json", sink_key="sec/company_tickers.json"
        )
        if not isinstance(payload, dict):
            raise BadResponse("company_tickers.json is not an object", source=SOURCE)
        return [
            {"cik": int(entry["cik_str"]), "ticker": entry["ticker"], "title": entry["title"]}
            for entry in payload.values()
        ]

    def submissions(self, cik: int | str, *, include_older_pages: bool = True) -> dict[str, Any]:
        """Filer metadata and the full filing index: ``filings.recent`` plus every ``filings.files[]`` page.

        ``include_older_pages=False`` returns the first response as is (about the latest 1,000 filings, with
        ``filings.files`` untouched): enough for a sensor that only looks for new filings.
        """
        name = f"CIK{cik10(cik)}.json"
        first = self._data_json(f"submissions/{name}")
        if not include_older_pages:
            return first
        files = ((first.get("filings") or {}).get("files")) or []
        pages = [self._data_json(f"submissions/{entry['name']}") for entry in files]
        return merge_submission_pages(first, pages)

    def companyfacts(self, cik: int | str) -> dict[str, Any]:
        """All XBRL facts of one filer (several MB for a large company)."""
        return self._data_json(f"api/xbrl/companyfacts/CIK{cik10(cik)}.json")

    def _data_json(self, path: str) -> dict[str, Any]:
        # Raw objects are keyed like the SEC path's last two parts: sec/submissions/..., sec/companyfacts/...
        folder, name = path.split("/")[-2:]
        payload = self.http.get_json(f"{self.base_url_data}/{path}", sink_key=f"sec/{folder}/{name}")
        if not isinstance(payload, dict):
            raise BadResponse(f"{path}: expected a JSON object", source=SOURCE)
        return payload
