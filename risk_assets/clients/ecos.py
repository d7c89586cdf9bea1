"""Bank of Korea ECOS client: StatisticSearch time series.

ECOS puts everything in the path (the API key too, so it is redacted from every message) and pages by
row numbers. Errors and "no data" come back as HTTP 200 with ``{"RESULT": {"CODE", "MESSAGE"}}``:
``INFO-200`` means no data and is an empty result. The payload has no release date, so ``released_at`` is
the observation date (the period's first day, FRED's convention) plus a publication lag configured per
series; rows say so in ``release_basis``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Unpack
from urllib.parse import quote

from pyrate_limiter import Duration, Rate

from risk_assets.clients.http import (
    AccessDenied,
    BadResponse,
    SourceClient,
    SourceError,
    Transport,
    required_api_key,
    source_http,
)

SOURCE = "ecos"
#: ECOS publishes no rate; two a second is polite.
MAX_REQUESTS_PER_SECOND = 2.0
NO_DATA = "INFO-200"
INVALID_KEY = "INFO-100"
CYCLES = frozenset({"A", "S", "Q", "M", "SM", "D"})
RELEASE_BASIS_LAG = "publication_lag"


def period_start(time_text: str, cycle: str) -> date:
    """First day of an ECOS ``TIME`` value: A 2023, S 2023S1, Q 2023Q1, M 202301, SM 202301S1, D 20230105."""
    text = time_text.strip()
    year = int(text[:4])
    if cycle == "A":
        return date(year, 1, 1)
    if cycle == "S":
        return date(year, 1 if text[5:] == "1" else 7, 1)
    if cycle == "Q":
        return date(year, 3 * (int(text[5:]) - 1) + 1, 1)
    if cycle == "M":
        return date(year, int(text[4:6]), 1)
    if cycle == "SM":  # half-month; the "S1"/"S2" suffix is our reading of the docs (unverified)
        return date(year, int(text[4:6]), 16 if text.endswith("2") else 1)
    if cycle == "D":
        return date(year, int(text[4:6]), int(text[6:8]))
    raise ValueError(f"unknown ECOS cycle {cycle!r}")


def result_error(result: Mapping[str, Any], url: str | None = None) -> SourceError | None:
    """None for INFO-200 (no data); otherwise the exception for an ECOS ``RESULT`` envelope."""
    code = str(result.get("CODE", "")).strip()
    message = f"ECOS {code}: {result.get('MESSAGE', '')}"
    if code == NO_DATA:
        return None
    if code == INVALID_KEY:
        return AccessDenied(message + " (check the ECOS API key)", source=SOURCE, url=url)
    return SourceError(message, source=SOURCE, url=url)


def parse_statistic_search(
    payload: Mapping[str, Any], publication_lag_days: int | None = None, cycle: str | None = None
) -> list[dict[str, Any]]:
    """Rows of a StatisticSearch payload; ``[]`` for INFO-200, an exception for any other RESULT code.

    Each row: stat_code, stat_name, item_code1..4, item_name1..4, unit, time, cycle, observation_date,
    value (float, None when blank), released_at (observation_date + lag, None without a lag), release_basis.
    ``cycle`` is needed to turn ``TIME`` into a date; without it it is guessed from the TIME format.
    """
    if "StatisticSearch" not in payload:
        result = payload.get("RESULT")
        if isinstance(result, Mapping):
            error = result_error(result)
            if error is None:
                return []
            raise error
        raise BadResponse("ECOS payload has neither StatisticSearch nor RESULT", source=SOURCE)
    rows: list[dict[str, Any]] = []
    for row in payload["StatisticSearch"].get("row") or []:
        time_text = str(row.get("TIME", ""))
        row_cycle = cycle or _guess_cycle(time_text)
        observed = period_start(time_text, row_cycle)
        raw = str(row.get("DATA_VALUE") or "").strip().replace(",", "")
        parsed = {
            "stat_code": row.get("STAT_CODE"),
            "stat_name": row.get("STAT_NAME"),
            **{f"item_code{i}": row.get(f"ITEM_CODE{i}") for i in range(1, 5)},
            **{f"item_name{i}": row.get(f"ITEM_NAME{i}") for i in range(1, 5)},
            "unit": row.get("UNIT_NAME"),
            "time": time_text,
            "cycle": row_cycle,
            "observation_date": observed,
            "value": float(raw) if raw else None,
            "released_at": observed + timedelta(days=publication_lag_days)
            if publication_lag_days is not None
            else None,
            "release_basis": RELEASE_BASIS_LAG if publication_lag_days is not None else None,
        }
        rows.append(parsed)
    return rows


def _guess_cycle(time_text: str) -> str:
    text = time_text.strip()
    if len(text) == 4:
        return "A"
    if len(text) == 6 and text[4] in "SQ":
        return text[4]
    if len(text) == 6:
        return "M"
    if len(text) == 8 and text[6] == "S":
        return "SM"
    if len(text) == 8:
        return "D"
    raise ValueError(f"cannot tell the cycle of ECOS TIME {time_text!r}")


class EcosClient(SourceClient):
    """``statistic_search(stat_code, cycle, start, end, item_codes)`` with row paging."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://ecos.bok.or.kr/api",
        publication_lag_days: dict[str, int] | None = None,
        language: str = "kr",
        page_size: int = 1000,
        max_requests_per_second: float = MAX_REQUESTS_PER_SECOND,
        user_agent: str = "riskgraph/0.1",
        **transport: Unpack[Transport],
    ):
        self._api_key = required_api_key(api_key, "ECOS needs an API key from ecos.bok.or.kr")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.publication_lag_days = dict(publication_lag_days or {})
        self.language = language
        self.page_size = page_size
        self.http = source_http(
            source=SOURCE,
            rate=Rate(max_requests_per_second, Duration.SECOND, burst=1),
            base_url=base_url,
            headers={"User-Agent": user_agent},
            secrets=(self._api_key, quote(self._api_key, safe="")),
            **transport,
        )

    def lag_for(self, stat_code: str, item_codes: Sequence[str] = ()) -> int | None:
        """Configured lag: ``"STAT/ITEM1"`` first, then ``"STAT"``."""
        if item_codes:
            specific = self.publication_lag_days.get(f"{stat_code}/{item_codes[0]}")
            if specific is not None:
                return specific
        return self.publication_lag_days.get(stat_code)

    def statistic_search(
        self,
        stat_code: str,
        cycle: str,
        start: str,
        end: str,
        item_codes: Sequence[str] = (),
        *,
        max_pages: int = 1000,
    ) -> list[dict[str, Any]]:
        """Every row of one series between ``start`` and ``end`` (in the cycle's TIME format).

        Refuses without a configured publication lag, because the rows would carry no release date.
        """
        if cycle not in CYCLES:
            raise ValueError(f"cycle must be one of {sorted(CYCLES)}, got {cycle!r}")
        lag = self.lag_for(stat_code, item_codes)
        if lag is None:
            raise ValueError(
                f"ECOS {stat_code}: no release date in the payload; configure "
                f"publication_lag_days[{stat_code!r}] (or '{stat_code}/ITEM')"
            )
        tail = "/".join(quote(part, safe="") for part in (stat_code, cycle, start, end, *item_codes))
        rows: list[dict[str, Any]] = []
        start_row = 1
        for _ in range(max_pages):
            end_row = start_row + self.page_size - 1
            path = f"StatisticSearch/{quote(self._api_key, safe='')}/json/{self.language}/{start_row}/{end_row}/{tail}"
            key = (
                f"ecos/StatisticSearch/{'_'.join((stat_code, cycle, start, end, *item_codes))}"
                f"_{start_row}-{end_row}.json"
            )
            payload = self.http.get_json(path, sink_key=key)
            if not isinstance(payload, dict):
                raise BadResponse("ECOS payload is not an object", source=SOURCE)
            if "StatisticSearch" not in payload and isinstance(payload.get("RESULT"), Mapping):
                error = result_error(payload["RESULT"], self.http.redact(self.http.url_for(path)))
                if error is not None:
                    raise error
                return rows
            page = parse_statistic_search(payload, lag, cycle)
            rows.extend(page)
            total = int(payload["StatisticSearch"].get("list_total_count") or 0)
            if not page or end_row >= total:
                return rows
            start_row = end_row + 1
        return rows
