"""Serve the gateway with uvicorn and the settings' limits: `python -m api.server --host 0.0.0.0 --port 8000`.

`riskgraph serve` and the API image both run this rather than bare `uvicorn api.main:app`, so the served API
always has a keep-alive timeout, a concurrency limit and a time limit on a request's head
(RISKGRAPH_API_TIMEOUT_KEEP_ALIVE_SECONDS, RISKGRAPH_API_LIMIT_CONCURRENCY, RISKGRAPH_API_HEADER_TIMEOUT_SECONDS):
uvicorn alone never times out a client that sends its headers slowly, and with a concurrency limit a few such
connections would turn everyone else away. The body timeout (RISKGRAPH_API_BODY_TIMEOUT_SECONDS) is the app's
own middleware, so it holds under any server.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from risk_assets.settings import Settings

_TIMEOUT_REPLY = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class _HeadTimeout:
    """Mixed into uvicorn's HTTP protocol: a connection whose next request head (request line and headers) has
    not fully arrived ``head_timeout`` seconds after the connection opened, or after its previous response, gets
    408 and is closed."""

    head_timeout: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():  # type: ignore[attr-defined]
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)  # type: ignore[attr-defined]

    def _head_timed_out(self) -> None:
        self._head_timer = None
        # A request cycle starts once its head is complete; every finished response re-arms the timer. So no cycle,
        # or a finished one, means no head arrived in time (a pipelined request being served has its cycle).
        cycle = self.cycle  # type: ignore[attr-defined]
        if (cycle is None or cycle.response_complete) and not self.transport.is_closing():  # type: ignore[attr-defined]
            self.transport.write(_TIMEOUT_REPLY)  # type: ignore[attr-defined]
            self.transport.close()  # type: ignore[attr-defined]


def http_protocol(head_timeout: float) -> type:
    """uvicorn's HTTP protocol (httptools when installed, else h11) with the request-head time limit."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    return type(f"HeadTimeout{base.__name__}", (_HeadTimeout, base), {"head_timeout": head_timeout})


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments for uvicorn that bound what one client can hold."""
    options: dict[str, Any] = {
        "timeout_keep_alive": settings.api_timeout_keep_alive_seconds,
        "limit_concurrency": settings.api_limit_concurrency,
        # Headers are small; refuse a request whose head does not fit (uvicorn's default, made explicit).
        "h11_max_incomplete_event_size": 16 * 1024,
    }
    if settings.api_header_timeout_seconds > 0:
        options["http"] = http_protocol(settings.api_header_timeout_seconds)
    return options


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m api.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    uvicorn.run("api.main:app", host=args.host, port=args.port, **uvicorn_options(Settings.from_env()))


if __name__ == "__main__":
    main()
