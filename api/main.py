"""The riskgraph gateway: `uvicorn api.main:app`, served with its limits by `python -m api.server`.

Everything is under /v1 and needs an API key (`riskgraph keys create`), except /health. `create_app()` reads the
settings (from the environment unless given); connections, caches and the model are set up when the app starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import docs_ui, errors, openapi, webapp
from api.cache import ReadCache, WarehouseChanges
from api.dagster_runs import GraphQLRunLauncher, RunLauncher
from api.deps import WarehouseDep, reject_unknown_query
from api.middleware import BodyLimitMiddleware
from api.routers import (
    alerts,
    app_support,
    companies,
    models,
    operations,
    peers,
    scores,
    scoring,
    term_structure,
)
from api.schemas.common import Health
from api.scoring import ChampionCache
from risk_assets import __version__
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse

log = logging.getLogger("riskgraph.api")

DESCRIPTION = """Probabilities of default (PD), master-scale grades and their drivers for the companies riskgraph
covers, ad-hoc scoring of statements, and the operations that refresh them.

**Authentication**: `Authorization: Bearer <key>` with a key from `riskgraph keys create NAME --scopes ...`.
Reads need the `read` scope, `POST /v1/score` needs `score`, operations (launching runs, watchlist changes,
acknowledging alerts) need `admin`; a run's status needs `read` or `admin`. **Errors** are RFC 9457 problem details (`application/problem+json`)."""

TAGS = [
    {"name": "companies", "description": "Search, profiles, statements, features, score history and drivers"},
    {"name": "scores", "description": "The portfolio's scores, grade migration and summary"},
    {"name": "alerts", "description": "Downgrades and PD jumps"},
    {"name": "scoring", "description": "Score statements you send, with the champion model"},
    {"name": "models", "description": "Registered model versions, metrics and MLflow links"},
    {"name": "operations", "description": "Dagster runs and the watchlist"},
    {"name": "app", "description": "Read-only figures the web app at /app/ shows"},
    {"name": "health", "description": "Liveness (no key needed)"},
]


def _registry_getter(settings: Settings) -> Callable[[], Any]:
    """A lazily created, shared ModelRegistry (importing MLflow costs a second: only when first needed)."""
    lock = threading.Lock()
    holder: dict[str, Any] = {}

    def get() -> Any:
        if "registry" not in holder:
            with lock:
                if "registry" not in holder:
                    from risk_assets.storage.model_registry import ModelRegistry

                    holder["registry"] = ModelRegistry(
                        tracking_uri=settings.mlflow_tracking_uri,
                        model_name=settings.model_name,
                        experiment=settings.mlflow_experiment,
                        artifact_root=settings.mlflow_artifact_root,
                    )
        return holder["registry"]

    return get


def _segment_registry(registry: Callable[[], Any], segment: str) -> Callable[[], Any]:
    """A factory of the segment's registry (its own registered model), sharing the base registry's client."""

    def get() -> Any:
        import copy

        from risk_assets.core.segments import SEGMENTS

        base = registry()
        mine = copy.copy(base)
        mine.model_name = SEGMENTS[segment].registered_model(base.model_name)
        return mine

    return get


def _preload(caches: dict[str, ChampionCache]) -> None:
    """Load the champions in the background at start-up, so the first POST /v1/score does not wait for MLflow."""
    for segment, cache in caches.items():
        try:
            cache.current()
        except Exception:  # no champion yet, or MLflow down: the first request will try again and say why
            log.info("champion of %s not preloaded", segment, exc_info=True)


def create_app(
    settings: Settings | None = None, *, launcher: RunLauncher | None = None, preload_model: bool = True
) -> FastAPI:
    """Build the app. ``settings`` default to the environment at start-up; ``launcher`` to Dagster's GraphQL
    client at ``settings.dagster_graphql_url`` (tests pass a recorder); ``preload_model`` loads the champion
    in a background thread at start-up."""
    resolved = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = _registry_getter(resolved)
        app.state.settings = resolved
        app.state.warehouse = Warehouse(resolved.warehouse_url)
        changes = WarehouseChanges(app.state.warehouse, resolved.api_cache_seconds)
        app.state.key_cache = ReadCache(changes, max_entries=1024)
        app.state.profile_cache = ReadCache(changes)
        app.state.identifier_cache = ReadCache(changes)
        app.state.registry = registry
        from risk_assets.core.segments import SEGMENT_NAMES, SME

        app.state.champions = {
            segment: ChampionCache(
                _segment_registry(registry, segment), resolved.api_champion_recheck_seconds
            )
            for segment in SEGMENT_NAMES
        }
        app.state.champion = app.state.champions[SME]
        app.state.launcher = launcher or GraphQLRunLauncher(resolved.dagster_graphql_url)
        if preload_model:
            threading.Thread(
                target=_preload, args=(app.state.champions,), name="preload-champion", daemon=True
            ).start()
        yield
        changes.close()
        app.state.warehouse.dispose()

    app = FastAPI(
        title="riskgraph",
        version=__version__,
        summary="Probabilities of default, grades and drivers for the companies riskgraph covers.",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
        # `/v1/scores/` is a 404, not a 307 to an address built from the Host header (and always http://).
        redirect_slashes=False,
        # /docs and /redoc are built by api/docs_ui.py on vendored assets (the defaults load them from a CDN).
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)

    @app.get(
        "/health", response_model=Health, tags=["health"], summary="The warehouse answers (no key needed)"
    )
    def health(warehouse: WarehouseDep) -> Health:
        try:
            with warehouse.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            state = "ok"
        except sa.exc.SQLAlchemyError:
            state = "unavailable"
        return Health(status="ok" if state == "ok" else "degraded", warehouse=state, version=__version__)

    for module in (
        companies,
        term_structure,
        peers,
        scores,
        alerts,
        scoring,
        models,
        operations,
        app_support,
    ):
        app.include_router(module.router)
    # The web app (/app/): its index with its own CSP, then the vendored static files.
    app.include_router(webapp.router)
    app.mount("/app", webapp.static_files(), name="app")
    openapi.install(app)
    docs_ui.install(app)

    if resolved.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(resolved.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Location"],
        )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=resolved.api_max_request_bytes,
        body_timeout=resolved.api_body_timeout_seconds or None,
    )
    return app


app = create_app()
