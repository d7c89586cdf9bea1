"""The risk web app at /app/: static files from api/static/app (vendored, no CDN), an index page with a strict
Content-Security-Policy. The policy applies to the app's document only; the API's responses are unchanged."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static" / "app"
_INLINE_SCRIPT = re.compile(r"<script type=\"importmap\">(.*?)</script>", re.S)

router = APIRouter(include_in_schema=False)
# Module scripts must be served as JavaScript (nosniff is on); not every system's mime.types knows .mjs.
mimetypes.add_type("text/javascript", ".mjs")


def content_security_policy(index_html: str) -> str:
    """Everything from this origin only; the one inline script allowed is the import map, by its hash (an import
    map cannot be an external file)."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(index_html)
    )
    return (
        "default-src 'none'; script-src 'self' " + hashes + "; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


@lru_cache(maxsize=1)
def _index() -> tuple[bytes, str]:
    text = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return text.encode(), content_security_policy(text)


@router.get("/app", summary="The web app (redirect to /app/)")
def app_redirect() -> RedirectResponse:
    # A path, not an absolute URL: nothing taken from the Host header.
    return RedirectResponse("/app/", status_code=308)


@router.get("/app/", summary="The web app")
def app_index() -> Response:
    body, policy = _index()
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": policy,
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        },
    )


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
