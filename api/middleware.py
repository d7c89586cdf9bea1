"""A pure ASGI middleware (no per-request task switch, unlike BaseHTTPMiddleware) that refuses bodies over the
size limit with 413 problem+json before the app reads them, answers 408 when a body does not arrive in time (a
slow client would otherwise hold a connection and a concurrency slot for ever), and adds defensive headers to
every response."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from api.errors import PROBLEM_MEDIA_TYPE

Scope = dict[str, Any]
_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]


class BodyLimitMiddleware:
    """``max_bytes``: the largest body accepted; ``body_timeout``: seconds the whole body may take to arrive after
    the headers (None = no limit)."""

    def __init__(self, app: Any, max_bytes: int, body_timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, send_with_headers)
            return
        has_body = declared is not None and declared > 0
        if has_body or (declared is None and scope.get("method") in ("POST", "PUT", "PATCH", "DELETE")):
            # Read the body here (up to the limit, within the time limit), then replay it to the app. Without a
            # Content-Length (chunked) the size limit is counted as the body arrives.
            chunks, size = [], 0
            deadline = None if self.body_timeout is None else time.monotonic() + self.body_timeout
            while True:
                try:
                    message = await self._receive_until(receive, deadline)
                except TimeoutError:
                    await self._problem(
                        scope,
                        send_with_headers,
                        408,
                        f"the request body did not arrive within {self.body_timeout:g} seconds",
                    )
                    return
                if message["type"] != "http.request":
                    break
                size += len(message.get("body", b""))
                if size > self.max_bytes:
                    await self._too_large(scope, send_with_headers)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            replayed = False

            async def replay() -> dict:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _receive_until(receive: Any, deadline: float | None) -> dict:
        if deadline is None:
            return await receive()
        return await asyncio.wait_for(receive(), timeout=max(deadline - time.monotonic(), 0.0))

    async def _too_large(self, scope: Scope, send: Any) -> None:
        await self._problem(
            scope, send, 413, f"the request body is larger than the limit of {self.max_bytes} bytes"
        )

    @staticmethod
    async def _problem(scope: Scope, send: Any, status: int, detail: str) -> None:
        """Answer with a problem and close the connection (the rest of the body is not read)."""
        title = {408: "Request Timeout", 413: "Content Too Large"}[status]
        body = json.dumps(
            {
                "type": "about:blank",
                "title": title,
                "status": status,
                "detail": detail,
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
