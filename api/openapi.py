"""The OpenAPI document: FastAPI's, plus the problem+json responses every operation can give (RFC 9457), so
clients and schema-driven tests know every status code and body the API may answer with."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_MEDIA_TYPE, FieldError, Problem

_DESCRIPTIONS = {
    "400": "The body is not parseable JSON",
    "401": "Missing, malformed, unknown or revoked API key",
    "403": "The key lacks the scope this operation needs",
    "404": "Unknown resource (company, score, alert, run, version) or path",
    "409": "The action was already done (e.g. an alert already acknowledged)",
    "413": "Request body larger than the configured limit",
    "422": "Invalid request: `errors` names each field and the reason",
    "500": "Unexpected server error (logged; no details are returned)",
    "502": "Dagster refused the launch",
    "503": "A dependency is unavailable (model registry, Dagster webserver); retry later",
}


def _problem(code: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[code],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _codes_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["404", "422", "500"]
    if operation.get("security"):
        codes += ["401", "403"]
    if method in ("post", "put", "patch", "delete"):
        codes.append("413")
    if "requestBody" in operation:
        codes.append("400")
    if path.startswith(("/v1/materializations", "/v1/runs")):
        codes += ["502", "503"]
    if path.startswith(("/v1/models", "/v1/score")) or path.endswith("/drivers"):
        codes.append("503")
    if path.endswith("/acknowledge"):
        codes.append("409")
    return codes


def install(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components["Problem"].pop("$defs", None)
        components["FieldError"] = FieldError.model_json_schema()
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for code in _codes_for(path, method, operation):
                    responses[code] = _problem(code)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
