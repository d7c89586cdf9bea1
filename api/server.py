"""Serve the gateway with uvicorn and the settings' limits: `python -m api.server --host 0.0.0.0 --port 8000`.

`riskgraph serve` and the API image both run this rather than bare `uvicorn api.main:app`, so the served API
always has a keep-alive timeout and a concurrency limit (RISKGRAPH_API_TIMEOUT_KEEP_ALIVE_SECONDS,
RISKGRAPH_API_LIMIT_CONCURRENCY); the body timeout (RISKGRAPH_API_BODY_TIMEOUT_SECONDS) is the app's own
middleware, so it holds under any server.
"""

from __future__ import annotations

import argparse
from typing import Any

from risk_assets.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments for uvicorn that bound what one client can hold."""
    return {
        "timeout_keep_alive": settings.api_timeout_keep_alive_seconds,
        "limit_concurrency": settings.api_limit_concurrency,
        # Headers are small; refuse a request whose head does not fit (uvicorn's default, made explicit).
        "h11_max_incomplete_event_size": 16 * 1024,
    }


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m api.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    uvicorn.run("api.main:app", host=args.host, port=args.port, **uvicorn_options(Settings.from_env()))


if __name__ == "__main__":
    main()
