"""/docs and /redoc load nothing from outside the app (they render without internet), every script, stylesheet
and icon they reference is served with a type the browser accepts under `nosniff`, and the assets ship in the
package."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import api
from api.docs_ui import STATIC_DIR

ROOT = Path(api.__file__).parent.parent
EXPECTED_TYPE = {
    "script": r"^(text|application)/javascript\b",
    "stylesheet": r"^text/css\b",
    "icon": r"^image/png$",
}


class References(HTMLParser):
    """Every URL the page loads: script src, link href (stylesheet, icon), and any other src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.found.append(("script", values["src"]))
        elif tag == "link" and values.get("href"):
            rel = values.get("rel") or ""
            self.found.append(
                ("stylesheet" if "stylesheet" in rel else "icon" if "icon" in rel else rel, values["href"])
            )
        else:
            for name in ("src", "href", "spec-url"):
                if values.get(name):
                    self.found.append((f"{tag}.{name}", values[name]))


def references(html: str) -> list[tuple[str, str]]:
    parser = References()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_the_apps_own_assets(api, page):
    response = api.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    found = references(html)
    kinds = {kind for kind, _url in found}
    assert "script" in kinds and "icon" in kinds
    if page == "/docs":
        assert "stylesheet" in kinds
    # No URL anywhere in the page leaves the app (not only scripts and styles: fonts and favicons too).
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), re.findall(r"(?i)\S*//\S+", html)
    for kind, url in found:
        assert url.startswith("/"), (kind, url)
        asset = api.get(url)
        assert asset.status_code == 200, (kind, url)
        assert asset.headers["x-content-type-options"] == "nosniff"  # the security middleware still applies
        if kind in EXPECTED_TYPE:
            assert re.match(EXPECTED_TYPE[kind], asset.headers["content-type"]), (
                url,
                asset.headers["content-type"],
            )
            assert asset.content == (STATIC_DIR / url.removeprefix("/static/")).read_bytes()
    spec = "/openapi.json"
    assert f"'{spec}'" in html or f'"{spec}"' in html
    assert api.get(spec).json()["info"]["title"] == "riskgraph"


def test_the_pages_follow_a_root_path(api_app, api):
    """Behind a proxy that serves the app under /riskgraph, the pages ask for /riskgraph/static/..."""
    proxied = TestClient(
        api_app, root_path="/riskgraph"
    )  # no `with`: the session app's lifespan is not re-run
    for page in ("/docs", "/redoc"):
        found = references(proxied.get(page).text)
        assets = [url for kind, url in found if kind in EXPECTED_TYPE]
        assert assets and all(url.startswith("/riskgraph/static/") for url in assets), found
        assert all(url.startswith("/riskgraph/") for _kind, url in found), found


def test_the_default_cdn_pages_are_off(api):
    assert api.get("/docs/oauth2-redirect").status_code == 404
    assert api.get("/static/no-such-file.js").status_code == 404
    assert api.get("/static/../main.py").status_code == 404


def test_each_vendored_asset_has_its_licence_and_origin():
    source = (STATIC_DIR / "SOURCE.md").read_text()
    for folder in ("swagger-ui", "redoc"):
        assert (STATIC_DIR / folder / "LICENSE").stat().st_size > 500
        for asset in (STATIC_DIR / folder).glob("*.js"):
            assert asset.name in source
            assert (asset.parent / f"{asset.name}.LICENSE.txt").is_file()
    assert "5.35.0" in source and "2.5.4" in source


def test_the_static_files_are_package_data():
    """setuptools ships api/static only if pyproject's package-data names it (a wheel built on this tree holds
    every file below; `**` matches as in setuptools)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["api"]
    package = Path(api.__file__).parent
    shipped = {path for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    on_disk = {path for path in STATIC_DIR.rglob("*") if path.is_file()}
    assert on_disk and on_disk <= shipped
