"""Errors as RFC 9457 problem details (``application/problem+json``) for every 4xx and 5xx.

The body says what went wrong in terms of the request (which field, which id) and never carries a stack trace,
SQL or a library's message: unexpected exceptions are logged server-side and answered with a bare 500.
"""

from __future__ import annotations

import http
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from risk_assets.storage.watchlist import UnknownCompany, WatchlistError

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Refusals raised by the storage layer, answered by type (Starlette picks the handler of the most specific class
# in the exception's MRO); their messages are written for the person who sent the request.
STATUS_BY_ERROR: dict[type[Exception], int] = {UnknownCompany: 404, WatchlistError: 422}
# A 422 lists at most this many field errors and counts the rest: the reply stays small however large the
# invalid request (an 869 KB body once drew a 5.3 MB list).
MAX_FIELD_ERRORS = 20
log = logging.getLogger("riskgraph.api")


class FieldError(BaseModel):
    field: str = Field(
        examples=["body.statements.0.items.total_assets"],
        description="Where the problem is: location, then the path inside it",
    )
    reason: str = Field(examples=["Input should be greater than 0"])


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "unknown company 'sec-9999999999'",
                    "instance": "/v1/companies/sec-9999999999",
                }
            ]
        }
    )

    type: str = Field(default="about:blank", description="A URI reference naming the problem type")
    title: str = Field(description="The HTTP status phrase")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What went wrong, for a human")
    instance: str = Field(description="The request path")
    errors: list[FieldError] | None = Field(
        default=None, description=f"Validation errors, one per field: the first {MAX_FIELD_ERRORS}"
    )
    errors_omitted: int | None = Field(
        default=None, ge=0, description="How many more validation errors there were (not listed)"
    )


class ApiProblem(Exception):
    """Raise to answer with a problem: ``raise ApiProblem(404, "unknown company 'x'")``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def _title(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    errors_omitted: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    if errors_omitted is not None:
        body["errors_omitted"] = errors_omitted
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _field_errors(error: RequestValidationError) -> tuple[list[dict[str, str]], int]:
    """The first MAX_FIELD_ERRORS pydantic errors, each its location joined with dots and its message (the input
    is not echoed), and how many more there were. Only those first ones are rendered."""
    raw = error.errors()
    found = []
    for item in raw[:MAX_FIELD_ERRORS]:
        location = ".".join(str(part) for part in item.get("loc", ()))
        found.append({"field": location or "request", "reason": str(item.get("msg", "invalid"))[:300]})
    return found, max(len(raw) - MAX_FIELD_ERRORS, 0)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API documents at this path (Starlette's Allow names only the first matching route's)."""
    app = request.app
    table = getattr(app.state, "allowed_methods", None)
    if table is None:
        table = [
            (
                re.compile("^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(path)) + "$"),
                {m.upper() for m in methods},
            )
            for path, methods in app.openapi().get("paths", {}).items()
        ]
        app.state.allowed_methods = table
    found: set[str] = set()
    for pattern, methods in table:
        if pattern.match(request.url.path):
            found |= methods
    return sorted(found)


def _refusal_handler(status: int):
    async def refusal(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, status, str(exc))

    return refusal


def install(app: FastAPI) -> None:
    """Route every error through problem_response."""

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, headers=exc.headers)

    for kind, status in STATUS_BY_ERROR.items():
        app.add_exception_handler(kind, _refusal_handler(status))

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = (
            exc.detail if isinstance(exc.detail, str) and exc.status_code < 500 else _title(exc.status_code)
        )
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}"
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
                detail = f"{request.method} is not allowed here; use {', '.join(allowed)}"
        return problem_response(request, exc.status_code, detail, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors, omitted = _field_errors(exc)
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        rest = len(errors) - 5 + omitted
        more = f" (and {rest} more)" if rest > 0 else ""
        return problem_response(
            request, 422, f"invalid request: {summary}{more}", errors=errors, errors_omitted=omitted
        )

    @app.exception_handler(Exception)
    async def unexpected_problem(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "the server could not complete the request; it has been logged")
