"""`/docs` (Swagger UI) and `/redoc` (ReDoc) served with assets vendored in api/static, not from a CDN: FastAPI's
default pages render blank on a machine without internet access (api/static/SOURCE.md says where they come from).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"


def install(app: FastAPI) -> None:
    """Mount the assets and add the two pages (create the app with ``docs_url=None, redoc_url=None``)."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static")

    def prefix(request: Request) -> str:
        # Behind a proxy that mounts the app under a path, every URL the page loads carries that path.
        return request.scope.get("root_path", "").rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = prefix(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_PATH}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PATH}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PATH}/swagger-ui/favicon-32x32.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_PATH}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_PATH}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
