"""The riskgraph gateway: `uvicorn api.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI, Request

from api.routers import companies, scores
from api.schemas import Health
from risk_assets import __version__
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings are read when it is created, not when this module is imported."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or Settings.from_env()
        app.state.settings = resolved
        app.state.warehouse = Warehouse(resolved.warehouse_url)
        yield
        app.state.warehouse.dispose()

    app = FastAPI(
        title="riskgraph",
        version=__version__,
        summary="Probabilities of default, grades and drivers for the companies riskgraph covers.",
        lifespan=lifespan,
    )

    @app.get("/health", response_model=Health, tags=["operations"])
    def health(request: Request) -> Health:
        try:
            with request.app.state.warehouse.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            state = "ok"
        except sa.exc.SQLAlchemyError:
            state = "unavailable"
        return Health(status="ok" if state == "ok" else "degraded", warehouse=state, version=__version__)

    app.include_router(companies.router)
    app.include_router(scores.router)
    return app


app = create_app()
