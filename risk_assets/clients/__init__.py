"""One plain HTTP client per external source (no Dagster import; resources wrap them).

Every client shares :mod:`risk_assets.clients.http`: retries with backoff honouring ``Retry-After`` (tenacity),
a thread-safe rate limiter (pyrate-limiter), a ``raw_sink`` that receives each raw body before parsing, and one
exception hierarchy (``SourceError`` and its subclasses) whose messages never contain an API key. Each client
is a context manager (``with SecEdgarClient(...) as sec:``) that closes its connections on leaving.
"""

from risk_assets.clients.dart import DartStatements, OpenDartClient
from risk_assets.clients.ecos import EcosClient, parse_statistic_search
from risk_assets.clients.fred import FredClient, parse_observations
from risk_assets.clients.http import (
    AccessDenied,
    BadResponse,
    DailyCapReached,
    HttpClient,
    NotFound,
    RateLimited,
    RateLimiter,
    RawSink,
    SourceClient,
    SourceError,
    SourceUnavailable,
)
from risk_assets.clients.prices import PriceClient, annualised_volatility, close_on_or_before, parse_chart
from risk_assets.clients.sec import SecEdgarClient

__all__ = [
    "AccessDenied",
    "BadResponse",
    "DailyCapReached",
    "DartStatements",
    "EcosClient",
    "FredClient",
    "HttpClient",
    "NotFound",
    "OpenDartClient",
    "PriceClient",
    "RateLimited",
    "RateLimiter",
    "RawSink",
    "SecEdgarClient",
    "SourceClient",
    "SourceError",
    "SourceUnavailable",
    "annualised_volatility",
    "close_on_or_before",
    "parse_chart",
    "parse_observations",
    "parse_statistic_search",
]
