"""A real local HTTP server that replays canned responses and records every request.

Why a real server rather than mocking httpx: the clients under test run unchanged (only their base URL
points here), so headers, query encoding, retries, connection handling and raw bytes are exercised for real.

API
---
::

    from tests.support.stub_server import StubServer, StubResponse

    with StubServer() as stub:                       # binds 127.0.0.1 on a free port, serves in a thread
        stub.route("GET", "/submissions/CIK0000320193.json",
                   StubResponse.file(path, content_type="application/json"))
        stub.route("GET", "/api/fnlttSinglAcntAll.json",
                   [StubResponse(status=429, headers={"Retry-After": "3"}), StubResponse.json({...})],
                   query={"fs_div": "CFS"})          # query: a subset the request must contain
        client = SomeClient(base_url=stub.url)       # stub.url == "http://127.0.0.1:<port>"
        ...
        stub.requests                                 # [RecordedRequest(method, path, query, headers, ...)]
        stub.requests_to("/api/list.json")            # only those for one path
        stub.unmatched                                # requests no route matched (answered 418)

Routing: a request matches a route when method and path are equal and every ``query`` item of the route
is present with that value (first value of a repeated parameter). Among matching routes the one with the
most query items wins; ties go to the route registered last, so a test can override a default. Each
route plays its responses in order and repeats the last one forever. An unmatched request is recorded and
answered ``418`` with a plain-text explanation (deliberately not 404, so it cannot pass for a real
"not found").

Responses: ``StubResponse(status, body, headers, content_type, truncate_at, delay_seconds)``. The body
bytes are sent unchanged with ``Content-Length`` computed from them; headers given by the test are sent
as is, except ``Content-Encoding``, ``Content-Length`` and ``Transfer-Encoding``, which are dropped
because recorded bodies are already decoded. ``truncate_at=N`` announces the full length but sends only N
bytes and closes the connection (a cut transfer). ``StubResponse.file(path)`` reads a fixture (``.gz``
files are decompressed, so bundled gzipped recordings serve their original bytes);
``StubResponse.json(obj)`` serialises a body built in a test.

Recorded requests keep ``path`` (percent-decoded), ``raw_path`` (as sent), ``query`` (dict of lists,
decoded), ``headers`` (lower-case names), ``time`` (``time.monotonic()`` at arrival) and ``body`` (bytes).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True)
class StubResponse:
    """One canned answer."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    truncate_at: int | None = None
    delay_seconds: float = 0.0

    @classmethod
    def of(
        cls, body: bytes, content_type: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> StubResponse:
        """``body`` served as ``content_type``; ``headers`` and the other fields (status, truncate_at,
        delay_seconds) as given. The constructors below build their body and come here."""
        return cls(body=body, content_type=content_type, headers=dict(headers or {}), **kwargs)

    @classmethod
    def file(cls, path: str | Path, *, content_type: str = "application/json", **kwargs: Any) -> StubResponse:
        """Serve a fixture file's bytes unchanged (a ``.gz`` file is served decompressed)."""
        path = Path(path)
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return cls.of(data, content_type, **kwargs)

    @classmethod
    def json(cls, payload: Any, *, content_type: str = "application/json", **kwargs: Any) -> StubResponse:
        """A JSON body built in a test (UTF-8, non-ASCII kept as is)."""
        return cls.of(json.dumps(payload, ensure_ascii=False).encode("utf-8"), content_type, **kwargs)

    @classmethod
    def text(
        cls, text: str, *, content_type: str = "text/plain; charset=utf-8", **kwargs: Any
    ) -> StubResponse:
        return cls.of(text.encode("utf-8"), content_type, **kwargs)


@dataclass(frozen=True)
class RecordedRequest:
    """What the server saw."""

    method: str
    path: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    time: float
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """First value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Route:
    method: str
    path: str
    query: dict[str, str]
    responses: list[StubResponse]
    order: int
    served: int = 0

    def matches(self, method: str, path: str, query: Mapping[str, list[str]]) -> bool:
        if method != self.method or path != self.path:
            return False
        return all(query.get(k, [None])[0] == v for k, v in self.query.items())

    def next_response(self) -> StubResponse:
        response = self.responses[min(self.served, len(self.responses) - 1)]
        self.served += 1
        return response


class StubServer:
    """ThreadingHTTPServer on 127.0.0.1 (port 0 = any free port) with a routing table and a request log."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.Lock()
        self._routes: list[_Route] = []
        self.requests: list[RecordedRequest] = []
        self.unmatched: list[RecordedRequest] = []
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StubServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="stub-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing
    def route(
        self,
        method: str,
        path: str,
        responses: StubResponse | Sequence[StubResponse],
        query: Mapping[str, str] | None = None,
    ) -> None:
        """Answer ``method path`` (with at least ``query``) with ``responses`` in order, the last repeated."""
        if isinstance(responses, StubResponse):
            responses = [responses]
        if not responses:
            raise ValueError("a route needs at least one response")
        with self._lock:
            self._routes.append(
                _Route(
                    method.upper(),
                    path,
                    {k: str(v) for k, v in (query or {}).items()},
                    list(responses),
                    order=len(self._routes),
                )
            )

    def requests_to(self, path: str, method: str = "GET") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path and r.method == method.upper()]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()
            self.unmatched.clear()

    def _dispatch(self, request: RecordedRequest) -> StubResponse | None:
        with self._lock:
            self.requests.append(request)
            candidates = [r for r in self._routes if r.matches(request.method, request.path, request.query)]
            if not candidates:
                self.unmatched.append(request)
                return None
            best = max(candidates, key=lambda r: (len(r.query), r.order))
            return best.next_response()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
                self._handle()

            def do_POST(self) -> None:  # noqa: N802
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=unquote(parts.path),
                    raw_path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    time=time.monotonic(),
                    body=body,
                )
                response = stub._dispatch(request)
                if response is None:
                    response = StubResponse.text(
                        f"stub server: no route for {request.method} {request.path} {request.query}",
                        status=418,
                    )
                self._send(response)

            def _send(self, response: StubResponse) -> None:
                if response.delay_seconds:
                    time.sleep(response.delay_seconds)
                self.send_response(response.status)
                if response.content_type is not None:
                    self.send_header("Content-Type", response.content_type)
                for name, value in response.headers.items():
                    if name.lower() not in _DROPPED_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                if response.truncate_at is not None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                body = (
                    response.body if response.truncate_at is None else response.body[: response.truncate_at]
                )
                self.wfile.write(body)
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
                return

        return Handler
