"""Worker processes writing the batches they derive, side by side, on a server warehouse (derive/workers.py's
written_batches of a CompanyBatch): the rows, marks and counts one process writing every batch would leave, written
by the workers; on SQLite the workers derive and the run's process writes."""

from __future__ import annotations

import os

import pandas as pd
import sqlalchemy as sa

from risk_assets.derive.workers import CompanyBatch, writes_in_workers, written_batches
from risk_assets.storage.stale import chunks
from risk_assets.storage.warehouse import Warehouse
from tests.storage.test_mysql_writes import every_driver
from tests.support.derivers import MarketRowsOfBatch, market_rows_counts

COMPANIES = [f"c{i:04d}" for i in range(2400)]


def _market_rows_task() -> CompanyBatch:
    return CompanyBatch(
        MarketRowsOfBatch(),
        "market_features",
        "market_features",
        stale_after=("features",),
        track_changes=False,
        counts=market_rows_counts,
    )


def _written_recording_writes(
    warehouse: Warehouse, batches: list, task: CompanyBatch
) -> tuple[list, list[str]]:
    """written_batches of ``task`` with 2 workers, and the writing statements this process issued meanwhile."""
    writes: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT", "LOAD", "DELETE")):
            writes.append(statement)

    sa.event.listen(warehouse.engine, "before_cursor_execute", record)
    try:
        return list(written_batches(warehouse, batches, task, 2)), writes
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", record)


@every_driver
def test_worker_processes_write_their_batches_as_one_process_would(warehouse: Warehouse):
    with warehouse.transaction() as connection:
        warehouse.mark_stale(connection, ["market_features"], COMPANIES)
    marks = warehouse.stale_marks("market_features")
    # 400 companies a batch (1,200 rows: a local load on MariaDB Connector/Python), adjacent keys in each
    batches = [(part, marks[marks["company_id"].isin(part)]) for part in chunks(COMPANIES, 400)]
    task = _market_rows_task()
    assert writes_in_workers(warehouse, 2)
    results, writes = _written_recording_writes(warehouse, batches, task)
    assert writes == []  # this process wrote nothing: the workers did
    assert [companies for (companies, _), _ in results] == [part for part, _ in batches]
    expected = pd.concat([MarketRowsOfBatch()(warehouse, part) for part, _ in batches], ignore_index=True)
    assert sum(rows for _, (rows, _) in results) == len(expected) == 7200
    assert sum(counted["merton_dd"] for _, (_, counted) in results) == expected["merton_dd"].notna().sum()

    key = ["company_id", "period_end", "accession"]
    stored = warehouse.read("market_features", order_by=key)
    assert stored[key].astype(str).equals(expected[key].astype(str))
    assert stored["close"].tolist() == expected["close"].tolist()
    assert stored["merton_dd"].isna().tolist() == expected["merton_dd"].isna().tolist()
    assert stored["computed_at"].notna().all()
    writers = set(stored["reason"])
    assert f"pid {os.getpid()}" not in writers and 1 <= len(writers) <= 2
    # each batch cleared the marks it was given and marked its companies for the next asset
    assert warehouse.stale_marks("market_features").empty
    assert warehouse.stale_marks("features")["company_id"].tolist() == COMPANIES

    # written again over itself: replaced, not duplicated
    with warehouse.transaction() as connection:
        warehouse.mark_stale(connection, ["market_features"], COMPANIES)
    marks = warehouse.stale_marks("market_features")
    again = [(part, marks[marks["company_id"].isin(part)]) for part in chunks(COMPANIES, 400)]
    assert sum(rows for _, (rows, _) in written_batches(warehouse, again, task, 2)) == 7200
    assert warehouse.count("market_features") == 7200
    assert warehouse.stale_marks("market_features").empty


def test_sqlite_keeps_one_writer(tmp_path):
    assert not writes_in_workers(Warehouse("mysql+pymysql://x/y"), 0)
    assert writes_in_workers(Warehouse("mysql+pymysql://x/y"), 2)
    store = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    assert not writes_in_workers(store, 2)
    store.create_schema()
    companies = COMPANIES[:30]
    with store.transaction() as connection:
        store.mark_stale(connection, ["market_features"], companies)
    marks = store.stale_marks("market_features")
    batches = [(part, marks[marks["company_id"].isin(part)]) for part in chunks(companies, 10)]
    try:
        results, writes = _written_recording_writes(store, batches, _market_rows_task())
        stored = store.read("market_features", order_by=["company_id", "period_end"])
    finally:
        store.dispose()
    # the workers derived every batch, and this process wrote each one (a DELETE and an INSERT a batch at least)
    assert f"pid {os.getpid()}" not in set(stored["reason"])
    assert len(writes) >= 2 * len(batches)
    assert [companies for (companies, _), _ in results] == [part for part, _ in batches]
    assert sum(rows for _, (rows, _) in results) == len(stored) == 90
    assert stored["company_id"].unique().tolist() == companies
