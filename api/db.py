"""Where warehouse calls run: on the event loop for SQLite, in the thread pool for a server database.

An embedded SQLite read takes a fraction of a millisecond of CPU under the GIL: a thread adds two hand-offs and,
with several requests in flight, a convoy on the GIL, and overlaps nothing. A MySQL round trip waits on the
network, which threads do overlap, and a slow server must not stall the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from risk_assets.storage.warehouse import Warehouse

T = TypeVar("T")


async def run_db(warehouse: Warehouse, function: Callable[..., T], *args: Any) -> T:
    if warehouse.dialect == "sqlite":
        return function(*args)
    return await run_in_threadpool(function, *args)
