"""Shared HTTP plumbing for every external source: retries, rate limiting, raw capture, errors.

Why one module: each source (SEC, OpenDART, FRED, ECOS, Yahoo) needs the same behaviour -- back off on
429/5xx and honour ``Retry-After``, keep under the provider's rate limit even across threads, store the raw
body *before* parsing it (so a parser fix re-runs without re-fetching), and raise errors that never leak an
API key. The generic parts come from libraries: tenacity runs the retry loop (stop, exponential backoff with
jitter, which outcomes to retry), pyrate-limiter's GCRA bucket does the rate arithmetic. What stays here is
what is ours: the Retry-After reading and its cap, the error types and their mapping, redaction, the raw
sink. Time is injected (``sleep``, ``clock``, ``wall_clock``) so tests run instantly yet can still assert
what the client asked to wait.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self, TypedDict
from urllib.parse import urlsplit

import httpx
from pyrate_limiter import GCRA, AbstractClock, Rate, RateItem, StateBucket
from tenacity import (
    Future,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base

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


class _MillisecondClock(AbstractClock):
    """An injectable clock in seconds, read the way pyrate-limiter counts time: whole milliseconds, rounded
    down (so a slot is never granted early) except for float noise below a nanosecond (0.3 s read as 0.29999...
    is still 300 ms)."""

    def __init__(self, seconds: Callable[[], float]):
        self._seconds = seconds

    def now(self) -> int:
        return math.floor(self._seconds() * 1000 + 1e-6)


class RateLimiter:
    """Thread-safe request spacing: pyrate-limiter's GCRA bucket, waited on with an injectable ``sleep``.

    ``Rate(9, Duration.SECOND, burst=1)`` spaces requests evenly (1/9 s apart); a larger ``burst`` lets that
    many go back to back. pyrate-limiter's own ``Limiter`` would block in ``time.sleep`` and start a leak
    thread per limiter; driving its bucket directly keeps the wait on ``sleep`` (tests run on fake time) and
    needs no thread (GCRA keeps one number per rate, nothing to leak). It counts whole milliseconds and rounds
    waits up, so a limit is never exceeded (9/s becomes 112 ms apart).
    """

    def __init__(
        self,
        rate: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.bucket = StateBucket([rate], algorithm=GCRA(), clock=_MillisecondClock(clock))
        self._sleep = sleep
        # put() and the wait it records are two steps on the bucket: one lock keeps another thread's verdict
        # from landing between them (pyrate-limiter's Limiter holds its own lock the same way).
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a free slot; returns the time on ``clock`` (seconds) at which it was granted."""
        while True:
            with self._lock:
                request = RateItem("request", self.bucket.now())
                decision = self.bucket.put_decision(request)
            if decision.allowed:
                return request.timestamp / 1000
            self._sleep((decision.retry_after_ms or 1) / 1000)


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

TRANSIENT_TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,  # connect, read, write and pool timeouts
    httpx.NetworkError,  # connection refused or reset, read or write failed
    httpx.RemoteProtocolError,  # the server cut the transfer short or answered garbage
)
"""Transport failures worth another attempt. The rest (an unsupported scheme, a proxy refusal, a malformed
request) would fail the same way again. Every request is a GET, so repeating one is always safe."""


@dataclass
class RetryPolicy:
    """Which failures are retried and how long to wait: ``max_retries`` retries after the first attempt."""

    max_retries: int = 4
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0
    retry_statuses: frozenset[int] = field(
        default_factory=lambda: frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524})
    )

    def backoff(self) -> wait_base:
        """Before retry n (0-based) the ceiling is ``base * 2**n`` (at most ``backoff_max_seconds``); half of it
        is waited for sure, half is drawn at random ("equal jitter": never a thundering herd, never zero)."""
        half = {"multiplier": self.backoff_base_seconds / 2, "max": self.backoff_max_seconds / 2}
        return wait_exponential(**half) + wait_random_exponential(**half)


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


def _attempts(count: int) -> str:
    return f"{count} attempt" + ("" if count == 1 else "s")


def _outcome(state: RetryCallState) -> Future:
    """The finished attempt tenacity hands its wait, log and give-up hooks (always set by then)."""
    assert state.outcome is not None
    return state.outcome


def _last_outcome(state: RetryCallState) -> Any:
    """Out of attempts: the last response, or the last transport error raised again, for ``get`` to map."""
    return _outcome(state).result()


# ------------------------------------------------------------------------------------------- client


class _ClosedOnExit:
    """``with`` support for a client: the end of the block calls its ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpClient(_ClosedOnExit):
    """A sync httpx client with retries, rate limiting, raw capture and redacted errors.

    ``get`` returns an :class:`HttpResponse` for any 2xx status after handing the body to ``raw_sink``
    (the body as received after transfer decoding: a gzip ``Content-Encoding`` is already undone; an
    exception from the sink propagates, because "stored before parsed" is the contract);
    ``get_json`` additionally decodes JSON (``BadResponse`` if it cannot). A status in the policy's
    ``retry_statuses`` and a transient transport failure are retried, waiting as ``Retry-After`` asks (a
    longer wait than ``max_retry_after_seconds`` is not waited: ``RateLimited`` at once) or else by backoff.
    An error status that is final goes through ``error_mapper`` first (a source-specific reading of the
    error body), then a default mapping: 404/410 -> NotFound, 401/403 -> AccessDenied, 429 -> RateLimited,
    5xx -> SourceUnavailable, other -> SourceError. ``before_send`` runs before every attempt (retries
    included): OpenDART's daily cap uses it to refuse a request before it is sent.
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
        transport: httpx.BaseTransport | None = None,
    ):
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._backoff = self.retry.backoff()
        self.rate_limiter = rate_limiter
        self.raw_sink = raw_sink
        self._secrets = tuple(s for s in secrets if s)
        _guard_httpx_logs(self._secrets)
        self._error_mapper = error_mapper
        self._before_send = before_send
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._client = httpx.Client(
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            transport=transport,
        )

    # -- lifecycle (a ``with`` block closes it: _ClosedOnExit)
    def close(self) -> None:
        self._client.close()

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
        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT_TRANSPORT_ERRORS) | retry_if_result(self._worth_retrying),
            stop=stop_after_attempt(self.retry.max_retries + 1),
            wait=self._delay,
            sleep=self._pause,
            before_sleep=lambda state: self._log_retry(state, shown_url),
            retry_error_callback=_last_outcome,
        )
        try:
            response = retrying(self._attempt, url, query, headers, shown_url)
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, shown_url, retrying.statistics["attempt_number"]) from None
        if 200 <= response.status < 300:
            if self.raw_sink is not None:
                self.raw_sink(sink_key or self._default_key(shown_url), response.body, response.content_type)
            return response
        raise self._status_failure(response, retrying.statistics["attempt_number"])

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
    def _attempt(
        self, url: str, query: Mapping[str, Any], headers: Mapping[str, str] | None, shown_url: str
    ) -> HttpResponse:
        """One try: the daily-cap hook, a rate-limit slot, the request (its body read in full)."""
        if self._before_send is not None:
            self._before_send()
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        response = self._client.get(url, params=query, headers=headers)
        content_type = response.headers.get("content-type", "")
        return HttpResponse(response.status_code, response.headers, response.content, shown_url, content_type)

    def _retry_after(self, response: HttpResponse) -> float | None:
        return parse_retry_after(response.headers.get("retry-after"), self._wall_clock())

    def _worth_retrying(self, response: HttpResponse) -> bool:
        """A retryable status, unless the server asks for a longer wait than we are willing to block a worker."""
        if response.status not in self.retry.retry_statuses:
            return False
        retry_after = self._retry_after(response)
        return retry_after is None or retry_after <= self.retry.max_retry_after_seconds

    def _delay(self, state: RetryCallState) -> float:
        """What the server's ``Retry-After`` asks for, else the policy's backoff."""
        outcome = _outcome(state)
        if not outcome.failed:
            retry_after = self._retry_after(outcome.result())
            if retry_after is not None:
                return retry_after
        return self._backoff(state)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(float(seconds))

    def _log_retry(self, state: RetryCallState, shown_url: str) -> None:
        outcome = _outcome(state)
        reason = type(outcome.exception()).__name__ if outcome.failed else f"HTTP {outcome.result().status}"
        logger.warning(
            "%s: %s on %s; retry %d/%d in %.2fs",
            self.source,
            reason,
            shown_url,
            state.attempt_number,
            self.retry.max_retries,
            state.upcoming_sleep,
        )

    def _default_key(self, shown_url: str) -> str:
        parts = urlsplit(shown_url)
        key = f"{self.source}{parts.path}"
        if parts.query:
            key += "?" + parts.query
        return key

    def _transport_failure(self, exc: httpx.TransportError, shown_url: str, attempts: int) -> SourceError:
        detail = self.redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, httpx.RemoteProtocolError):
            message = f"truncated or malformed response, gave up after {_attempts(attempts)}: {detail}"
            return self._error(BadResponse, message, shown_url)
        message = f"transport error, gave up after {_attempts(attempts)}: {detail}"
        return self._error(SourceUnavailable, message, shown_url)

    def _status_failure(self, response: HttpResponse, attempts: int) -> SourceError:
        status = response.status
        retry_after = self._retry_after(response)
        if status in self.retry.retry_statuses and (retry_after or 0) > self.retry.max_retry_after_seconds:
            # Waiting longer than we are willing to would block a worker: hand the decision back.
            return self._error(
                RateLimited,
                f"server asked to wait {retry_after:.0f}s (cap {self.retry.max_retry_after_seconds:.0f}s)",
                response.url,
                status,
                retry_after_seconds=retry_after,
            )
        if self._error_mapper is not None:
            mapped = self._error_mapper(response)
            if mapped is not None:
                return mapped
        excerpt = response.excerpt()
        if status in (404, 410):
            return self._error(NotFound, f"not found: {excerpt!r}", response.url, status)
        if status in (401, 403):
            return self._error(AccessDenied, f"access denied: {excerpt!r}", response.url, status)
        if status == 429:
            return self._error(
                RateLimited,
                f"still rate limited, gave up after {_attempts(attempts)}",
                response.url,
                status,
                retry_after_seconds=retry_after,
            )
        if status >= 500:
            return self._error(
                SourceUnavailable,
                f"server error, gave up after {_attempts(attempts)}: {excerpt!r}",
                response.url,
                status,
            )
        return self._error(SourceError, f"request failed: {excerpt!r}", response.url, status)


class SourceClient(_ClosedOnExit):
    """What every source client shares: its :class:`HttpClient`, closed by ``close()`` or a ``with`` block."""

    http: HttpClient

    def close(self) -> None:
        self.http.close()


class Transport(TypedDict, total=False):
    """What every source client hands its HTTP client unchanged: timeout, retries, the raw sink, and the clocks
    (tests inject fake ones). A client's own arguments (key, base URL, rate) come first."""

    timeout: float
    max_retries: int
    max_retry_after_seconds: float
    raw_sink: RawSink | None
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    wall_clock: Callable[[], datetime]


def required_api_key(api_key: str | None, missing: str) -> str:
    """``api_key`` without surrounding blanks; ValueError(``missing``, which says where to get one) when there is
    none, so a keyed client refuses at construction rather than on its first request."""
    key = (api_key or "").strip()
    if not key:
        raise ValueError(missing)
    return key


def source_http(
    *,
    source: str,
    rate: Rate,
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
) -> HttpClient:
    """The HttpClient of a source client: its ``rate`` kept on ``clock``, retries with backoff, its secrets
    redacted from every error."""
    return HttpClient(
        source=source,
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        retry=RetryPolicy(max_retries=max_retries, max_retry_after_seconds=max_retry_after_seconds),
        rate_limiter=RateLimiter(rate, clock=clock, sleep=sleep),
        raw_sink=raw_sink,
        secrets=secrets,
        error_mapper=error_mapper,
        before_send=before_send,
        sleep=sleep,
        wall_clock=wall_clock,
    )
