"""Shared fixtures for the client tests: a running stub server, fake time, a raw-sink recorder."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from risk_assets.clients.http import BadResponse
from tests.support.stub_server import StubResponse, StubServer

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
BUNDLED = REPO / "risk_assets" / "data"


def fixture_bytes(path: Path) -> bytes:
    """The bytes a fixture file serves (``.gz`` decompressed, like the stub server does)."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def assert_cut_short_and_html_bodies_are_bad(
    stub: StubServer, path: str, recorded: StubResponse, call: Callable[[], object]
) -> None:
    """The ``recorded`` JSON answer cut in half, then an HTML maintenance page in its place, both raise
    BadResponse naming what went wrong: no client hands a parser half a document or a web page."""
    stub.route(
        "GET",
        path,
        [
            replace(recorded, body=recorded.body[: len(recorded.body) // 2]),
            StubResponse.text("<html><body>Down for maintenance</body></html>", content_type="text/html"),
        ],
    )
    with pytest.raises(BadResponse, match="truncated"):
        call()
    with pytest.raises(BadResponse, match="text/html"):
        call()


@dataclass
class FakeTime:
    """Monotonic clock, wall clock and sleep in one: ``sleep`` records the request and advances both clocks."""

    wall_start: datetime = datetime(2026, 3, 5, 12, 0, 0, tzinfo=UTC)
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return self.wall_start + timedelta(seconds=self.now)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def kwargs(self) -> dict:
        """Constructor arguments that put a client on this fake time."""
        return {"sleep": self.sleep, "clock": self.clock, "wall_clock": self.wall}


@dataclass
class SinkRecorder:
    """A ``raw_sink`` that keeps every (key, body, content_type) it is given."""

    calls: list[tuple[str, bytes, str]] = field(default_factory=list)

    def __call__(self, key: str, body: bytes, content_type: str) -> None:
        self.calls.append((key, body, content_type))

    @property
    def keys(self) -> list[str]:
        return [key for key, _, _ in self.calls]


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def sink() -> SinkRecorder:
    return SinkRecorder()
