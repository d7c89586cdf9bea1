"""Which API-key scope each route needs, read from the routes' own key checks (api/deps.py `require`).

The README's "API scopes" table is this module's output (`python -m api.scopes` prints it) and a test compares
the two, so the documentation cannot drift from what the app enforces.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from api.deps import SCOPES_ATTRIBUTE

PUBLIC = "none"
_METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}


@dataclass(frozen=True)
class RouteScope:
    method: str
    path: str
    scopes: tuple[str, ...]  # any one of them admits a key; empty: no key needed

    @property
    def label(self) -> str:
        return " or ".join(f"`{scope}`" for scope in self.scopes) if self.scopes else PUBLIC


def _scopes(dependant: Dependant) -> tuple[str, ...]:
    """The scopes of the first key check in the dependency tree (a route has at most one)."""
    pending = [dependant]
    while pending:
        current = pending.pop(0)
        found = getattr(current.call, SCOPES_ATTRIBUTE, None)
        if found is not None:
            return tuple(found)
        pending.extend(current.dependencies)
    return ()


def route_scopes(app: FastAPI) -> list[RouteScope]:
    """Every method and path the app serves, in the order the app matches them, with the scopes it needs."""
    found = []
    # iter_route_contexts flattens included routers, each route with its router's prefix and dependencies.
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            scopes = _scopes(route.dependant)
        elif isinstance(route.original_route, Mount):
            found.append(RouteScope("GET", f"{route.path}/{{path}}", ()))
            continue
        else:
            scopes = ()
        methods = sorted((route.methods or set()) - {"HEAD"}, key=lambda method: _METHOD_ORDER.get(method, 9))
        found += [RouteScope(method, route.path, scopes) for method in methods]
    return found


def markdown_table(app: FastAPI) -> str:
    lines = ["| Method | Path | Scope |", "|---|---|---|"]
    lines += [f"| `{item.method}` | `{item.path}` | {item.label} |" for item in route_scopes(app)]
    return "\n".join(lines)


if __name__ == "__main__":
    from api.main import app

    print(markdown_table(app))
