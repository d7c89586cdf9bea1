"""Shared HTTP plumbing for every external source: retries, rate limiting, raw capture, errors.

Why one module: each source (SEC, OpenDART, FRED, ECOS, Yahoo) needs the same behaviour -- back off on
429/5xx and honour ``Retry-After``, keep under the provider's rate limit even across threads, store the raw
body *before* parsing it (so a parser fix re-runs without re-fetching), and raise errors that never leak an
API key. Time is injected (``sleep``, ``clock``, ``wall_clock``) so tests run instantly yet can still assert
what the client asked to wait.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypedDict
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger("risk_assets.clients")

RawSink = Callable[[str, bytes, str], None]
"""Called as ``raw_sink(object_key, body_bytes, content_type)`` for every successful response."""

REDACTED = "***"
_SECRET_QUERY_NAMES = ("api_key", "crtfc_key", "apikey", "key", "token")
_SECRET_QUERY_RE = re.compile(r"(?i)\b(" + "|".join(_SECRET_QUERY_NAMES) + r")=([^&\s#\"']+)")
_EXCERPT_CHARS = 200


# --------------------------------------------------------------------------------------------- errors


class SourceError(Exception):
    """Base of every client error. Carries the (redacted) URL, HTTP status and a short message."""

    def __init__(self, message: str, *, source: str = "", url: str | None = None, status: int | None = None):
        self.message = message
        self.source = source
        self.url = url
        self.status = status
        parts = [f"[{source}]" if source else "", message]
        if status is not None:
            parts.append(f"(HTTP {status})")
        if url:
            parts.append(f"url={url}")
        super().__init__(" ".join(p for p in parts if p))


class NotFound(SourceError):
    """The resource does not exist (HTTP 404, an unknown series or symbol)."""


class RateLimited(SourceError):
    """The provider throttled us, or waiting as asked would exceed the configured cap."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after_seconds = retry_after_seconds


class DailyCapReached(RateLimited):
    """Refused locally, before sending: the configured daily request budget is spent."""


class SourceUnavailable(SourceError):
    """5xx or transport failure that persisted through all retries, or a provider in maintenance."""


class BadResponse(SourceError):
    """A body that cannot be what the endpoint promises: truncated, not JSON, HTML error page, bad ZIP."""


class AccessDenied(SourceError):
    """The key or identity was refused (HTTP 401/403, OpenDART 010/011/012, ECOS INFO-100)."""


# ----------------------------------------------------------------------------------------- redaction


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove secret values and ``api_key=``-style query values from a URL or message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_QUERY_RE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


class _RedactingLogFilter(logging.Filter):
    """Rewrites httpx's own "HTTP Request: GET <url>" log lines so no API key reaches a log handler."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = tuple(self._secrets)
        message = record.getMessage()
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_HTTPX_LOG_FILTER = _RedactingLogFilter()


def _guard_httpx_logs(secrets: Iterable[str]) -> None:
    _HTTPX_LOG_FILTER.add(secrets)
    httpx_logger = logging.getLogger("httpx")
    if _HTTPX_LOG_FILTER not in httpx_logger.filters:
        httpx_logger.addFilter(_HTTPX_LOG_FILTER)


# -------------------------------------------------------------------------------------- rate limiter


class RateLimiter:
    """Thread-safe token bucket (GCRA form): ``rate_per_second`` sustained, ``burst`` back-to-back.

    ``acquire`` reserves the next free slot under a lock and sleeps outside it, so concurrent callers get
    distinct, evenly spaced slots without serialising on the sleep. ``burst=1`` is a plain minimum interval.
    """

    def __init__(
        self,
        rate_per_second: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.interval = 1.0 / rate_per_second
        self._tolerance = (burst - 1) * self.interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat: float | None = None  # theoretical arrival time of the next request

    def reserve(self) -> float:
        """Book the next slot and return how long the caller must wait for it (seconds, >= 0)."""
        with self._lock:
            now = self._clock()
            tat = now if self._tat is None else max(self._tat, now)
            wait = max(0.0, tat - self._tolerance - now)
            self._tat = tat + self.interval
            return wait

    def acquire(self) -> float:
        """Wait for the next slot; returns the time waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


# ------------------------------------------------------------------------------------------ response


@dataclass(frozen=True)
class HttpResponse:
    """What a source parser needs from a response. ``url`` is already redacted."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    content_type: str = ""

    def excerpt(self, chars: int = _EXCERPT_CHARS) -> str:
        text = self.body[: chars * 4].decode("utf-8", errors="replace")
        text = " ".join(text.split())
        return text[:chars] + ("..." if len(text) > chars else "")


ErrorMapper = Callable[[HttpResponse], SourceError | None]


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; ``max_retries`` retries after the first attempt."""

    max_retries: int = 4
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0
    retry_statuses: frozenset[int] = field(
        default_factory=lambda: frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524})
    )

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (0-based): half fixed, half random ("equal jitter")."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * (2**attempt))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent/invalid."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def utc_now() -> datetime:
    """The default wall clock (timezone-aware UTC); injectable for tests."""
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------- client


class HttpClient:
    """A sync httpx client with retries, rate limiting, raw capture and redacted errors.

    ``get`` returns an :class:`HttpResponse` for any 2xx status after handing the body to ``raw_sink``
    (the body as received after transfer decoding: a gzip ``Content-Encoding`` is already undone; an
    exception from the sink propagates, because "stored before parsed" is the contract);
    ``get_json`` additionally decodes JSON (``BadResponse`` if it cannot). Non-retryable error statuses go
    through ``error_mapper`` first (a source-specific reading of the error body), then a default mapping:
    404/410 -> NotFound, 401/403 -> AccessDenied, 429 -> RateLimited, 5xx -> SourceUnavailable, other
    -> SourceError. ``before_send`` runs before every attempt (retries included): OpenDART's daily cap uses
    it to refuse a request before it is sent.
    """

    def __init__(
        self,
        *,
        source: str,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        raw_sink: RawSink | None = None,
        secrets: Iterable[str] = (),
        error_mapper: ErrorMapper | None = None,
        before_send: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.rate_limiter = rate_limiter
        self.raw_sink = raw_sink
        self._secrets = tuple(s for s in secrets if s)
        _guard_httpx_logs(self._secrets)
        self._error_mapper = error_mapper
        self._before_send = before_send
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self._client = httpx.Client(
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            transport=transport,
        )

    # -- lifecycle
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers
    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def url_for(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _error(
        self, cls: type[SourceError], message: str, url: str, status: int | None = None, **extra: Any
    ) -> SourceError:
        return cls(self.redact(message), source=self.source, url=url, status=status, **extra)

    # -- requests
    def get(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        sink_key: str | None = None,
    ) -> HttpResponse:
        """GET with retries; the raw body goes to ``raw_sink`` (under ``sink_key``) before it is returned."""
        url = self.url_for(path_or_url)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        shown_url = self.redact(str(httpx.URL(url, params=query)))
        attempt = 0
        while True:
            if self._before_send is not None:
                self._before_send()
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            try:
                response = self._client.get(url, params=query, headers=headers)
            except httpx.TransportError as exc:
                failure = self._transport_failure(exc, shown_url)
                if attempt >= self.retry.max_retries:
                    raise failure from None
                self._wait(self.retry.backoff(attempt, self._rng), attempt, shown_url, type(exc).__name__)
                attempt += 1
                continue

            status = response.status_code
            if 200 <= status < 300:
                return self._deliver(response, shown_url, sink_key)

            result = HttpResponse(
                status,
                response.headers,
                response.content,
                shown_url,
                response.headers.get("content-type", ""),
            )
            if status in self.retry.retry_statuses and attempt < self.retry.max_retries:
                delay = self._retry_delay(result, attempt)
                self._wait(delay, attempt, shown_url, f"HTTP {status}")
                attempt += 1
                continue
            raise self._status_failure(result) from None

    def get_json(self, path_or_url: str, **kwargs: Any) -> Any:
        """``get`` and decode JSON; ``BadResponse`` for an HTML page, a truncated or otherwise invalid body."""
        return self.decode_json(self.get(path_or_url, **kwargs))

    def decode_json(self, response: HttpResponse) -> Any:
        content_type = response.content_type.lower()
        if "html" in content_type or response.body.lstrip()[:1] == b"<":
            raise self._error(
                BadResponse,
                f"expected JSON, got {content_type or 'no content type'}: {response.excerpt()!r}",
                response.url,
                response.status,
            )
        try:
            return json.loads(response.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._error(
                BadResponse,
                f"truncated or invalid JSON ({len(response.body)} bytes): {exc}",
                response.url,
                response.status,
            ) from None

    # -- internals
    def _deliver(self, response: httpx.Response, shown_url: str, sink_key: str | None) -> HttpResponse:
        body = response.content
        content_type = response.headers.get("content-type", "")
        if self.raw_sink is not None:
            self.raw_sink(sink_key or self._default_key(shown_url), body, content_type)
        return HttpResponse(response.status_code, response.headers, body, shown_url, content_type)

    def _default_key(self, shown_url: str) -> str:
        parts = urlsplit(shown_url)
        key = f"{self.source}{parts.path}"
        if parts.query:
            key += "?" + parts.query
        return key

    def _retry_delay(self, response: HttpResponse, attempt: int) -> float:
        retry_after = parse_retry_after(response.headers.get("retry-after"), self._wall_clock())
        if retry_after is None:
            return self.retry.backoff(attempt, self._rng)
        if retry_after > self.retry.max_retry_after_seconds:
            # Waiting longer than we are willing to would block a worker: hand the decision back.
            raise self._error(
                RateLimited,
                f"server asked to wait {retry_after:.0f}s (cap {self.retry.max_retry_after_seconds:.0f}s)",
                response.url,
                response.status,
                retry_after_seconds=retry_after,
            )
        return retry_after

    def _wait(self, seconds: float, attempt: int, shown_url: str, reason: str) -> None:
        logger.warning(
            "%s: %s on %s; retry %d/%d in %.2fs",
            self.source,
            reason,
            shown_url,
            attempt + 1,
            self.retry.max_retries,
            seconds,
        )
        if seconds > 0:
            self._sleep(seconds)

    def _transport_failure(self, exc: httpx.TransportError, shown_url: str) -> SourceError:
        detail = self.redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, httpx.RemoteProtocolError):
            return self._error(BadResponse, f"truncated or malformed response: {detail}", shown_url)
        return self._error(SourceUnavailable, f"transport error: {detail}", shown_url)

    def _status_failure(self, response: HttpResponse) -> SourceError:
        if self._error_mapper is not None:
            mapped = self._error_mapper(response)
            if mapped is not None:
                return mapped
        status = response.status
        excerpt = response.excerpt()
        if status in (404, 410):
            return self._error(NotFound, f"not found: {excerpt!r}", response.url, status)
        if status in (401, 403):
            return self._error(AccessDenied, f"access denied: {excerpt!r}", response.url, status)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._wall_clock())
            return self._error(
                RateLimited,
                "still rate limited after retries",
                response.url,
                status,
                retry_after_seconds=retry_after,
            )
        if status >= 500:
            return self._error(
                SourceUnavailable, f"server error after retries: {excerpt!r}", response.url, status
            )
        return self._error(SourceError, f"request failed: {excerpt!r}", response.url, status)


class Transport(TypedDict, total=False):
    """What every source client hands its HTTP client unchanged: timeout, retries, the raw sink, and the clocks and
    random source (tests inject fake ones). A client's own arguments (key, base URL, rate) come first."""

    timeout: float
    max_retries: int
    max_retry_after_seconds: float
    raw_sink: RawSink | None
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    wall_clock: Callable[[], datetime]
    rng: random.Random | None


def source_http(
    *,
    source: str,
    rate_per_second: float,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    error_mapper: ErrorMapper | None = None,
    before_send: Callable[[], None] | None = None,
    timeout: float = 60.0,
    max_retries: int = 4,
    max_retry_after_seconds: float = 120.0,
    raw_sink: RawSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
) -> HttpClient:
    """The HttpClient of a source client: its rate as a token bucket on ``clock``, retries with backoff, its
    secrets redacted from every error."""
    return HttpClient(
        source=source,
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        retry=RetryPolicy(max_retries=max_retries, max_retry_after_seconds=max_retry_after_seconds),
        rate_limiter=RateLimiter(rate_per_second, clock=clock, sleep=sleep),
        raw_sink=raw_sink,
        secrets=secrets,
        error_mapper=error_mapper,
        before_send=before_send,
        sleep=sleep,
        wall_clock=wall_clock,
        rng=rng,
    )
