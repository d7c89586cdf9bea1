"""FRED (St. Louis Fed) client: series observations stamped with the date they became public.

The point-in-time trap: a default FRED request stamps every observation with *today's* ``realtime_start``,
which says nothing about when the value was published. So by default this client asks ALFRED for initial
releases only (``output_type=4`` with ``realtime_start=1776-07-04``): each observation then carries the
date of its first release, and ``released_at`` is that date. When the latest revised values are wanted
instead, ``released_at`` is ``observation_date`` (FRED's period start) plus a configured publication lag
per series, and each row says which basis it used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Unpack

from pyrate_limiter import Duration, Rate

from risk_assets.clients.http import (
    AccessDenied,
    BadResponse,
    HttpResponse,
    NotFound,
    SourceClient,
    SourceError,
    Transport,
    required_api_key,
    source_http,
)

SOURCE = "fred"
#: FRED allows 120 requests a minute per key; 100 leaves a margin.
MAX_REQUESTS_PER_MINUTE = 100.0
FIRST_RELEASE_OUTPUT_TYPE = 4
FIRST_RELEASE_REALTIME_START = "1776-07-04"  # FRED's documented "beginning of time" for vintages
MAX_LIMIT = 100000
RELEASE_BASIS_FIRST_RELEASE = "first_release"
RELEASE_BASIS_LAG = "publication_lag"


def parse_observations(
    payload: Mapping[str, Any], series_id: str, publication_lag_days: int | None = None
) -> list[dict[str, Any]]:
    """Rows ``series_id, observation_date, value, released_at, release_basis`` from an observations payload.

    For an initial-release payload (``output_type`` 4) ``released_at`` is the observation's own
    ``realtime_start``. Otherwise the payload's realtime stamps are the request date, not a release date,
    so ``released_at`` is ``observation_date + publication_lag_days`` (None when no lag is given). A value
    of ``"."`` (FRED's missing marker) becomes None.
    """
    first_release = int(payload.get("output_type") or 1) == FIRST_RELEASE_OUTPUT_TYPE
    rows: list[dict[str, Any]] = []
    for obs in payload.get("observations") or []:
        observed = date.fromisoformat(obs["date"])
        raw = str(obs.get("value", ".")).strip()
        value = None if raw in (".", "") else float(raw)
        if first_release:
            released, basis = date.fromisoformat(obs["realtime_start"]), RELEASE_BASIS_FIRST_RELEASE
        elif publication_lag_days is not None:
            released, basis = observed + timedelta(days=publication_lag_days), RELEASE_BASIS_LAG
        else:
            released, basis = None, None
        rows.append(
            {
                "series_id": series_id,
                "observation_date": observed,
                "value": value,
                "released_at": released,
                "release_basis": basis,
            }
        )
    return rows


def _fred_error(response: HttpResponse) -> SourceError | None:
    """FRED errors are HTTP 400 with ``{"error_code": 400, "error_message": "..."}``."""
    try:
        payload = json.loads(response.body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or "error_message" not in payload:
        return None
    message = f"FRED error {payload.get('error_code', response.status)}: {payload['error_message']}"
    lowered = message.lower()
    if "does not exist" in lowered:
        return NotFound(message, source=SOURCE, url=response.url, status=response.status)
    if "api_key" in lowered:
        return AccessDenied(message, source=SOURCE, url=response.url, status=response.status)
    return SourceError(message, source=SOURCE, url=response.url, status=response.status)


class FredClient(SourceClient):
    """``observations(series_id)``: first releases by default, paged with ``offset`` when count > limit."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.stlouisfed.org/fred",
        publication_lag_days: dict[str, int] | None = None,
        max_requests_per_minute: float = MAX_REQUESTS_PER_MINUTE,
        page_limit: int = MAX_LIMIT,
        user_agent: str = "riskgraph/0.1",
        **transport: Unpack[Transport],
    ):
        self._api_key = required_api_key(
            api_key, "FRED needs an API key (32 lowercase alphanumerics) from fred.stlouisfed.org"
        )
        if not 1 <= page_limit <= MAX_LIMIT:
            raise ValueError(f"page_limit must be within 1..{MAX_LIMIT}")
        self.publication_lag_days = dict(publication_lag_days or {})
        self.page_limit = page_limit
        self.http = source_http(
            source=SOURCE,
            rate=Rate(max_requests_per_minute, Duration.MINUTE, burst=1),
            base_url=base_url,
            headers={"User-Agent": user_agent},
            secrets=(self._api_key,),
            error_mapper=_fred_error,
            **transport,
        )

    def observations(
        self,
        series_id: str,
        first_release_only: bool = True,
        *,
        observation_start: str | None = None,
        observation_end: str | None = None,
    ) -> list[dict[str, Any]]:
        """Parsed rows (see :func:`parse_observations`) for one series, every page.

        ``first_release_only=False`` returns the latest revised values and needs a publication lag for
        the series (constructor ``publication_lag_days``); without one it refuses rather than guess.
        """
        lag = self.publication_lag_days.get(series_id)
        if not first_release_only and lag is None:
            raise ValueError(
                f"FRED {series_id}: latest-vintage values carry no release date; configure "
                f"publication_lag_days[{series_id!r}] or use first_release_only=True"
            )
        payload = self.observations_payload(
            series_id,
            first_release_only,
            observation_start=observation_start,
            observation_end=observation_end,
        )
        return parse_observations(payload, series_id, lag)

    def observations_payload(
        self,
        series_id: str,
        first_release_only: bool = True,
        *,
        observation_start: str | None = None,
        observation_end: str | None = None,
    ) -> dict[str, Any]:
        """The raw observations payload with every page's observations concatenated into the first page."""
        base = {
            "series_id": series_id,
            "api_key": self._api_key,
            "file_type": "json",
            "observation_start": observation_start,
            "observation_end": observation_end,
            "limit": self.page_limit,
        }
        if first_release_only:
            base |= {"output_type": FIRST_RELEASE_OUTPUT_TYPE, "realtime_start": FIRST_RELEASE_REALTIME_START}
        mode = "first_release" if first_release_only else "latest"
        merged: dict[str, Any] | None = None
        offset = 0
        while True:
            key = (
                f"fred/observations/{series_id}_{mode}_{observation_start or 'all'}_{observation_end or 'all'}"
                f"_o{offset}.json"
            )
            page = self.http.get_json("series/observations", params={**base, "offset": offset}, sink_key=key)
            if not isinstance(page, dict) or "observations" not in page:
                raise BadResponse(f"{series_id}: no observations in the body", source=SOURCE)
            observations = list(page["observations"])
            if merged is None:
                merged = {**page, "observations": observations}
            else:
                merged["observations"].extend(observations)
            offset += len(observations)
            if not observations or offset >= int(page.get("count") or 0):
                merged["offset"] = 0
                return merged
