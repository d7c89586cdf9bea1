"""Hardening of the served API: bounded 422 replies, no host-derived redirects, server timeouts and a
concurrency limit (a real uvicorn server, driven through raw sockets)."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.errors import MAX_FIELD_ERRORS
from api.main import create_app
from risk_assets.storage.migrations import upgrade
from risk_assets.storage.warehouse import Warehouse
from tests.api.conftest import bearer, make_keys, settings_for
from tests.api.test_errors import assert_problem
from tests.support.servers import ServerProcess, _http_ok


@pytest.fixture(scope="module")
def empty_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a migrated, empty warehouse: enough for validation, routing and timeouts."""
    home = tmp_path_factory.mktemp("hardening") / "home"
    home.mkdir()
    warehouse = Warehouse(settings_for(home).warehouse_url)
    upgrade(warehouse)
    warehouse.dispose()
    return home


@pytest.fixture(scope="module")
def empty_keys(empty_home: Path) -> dict[str, str]:
    return make_keys(empty_home)


@pytest.fixture(scope="module")
def client(empty_home: Path, empty_keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(empty_home), preload_model=False)) as http:
        yield http


def test_a_huge_invalid_body_draws_a_bounded_reply(client, empty_keys):
    """About 13 bad cells in each of 500 statements (6,500 errors): the reply lists the first 20 and counts
    the rest, so its size does not grow with the request."""
    bad = {
        name: "not a number"
        for name in (
            "cash",
            "revenue",
            "ebit",
            "inventory",
            "net_income",
            "total_liabilities",
            "current_assets",
            "current_liabilities",
            "receivables",
            "total_equity",
            "retained_earnings",
            "cost_of_goods_sold",
        )
    }
    body = json.dumps({"statements": [{"reference": "r", "items": {"total_assets": -1.0, **bad}}] * 500})
    assert len(body) > 150_000
    response = client.post(
        "/v1/score",
        content=body,
        headers={**bearer(empty_keys["scorer"]), "content-type": "application/json"},
    )
    problem = assert_problem(response, 422)
    assert len(problem["errors"]) == MAX_FIELD_ERRORS == 20
    assert problem["errors_omitted"] == 500 * 13 - 20
    assert problem["errors"][0]["field"].startswith("body.statements.0.items.")
    assert f"(and {500 * 13 - 5} more)" in problem["detail"]  # the detail names the first five
    assert len(response.content) < 10_000


def test_a_small_invalid_body_lists_every_error(client, empty_keys):
    response = client.post(
        "/v1/score",
        json={"statements": [{"items": {"total_assets": 0, "cash": "x"}}]},
        headers=bearer(empty_keys["scorer"]),
    )
    problem = assert_problem(response, 422)
    assert {error["field"] for error in problem["errors"]} == {
        "body.statements.0.items.total_assets",
        "body.statements.0.items.cash",
    }
    assert problem["errors_omitted"] == 0


def test_a_trailing_slash_is_not_redirected_to_the_host_header(client, empty_keys):
    """A redirect built from the Host header would send the client (and its key, on a follow) elsewhere."""
    response = client.get(
        "/v1/scores/",
        headers={**bearer(empty_keys["reader"]), "Host": "evil.example.com"},
        follow_redirects=False,
    )
    problem = assert_problem(response, 404)
    assert "location" not in response.headers
    assert problem["instance"] == "/v1/scores/"
    assert client.get("/v1/scores", headers=bearer(empty_keys["reader"])).status_code == 200


class ApiServer(ServerProcess):
    """`python -m api.server`, the command `riskgraph serve` and the API image run, on a free port."""

    name = "api"

    def __init__(self, workdir: Path, home: Path, **env: str) -> None:
        super().__init__(workdir)
        self.home = home
        self.env = env

    def command(self) -> list[str]:
        return [sys.executable, "-m", "api.server", "--host", "127.0.0.1", "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        repo = str(Path(__file__).resolve().parents[2])
        return {
            "RISKGRAPH_HOME": str(self.home),
            "DAGSTER_HOME": str(self.home / "dagster"),
            "PYTHONPATH": repo,
            **self.env,
        }

    def ready(self) -> bool:
        return _http_ok(f"{self.base_url}/health")


def _read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout`` passes)."""
    sock.settimeout(timeout)
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:  # the server closed with our bytes unread
            break
        if not chunk:
            break
        received += chunk
    return received


def _status(port: int, path: str = "/health") -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = _read_response(sock, 10)
    return int(head.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def server(empty_home: Path, empty_keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    process = ApiServer(
        tmp_path_factory.mktemp("api-server"),
        empty_home,
        RISKGRAPH_API_BODY_TIMEOUT_SECONDS="1",
        RISKGRAPH_API_TIMEOUT_KEEP_ALIVE_SECONDS="1",
        RISKGRAPH_API_HEADER_TIMEOUT_SECONDS="1.5",
        RISKGRAPH_API_LIMIT_CONCURRENCY="2",
    )
    process.start()
    yield process
    process.stop()


def test_a_client_dribbling_its_body_gets_408_and_frees_its_slot(server, empty_keys):
    """Headers, then a byte now and then: the body has not arrived within the limit (1 s here), so 408 and the
    connection closes. While it is held, the concurrency limit (2 here) turns a second connection away with 503."""
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        slow.sendall(
            (
                f"POST /v1/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {empty_keys['scorer']}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            ).encode()
        )
        time.sleep(0.3)
        assert (
            _status(server.port) == 503
        )  # the slow request holds one of two slots, this connection the other
        received = b""
        slow.settimeout(0.2)
        for _ in range(40):  # a byte every 0.2 s: never enough, never idle
            try:
                slow.sendall(b" ")
            except OSError:
                break
            try:
                chunk = slow.recv(65536)
            except TimeoutError:
                continue
            received += chunk
            if not chunk or b"\r\n\r\n" in received:
                break
        received += _read_response(slow, 5)
    finally:
        slow.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), received[:300]
    assert b"application/problem+json" in head.lower()
    assert json.loads(body)["detail"] == "the request body did not arrive within 1 seconds"
    assert _status(server.port) == 200  # the slot is free again


def test_an_idle_keep_alive_connection_is_closed(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        received = _read_response(sock, 8)  # ends when the server closes the idle connection
        waited = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 200")
    assert waited < 6, "the server kept an idle connection open past its keep-alive timeout"


def _dribble(
    sock: socket.socket, data: bytes, pause: float = 0.2, rounds: int = 40
) -> tuple[bytes, float | None]:
    """Send ``data`` a byte at a time, ``pause`` apart, until the server answers or ends the connection: what it
    sent, and after how many seconds it ended the connection (None: still open after ``rounds``)."""
    received = b""
    started = time.monotonic()
    sock.settimeout(pause)
    for index in range(rounds):
        try:
            sock.sendall(data[index % len(data) : index % len(data) + 1])
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset: the server closed while bytes of ours were in flight
            return received, time.monotonic() - started
        received += chunk
        if not chunk:
            return received, time.monotonic() - started
    return received, None


def test_a_client_dribbling_its_headers_gets_408(server):
    """uvicorn alone waits for ever on a request head sent a byte at a time; api.server gives it 1.5 s here.
    (The 408 may be lost to a TCP reset when the client is still sending: the connection's end is what counts.)"""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        received, ended = _dribble(sock, b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100)
    assert ended is not None, "the server kept a dribbling request head for 8 s"
    assert received == b"" or received.startswith(b"HTTP/1.1 408"), received[:200]


def test_the_head_timer_restarts_after_each_response(server):
    """A keep-alive connection sends a whole request, then dribbles the next head: 200, then the end."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        first = b""
        while b"\r\n\r\n" not in first:  # the whole first response: head, then content-length bytes of body
            first += sock.recv(65536)
        head, _, body = first.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        while len(body) < length:
            body += sock.recv(65536)
        received, ended = _dribble(sock, b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100)
    assert first.startswith(b"HTTP/1.1 200")
    assert ended is not None, "the server kept a dribbling request head for 8 s"
    assert received == b"" or received.startswith(b"HTTP/1.1 408"), received[:200]
