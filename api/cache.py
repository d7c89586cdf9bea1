"""Read caches that are never stale on the embedded warehouse.

A cached value is kept with the warehouse's change token at the time it was built and used only while the token
is unchanged. On SQLite the token is `PRAGMA data_version` read on a connection of its own: it changes when any
other connection commits (the pipeline writing scores, `riskgraph keys revoke`, the API's own writes), so a cache
hit is exactly as fresh as a query. On a server database there is no such counter: values are then kept for
``RISKGRAPH_API_CACHE_SECONDS`` (default 0: no caching, every request reads the database).

Used for the two reads on the hot path: the API key check and the company profile.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa

from api.db import run_db
from risk_assets.storage.warehouse import Warehouse

T = TypeVar("T")
_NEVER_EQUAL = object


class WarehouseChanges:
    """A token that changes whenever the warehouse may have changed."""

    def __init__(self, warehouse: Warehouse, ttl_seconds: float = 0.0) -> None:
        url = sa.engine.make_url(warehouse.url)
        database = url.database if url.get_backend_name() == "sqlite" else None
        self._sqlite_path = database if database and database != ":memory:" else None
        self._ttl = ttl_seconds
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        #: False on a server database without a reuse interval: every read goes to the database.
        self.enabled = self._sqlite_path is not None or ttl_seconds > 0

    def token(self) -> Hashable:
        if self._sqlite_path is not None:
            with self._lock:
                if self._connection is None:
                    self._connection = sqlite3.connect(self._sqlite_path, check_same_thread=False, timeout=30)
                return self._connection.execute("PRAGMA data_version").fetchone()[0]
        if self._ttl > 0:
            return int(time.monotonic() / self._ttl)
        return _NEVER_EQUAL()  # a fresh object: equal to nothing cached

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class ReadCache:
    """Values by key, each valid while the change token it was built under is current (LRU-bounded)."""

    def __init__(self, changes: WarehouseChanges, max_entries: int = 4096) -> None:
        self._changes = changes
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._changes.enabled

    def lookup(self, key: Hashable) -> tuple[bool, Any, Hashable]:
        """(hit, value, token). Read the token before building a missing value and store it with that token, so a
        change committed while building invalidates the new entry instead of hiding behind it."""
        token = self._changes.token()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == token:
                self._entries.move_to_end(key)
                return True, found[1], token
        return False, None, token

    def store(self, key: Hashable, token: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = (token, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


async def cached(
    cache: ReadCache,
    warehouse: Warehouse,
    key: Hashable,
    build: Callable[[], T],
    keep: Callable[[T], bool] = lambda _value: True,
) -> T:
    """``cache``'s value for ``key``, else ``build()`` run by run_db (and kept when ``keep(value)``)."""
    if not cache.enabled:
        return await run_db(warehouse, build)
    hit, value, token = cache.lookup(key)
    if hit:
        return value
    value = await run_db(warehouse, build)
    if keep(value):
        cache.store(key, token, value)
    return value
