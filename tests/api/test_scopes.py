"""The README's "API scopes" table is what api/scopes.py reads from the app, and that agrees with the scopes the
app enforces (test_auth.SCOPE, checked request by request there) and with the routes that need no key."""

from __future__ import annotations

import re
from pathlib import Path

import api
from api.scopes import markdown_table, route_scopes
from tests.api.test_auth import SCOPE

README = Path(api.__file__).parent.parent / "README.md"


def readme_table() -> str:
    text = README.read_text()
    heading = re.search(r"^#+ API scopes$", text, re.MULTILINE)
    assert heading, "README has an 'API scopes' section"
    after = text[heading.end() :]
    section = (
        after[: re.search(r"^#", after, re.MULTILINE).start()]
        if re.search(r"^#", after, re.MULTILINE)
        else after
    )
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines, "the section holds a table"
    return "\n".join(lines)


def test_the_readme_table_is_what_the_app_reports(api_app):
    assert readme_table() == markdown_table(api_app), "regenerate it with: python -m api.scopes"


def test_the_reported_scopes_are_the_enforced_ones(api_app):
    reported = {(item.method.lower(), item.path): " or ".join(item.scopes) for item in route_scopes(api_app)}
    protected = {key: scope for key, scope in reported.items() if scope}
    assert protected == SCOPE


def test_the_routes_reported_public_answer_without_a_key(api_app, api):
    public = [item for item in route_scopes(api_app) if not item.scopes]
    assert {item.path for item in public} == {
        "/health",
        "/openapi.json",
        "/docs",
        "/redoc",
        "/static/{path}",
        "/app",
        "/app/",
        "/app/{path}",
    }
    examples = {"/static/{path}": "/static/redoc/redoc.standalone.js", "/app/{path}": "/app/js/main.js"}
    for item in public:
        response = api.request(item.method, examples.get(item.path, item.path))
        assert response.status_code == 200, (item, response.text[:200])
