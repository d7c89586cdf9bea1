"""The read caches (api/cache.py) never serve stale data on SQLite: a commit from anywhere invalidates them."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from api.cache import ReadCache, WarehouseChanges, cached
from risk_assets.storage.api_keys import create_key, revoke_key
from risk_assets.storage.schema import risk_scores
from risk_assets.storage.warehouse import Warehouse
from tests.api.conftest import bearer

APPLE = "sec-0000320193"


def test_a_key_revoked_elsewhere_is_refused_at_once(fresh_api):
    http, store = fresh_api.client, fresh_api.warehouse
    key = create_key(store, "short-lived", "read", actor="test").secret
    for _ in range(3):  # verified once, then served from the cache
        assert http.get("/v1/companies", headers=bearer(key)).status_code == 200
    revoke_key(store, "short-lived", actor="cli:test")  # another connection, as the CLI would
    assert http.get("/v1/companies", headers=bearer(key)).status_code == 401


def test_the_profile_follows_the_pipeline_and_the_watchlist(fresh_api):
    http, read, admin = fresh_api.client, bearer(fresh_api.keys["reader"]), bearer(fresh_api.keys["admin"])
    before = http.get(f"/v1/companies/{APPLE}", headers=read).json()
    assert http.get(f"/v1/companies/{APPLE}", headers=read).json() == before  # cached, unchanged

    # a rescore written by another process (here: another engine on the same file)
    writer = Warehouse(f"sqlite:///{fresh_api.home / 'warehouse.db'}")
    with writer.transaction() as conn:
        conn.execute(
            sa.update(risk_scores)
            .where(risk_scores.c.company_id == APPLE, risk_scores.c.kind == "current")
            .values(pd=0.0123, grade="6")
        )
    writer.dispose()
    after = http.get(f"/v1/companies/{APPLE}", headers=read).json()["latest_score"]
    assert (after["pd"], after["grade"]) == (0.0123, "6")

    assert http.post("/v1/watchlist", json={"ticker": "AAPL"}, headers=admin).status_code == 201
    assert http.get(f"/v1/companies/{APPLE}", headers=read).json()["on_watchlist"] is True


def test_server_databases_reuse_reads_only_within_the_configured_seconds():
    server = Warehouse(
        "mysql+pymysql://nobody@127.0.0.1:1/none"
    )  # never connected: no token needs the server
    off = ReadCache(WarehouseChanges(server, ttl_seconds=0))
    off.store("k", off.lookup("k")[2], "v")
    assert off.lookup("k")[0] is False  # 0 s: nothing is ever reused
    on = ReadCache(WarehouseChanges(server, ttl_seconds=3600))
    on.store("k", on.lookup("k")[2], "v")
    assert on.lookup("k")[:2] == (True, "v")


def test_without_a_reuse_interval_a_server_database_is_read_every_time_and_nothing_is_kept():
    server = Warehouse("mysql+pymysql://nobody@127.0.0.1:1/none")
    off = ReadCache(WarehouseChanges(server, ttl_seconds=0))
    calls = []

    def build() -> str:
        calls.append(1)
        return f"read {len(calls)}"

    assert [asyncio.run(cached(off, server, "k", build)) for _ in range(2)] == ["read 1", "read 2"]
    assert off.lookup("k")[0] is False and not off._entries


def test_the_cache_is_bounded():
    changes = WarehouseChanges(Warehouse("mysql+pymysql://nobody@127.0.0.1:1/none"), ttl_seconds=3600)
    cache = ReadCache(changes, max_entries=2)
    for key in ("a", "b", "c"):
        cache.store(key, changes.token(), key)
    assert [cache.lookup(key)[0] for key in ("a", "b", "c")] == [False, True, True]
