"""Shared dependencies: the warehouse and settings created once per app, and the API-key check per scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.cache import cached
from api.errors import ApiProblem
from risk_assets.storage.api_keys import Principal, hash_key, verify_key
from risk_assets.storage.warehouse import Warehouse

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `riskgraph keys create NAME --scopes read,score,admin`, sent as "
    "`Authorization: Bearer <key>`. Reads need `read`, POST /v1/score needs `score`, operations need `admin` "
    "(a run's status: `read` or `admin`).",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="riskgraph"'}


# Kept on the route object itself (APIRoute is unhashable): a table keyed by id(route) would outlive its app,
# and another app's route could be given the same id.
_QUERY_NAMES_ATTRIBUTE = "_riskgraph_query_names"


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares, its dependencies' included."""
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(field.alias for field in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the operation does not declare: a misspelt filter (`grades=D`) would otherwise
    be ignored silently and return everything."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    allowed = getattr(route, _QUERY_NAMES_ATTRIBUTE, None)
    if allowed is None:
        allowed = _query_names(route)
        setattr(route, _QUERY_NAMES_ATTRIBUTE, allowed)
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "Unknown query parameter",
                    "input": None,
                }
                for name in unknown
            ]
        )


async def get_warehouse(request: Request) -> Warehouse:
    """async: no I/O here, so no trip through the thread pool."""
    return request.app.state.warehouse


SCOPES_ATTRIBUTE = "riskgraph_scopes"
"""Set on each key check: the scopes it admits (api/scopes.py reads it to list what every route needs)."""


def require(*scopes: str) -> Callable[..., Principal]:
    """A dependency that admits an active key holding any of ``scopes``: 401 without a valid key, 403 without
    them. It runs before the endpoint's body is touched, so a refused request changes nothing."""
    wanted = " or ".join(f"'{scope}'" for scope in scopes)

    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        if credentials is None:
            raise ApiProblem(401, "missing API key: send 'Authorization: Bearer <key>'", headers=_CHALLENGE)
        warehouse, presented = request.app.state.warehouse, credentials.credentials
        principal = await cached(
            request.app.state.key_cache,
            warehouse,
            hash_key(presented),
            lambda: verify_key(warehouse, presented),
            lambda found: found is not None,
        )
        if principal is None:
            raise ApiProblem(401, "invalid or revoked API key", headers=_CHALLENGE)
        if not any(principal.allows(scope) for scope in scopes):
            raise ApiProblem(403, f"this key lacks the {wanted} scope")
        return principal

    check.__name__ = "require_" + "_or_".join(scopes)
    setattr(check, SCOPES_ATTRIBUTE, scopes)
    return check


ReadKey = Annotated[Principal, Depends(require("read"))]
ScoreKey = Annotated[Principal, Depends(require("score"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]
# Read-only information about an operation: readers may see it, and the admin key that launched it may follow it.
ReadOrAdminKey = Annotated[Principal, Depends(require("read", "admin"))]
WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]
