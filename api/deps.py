"""Shared dependencies: what the app creates once at start-up (warehouse, settings, caches, the champions, the
model registry, the Dagster launcher), and the API-key check per scope. Handlers take these as parameters
(`WarehouseDep`, `LauncherDep`, ...) rather than reading `request.app.state`, so tests can override them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.cache import ReadCache, cached
from api.dagster_runs import RunLauncher
from api.errors import ApiProblem
from api.scoring import ChampionCache
from risk_assets.settings import Settings
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
    be ignored silently and return everything.

    Deliberately ours, not FastAPI's query-parameter models with ``extra="forbid"``: such a model (FastAPI 0.165)
    refuses every parameter that is not its own, including those a shared dependency declares (``limit``,
    ``offset``), so every route would need one model of all its parameters, and routes without any a model of none.
    One app-wide dependency that reads what each route declares keeps the routes' signatures as they are."""
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


# async: none of these does I/O, so none takes a trip through the thread pool.
async def get_warehouse(request: Request) -> Warehouse:
    return request.app.state.warehouse


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_launcher(request: Request) -> RunLauncher:
    """Dagster's GraphQL client (tests pass a recorder to create_app)."""
    return request.app.state.launcher


async def get_champions(request: Request) -> dict[str, ChampionCache]:
    """Each segment's champion model, loaded once and re-checked now and then."""
    return request.app.state.champions


async def get_registry(request: Request) -> Callable[[], Any]:
    """The getter of the shared ModelRegistry (created on first call: importing MLflow takes a second)."""
    return request.app.state.registry


async def get_key_cache(request: Request) -> ReadCache:
    """Verified keys, kept until the warehouse changes (so a revocation takes effect at once)."""
    return request.app.state.key_cache


async def get_identifier_cache(request: Request) -> ReadCache:
    """Tickers, CIKs and corp codes resolved to company ids, kept until the warehouse changes."""
    return request.app.state.identifier_cache


async def get_profile_cache(request: Request) -> ReadCache:
    """Rendered company profiles, kept until the warehouse changes."""
    return request.app.state.profile_cache


SCOPES_ATTRIBUTE = "riskgraph_scopes"
"""Set on each key check: the scopes it admits (api/scopes.py reads it to list what every route needs)."""


def require(*scopes: str) -> Callable[..., Principal]:
    """A dependency that admits an active key holding any of ``scopes``: 401 without a valid key, 403 without
    them. It runs before the endpoint's body is touched, so a refused request changes nothing."""
    wanted = " or ".join(f"'{scope}'" for scope in scopes)

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        warehouse: Annotated[Warehouse, Depends(get_warehouse)],
        key_cache: Annotated[ReadCache, Depends(get_key_cache)],
    ) -> Principal:
        if credentials is None:
            raise ApiProblem(401, "missing API key: send 'Authorization: Bearer <key>'", headers=_CHALLENGE)
        presented = credentials.credentials
        principal = await cached(
            key_cache,
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
SettingsDep = Annotated[Settings, Depends(get_settings)]
LauncherDep = Annotated[RunLauncher, Depends(get_launcher)]
ChampionsDep = Annotated[dict[str, ChampionCache], Depends(get_champions)]
RegistryDep = Annotated[Callable[[], Any], Depends(get_registry)]
ProfileCacheDep = Annotated[ReadCache, Depends(get_profile_cache)]
IdentifierCacheDep = Annotated[ReadCache, Depends(get_identifier_cache)]
