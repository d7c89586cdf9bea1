"""What the warehouse sends to MySQL/MariaDB, and what survives a writer killed mid-transaction.

Bulk: the warehouse writes each batch of ``INSERT ... VALUES (...) ON DUPLICATE KEY UPDATE`` (MariaDB's
``VALUES(col)`` form and MySQL 8's ``AS new`` form alike) as one multi-row statement, the statement PyMySQL's
``executemany`` would send, with the values written as literals a column at a time (PyMySQL escapes them one
by one); the server's own statement counter proves it, and the values read back are pinned elsewhere
(test_bulk_values.py, test_warehouse.py). Fault: a second connection runs
``KILL <CONNECTION_ID()>`` on the writer between two batches of a partition's upsert.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.storage import warehouse as warehouse_module
from risk_assets.storage.schema import market_prices, risk_scores
from risk_assets.storage.warehouse import Warehouse
from tests.storage.test_warehouse import key_counts, scores_for

PYMYSQL = pytest.param("mysql", marks=pytest.mark.mysql)
MARIADB_CONNECTOR = pytest.param("mariadb", marks=pytest.mark.mysql)
#: What any MySQL driver must do; the driver-specific tests name theirs.
every_driver = pytest.mark.parametrize("backend", [PYMYSQL, MARIADB_CONNECTOR])


def prices(n: int) -> list[dict]:
    start = dt.date(2000, 1, 1)
    return [
        {
            "symbol": f"S{i % 50:03d}",
            "price_date": start + dt.timedelta(days=i // 50),
            "close": 100.0 + i,
            "adjclose": 99.0 + i,
            "volume": float(i),
            "currency": "USD",
        }
        for i in range(n)
    ]


def partial_prices(n: int) -> list[dict]:
    """prices(n) without their volume: rows that do not give every column, which an upsert never loads."""
    return [{name: value for name, value in row.items() if name != "volume"} for row in prices(n)]


def session_counter(connection: sa.Connection, name: str) -> int:
    row = connection.exec_driver_sql(f"SHOW SESSION STATUS LIKE '{name}'").one()
    return int(row[1])


@pytest.mark.parametrize("backend", [PYMYSQL])
def test_each_batch_is_one_multi_row_insert_statement(warehouse: Warehouse):
    cursor_calls: list[bool] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT"):
            cursor_calls.append(executemany)

    sa.event.listen(warehouse.engine, "before_cursor_execute", record)
    try:
        for round_ in range(2):  # first all inserts, then all updates of the same keys
            with warehouse.transaction() as connection:
                before = session_counter(connection, "Com_insert")
                warehouse.upsert("market_prices", prices(5000), batch_size=2000, connection=connection)
                assert session_counter(connection, "Com_insert") - before == 3, f"round {round_}"
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", record)
    assert cursor_calls == [False] * 6  # one statement per batch, not the driver's executemany
    assert warehouse.count("market_prices") == 5000
    assert set(key_counts(warehouse, market_prices)) == {1}


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_each_batch_is_one_bulk_execution_and_reads_come_back_in_binary(warehouse: Warehouse):
    cursor_calls: list[tuple[bool, int]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT"):
            cursor_calls.append((executemany, len(parameters)))

    sa.event.listen(warehouse.engine, "before_cursor_execute", record)
    try:
        with warehouse.transaction() as connection:
            before = session_counter(connection, "Com_stmt_execute")
            # without one column: not whole rows, so not a load (test_whole_rows_go_as_one_replacing_load)
            warehouse.upsert("market_prices", partial_prices(5000), batch_size=2000, connection=connection)
            executions = session_counter(connection, "Com_stmt_execute") - before
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", record)
    # the driver's executemany, one per batch, each one server-side execution of every row (MariaDB's bulk)
    assert cursor_calls == [(True, 2000), (True, 2000), (True, 1000)]
    assert executions == 3
    prepared: list[int] = []  # the reading session's count of prepared executions, before and after the read

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            probe = cursor.connection.cursor()  # the reader's own session
            probe.execute("SHOW SESSION STATUS LIKE 'Com_stmt_execute'")
            prepared.append(int(probe.fetchone()[1]))
            probe.close()

    for moment in ("before_cursor_execute", "after_cursor_execute"):
        sa.event.listen(warehouse.engine, moment, count)
    try:
        stored = warehouse.read("market_prices", order_by=["symbol", "price_date"])
    finally:
        for moment in ("before_cursor_execute", "after_cursor_execute"):
            sa.event.remove(warehouse.engine, moment, count)
    before, after = prepared
    assert after == before + 1  # the read was one prepared statement's execution: rows in the binary protocol
    assert len(stored) == 5000 and stored["close"].dtype == float
    assert stored["close"].sum() == sum(row["close"] for row in prices(5000))
    assert stored["volume"].isna().all()


@every_driver
def test_wide_rows_still_go_in_a_few_statements(warehouse: Warehouse):
    rows = scores_for(companies=500, years=10)  # 5000 score rows
    with warehouse.transaction() as connection:
        before = session_counter(connection, "Com_insert")
        warehouse.upsert("risk_scores", rows, connection=connection)
        statements = session_counter(connection, "Com_insert") - before
    # 3 batches of <= 2000 rows; PyMySQL splits a batch further only past ~1 MB of SQL.
    assert 3 <= statements <= 10


@every_driver
def test_the_session_refuses_bad_values_whatever_the_server_default(warehouse: Warehouse):
    with warehouse.engine.connect() as connection:
        assert "STRICT_TRANS_TABLES" in connection.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
        assert connection.get_isolation_level() == "READ COMMITTED"
    too_long = {**partial_prices(1)[0], "symbol": "X" * 25}
    with pytest.raises(sa.exc.DataError) as raised:  # not whole rows: statements, not a load (its own test)
        warehouse.upsert("market_prices", [*partial_prices(3000), too_long])
    # the error names the statement and how many rows it carried, not every value of them
    statement = raised.value.statement
    assert statement.startswith("INSERT INTO market_prices")
    if (
        warehouse.engine.dialect.driver == "pymysql"
    ):  # a literal multi-row statement, not the SQL with its values
        assert "<1,001 rows of values>" in statement
    assert len(str(raised.value)) < 2000


@every_driver
def test_an_infinite_value_is_refused_with_its_column_and_nothing_is_written(warehouse: Warehouse):
    rows = prices(3)
    rows[1]["close"] = float("inf")
    with pytest.raises(ValueError, match="market_prices.close: an infinite value cannot be stored in MySQL"):
        warehouse.upsert("market_prices", rows)
    assert warehouse.count("market_prices") == 0


@every_driver
def test_a_writer_killed_between_batches_leaves_the_previous_partition_and_the_retry_completes(
    warehouse: Warehouse, mysql_database, monkeypatch: pytest.MonkeyPatch
):
    # batches of the driver's executemany, not one local load (test_a_writer_killed_at_its_load...)
    monkeypatch.setattr(warehouse_module, "LOAD_DATA_ROWS", 10**9)
    previous = scores_for(companies=50, years=4, version="1")  # the partition as the last good run left it
    other = scores_for(companies=10, years=2, version="2")  # another partition, never touched here
    warehouse.upsert("risk_scores", previous)
    warehouse.upsert("risk_scores", other)
    replacement = [
        {**row, "pd": row["pd"] * 2, "model_pd": row["model_pd"] * 2}
        for row in scores_for(companies=100, years=10, version="1")
    ]

    admin = mysql_database.connect()
    killed: dict[str, int] = {}
    batches: list[int] = []

    def kill_after_third_batch(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith("INSERT"):
            return
        batches.append(len(parameters) if executemany else statement.count("),(") + 1)  # the batch's rows
        if len(batches) == 3:
            probe = cursor.connection.cursor()  # the writer's own connection, mid-transaction
            probe.execute("SELECT CONNECTION_ID()")
            killed["id"] = probe.fetchone()[0]
            probe.close()
            with admin.cursor() as admin_cursor:
                admin_cursor.execute(f"KILL {int(killed['id'])}")

    sa.event.listen(warehouse.engine, "after_cursor_execute", kill_after_third_batch)
    try:
        with pytest.raises(sa.exc.OperationalError) as raised:
            warehouse.upsert(
                "risk_scores", replacement, replace={"model_version": "1", "kind": "period"}, batch_size=100
            )
    finally:
        sa.event.remove(warehouse.engine, "after_cursor_execute", kill_after_third_batch)
        admin.close()
    assert batches == [100, 100, 100], "the kill landed after the third of ten batches"
    # taken for a lost connection (server gone, connection lost, a broken pipe), which the pool drops
    assert raised.value.connection_invalidated, raised.value

    # The previous partition is intact: the delete and the three batches were rolled back together.
    stored = warehouse.read("risk_scores", where={"model_version": "1"}, order_by=["company_id", "as_of"])
    assert len(stored) == len(previous)
    assert list(stored["pd"]) == [
        row["pd"] for row in sorted(previous, key=lambda r: (r["company_id"], r["as_of"]))
    ]
    assert warehouse.count("risk_scores", where={"model_version": "2"}) == len(other)

    # The retried write (a new pooled connection) completes, exactly once per key.
    assert (
        warehouse.upsert(
            "risk_scores", replacement, replace={"model_version": "1", "kind": "period"}, batch_size=100
        )
        == 1000
    )
    assert warehouse.count("risk_scores", where={"model_version": "1"}) == 1000
    assert warehouse.count("risk_scores", where={"model_version": "2"}) == len(other)
    assert set(key_counts(warehouse, risk_scores)) == {1}
    stored = warehouse.read(
        "risk_scores", where={"model_version": "1", "company_id": "c0000"}, order_by=["as_of"]
    )
    assert list(stored["pd"]) == [0.002] * 10


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_fresh_rows_go_as_one_local_load_and_read_back_exactly(warehouse: Warehouse):
    rows = prices(5000)
    rows[7]["currency"], rows[8]["close"] = None, None
    rows[9]["currency"] = "\\N"  # the text of a load's NULL, as a value
    with warehouse.transaction() as connection:
        loads, inserts = session_counter(connection, "Com_load"), session_counter(connection, "Com_insert")
        # a replace that deleted every row the new ones could meet: a plain insert, sent as a local load
        warehouse.upsert("market_prices", rows, replace={}, connection=connection)
        assert session_counter(connection, "Com_load") - loads == 1
        assert session_counter(connection, "Com_insert") - inserts == 0
    stored = warehouse.read("market_prices", order_by=["price_date", "symbol"])
    expected = pd.DataFrame(rows).sort_values(["price_date", "symbol"], ignore_index=True)
    assert stored["symbol"].tolist() == expected["symbol"].tolist()
    assert stored["close"].tolist()[:7] == expected["close"].tolist()[:7]
    assert stored["close"].isna().tolist() == expected["close"].isna().tolist()
    assert stored["volume"].tolist() == expected["volume"].tolist()
    assert stored["currency"].tolist() == [None if c is None else c for c in expected["currency"]]
    # a few rows: the driver's bulk execution (a load's file and round trips cost more than they save)
    with warehouse.transaction() as connection:
        loads = session_counter(connection, "Com_load")
        warehouse.upsert("market_prices", prices(10), replace={}, connection=connection)
        assert session_counter(connection, "Com_load") == loads
    assert warehouse.count("market_prices") == 10


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_whole_rows_go_as_one_replacing_load(warehouse: Warehouse):
    """An upsert of rows that give every column (market_prices has no key but its primary key) is one load that
    REPLACEs: the stored rows of its keys take the new values, the others are added, none is doubled, and a row
    the upsert does not name keeps its values."""
    warehouse.upsert("market_prices", prices(3000), replace={})
    rows = [{**row, "close": row["close"] + 1, "currency": None} for row in prices(5000)[1000:]]
    with warehouse.transaction() as connection:
        loads, inserts = session_counter(connection, "Com_load"), session_counter(connection, "Com_insert")
        assert warehouse.upsert("market_prices", rows, connection=connection) == 4000
        assert session_counter(connection, "Com_load") - loads == 1
        assert session_counter(connection, "Com_insert") - inserts == 0
    stored = warehouse.read("market_prices", order_by=["price_date", "symbol"])
    expected = pd.DataFrame(prices(1000) + rows).sort_values(["price_date", "symbol"], ignore_index=True)
    assert set(key_counts(warehouse, market_prices)) == {1}
    assert stored["symbol"].tolist() == expected["symbol"].tolist()
    assert stored["close"].tolist() == expected["close"].tolist()
    assert stored["currency"].tolist() == expected["currency"].tolist()
    # the same rows again: nothing changes, and the write still succeeds (an unchanged row counts once)
    assert warehouse.upsert("market_prices", rows) == 4000
    pd.testing.assert_frame_equal(warehouse.read("market_prices", order_by=["price_date", "symbol"]), stored)


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_a_value_a_replacing_load_cannot_store_fails_the_write_and_keeps_the_stored_rows(
    warehouse: Warehouse,
):
    warehouse.upsert("market_prices", prices(2000))
    rows = [{**row, "close": row["close"] + 1} for row in prices(3000)]
    rows[2500]["symbol"] = "X" * 25  # over the column's 24 characters
    # a REPLACE is not a load that ignores: strict mode refuses the value as it refuses a statement's
    with pytest.raises(sa.exc.DataError, match=r"Data too long for column 'symbol' at row 2501"):
        warehouse.upsert("market_prices", rows)
    stored = warehouse.read("market_prices")
    assert len(stored) == 2000 and stored["close"].sum() == sum(row["close"] for row in prices(2000))


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_a_value_a_load_cannot_store_fails_the_write_and_keeps_the_stored_rows(warehouse: Warehouse):
    warehouse.upsert("market_prices", prices(2000))
    rows = [{**row, "close": row["close"] + 1} for row in prices(3000)]
    rows[2500]["currency"] = (
        "DOLLARS"  # over the column's 3 characters: a warning in a local load, not an error
    )
    with pytest.raises(ValueError, match=r"market_prices: a load of 3,000 rows .*currency"):
        warehouse.upsert("market_prices", rows, replace={})
    stored = warehouse.read("market_prices")
    assert len(stored) == 2000 and stored["close"].sum() == sum(row["close"] for row in prices(2000))


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_a_writer_killed_at_its_load_keeps_the_previous_rows_and_the_retry_completes(
    warehouse: Warehouse, mysql_database
):
    warehouse.upsert("market_prices", prices(2000))
    rows = [{**row, "close": row["close"] + 1} for row in prices(3000)]
    admin = mysql_database.connect()

    def kill_at_load(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("LOAD DATA"):
            probe = cursor.connection.cursor()
            probe.execute("SELECT CONNECTION_ID()")
            (writer,) = probe.fetchone()
            probe.close()
            with admin.cursor() as admin_cursor:
                admin_cursor.execute(f"KILL {int(writer)}")

    sa.event.listen(warehouse.engine, "before_cursor_execute", kill_at_load)
    try:
        with pytest.raises(sa.exc.DBAPIError) as raised:  # the connector: InterfaceError, "Lost connection"
            warehouse.upsert("market_prices", rows, replace={})
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", kill_at_load)
        admin.close()
    assert raised.value.connection_invalidated, raised.value
    stored = warehouse.read("market_prices")
    assert len(stored) == 2000 and stored["close"].sum() == sum(row["close"] for row in prices(2000))
    assert warehouse.upsert("market_prices", rows, replace={}) == 3000
    assert warehouse.read("market_prices")["close"].sum() == sum(row["close"] for row in rows)


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_a_server_without_local_loads_gets_the_bulk_execution(warehouse: Warehouse, mysql_database):
    admin = mysql_database.connect()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SET GLOBAL local_infile = 0")
        fresh = Warehouse(warehouse.url)  # asks the server once, when it first writes
        try:
            with fresh.transaction() as connection:
                loads, inserts = (
                    session_counter(connection, "Com_load"),
                    session_counter(connection, "Com_insert"),
                )
                fresh.upsert("market_prices", prices(3000), replace={}, connection=connection)
                assert session_counter(connection, "Com_load") == loads
                assert session_counter(connection, "Com_insert") > inserts
        finally:
            fresh.dispose()
    finally:
        with admin.cursor() as cursor:
            cursor.execute("SET GLOBAL local_infile = 1")
        admin.close()
    assert warehouse.count("market_prices") == 3000


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_the_mariadb_connector_warns_once_where_the_server_is_not_mariadb(
    warehouse: Warehouse, caplog: pytest.LogCaptureFixture
):
    from types import SimpleNamespace

    from risk_assets.storage.warehouse import _warn_without_bulk_operations

    warning = "writes a row per statement"
    # this server is MariaDB: the warehouse's first connection (the fixture's) said nothing
    assert warehouse.count("market_prices") == 0
    assert not [r for r in caplog.get_records("setup") + caplog.records if warning in r.getMessage()]
    # a MySQL server's connection would be warned about, naming the server
    _warn_without_bulk_operations(SimpleNamespace(server_info="8.4.3"), None)
    (record,) = [r for r in caplog.records if warning in r.getMessage()]
    assert "8.4.3" in record.getMessage() and "mysql+pymysql://" in record.getMessage()


@every_driver
def test_a_transaction_that_met_a_lock_conflict_runs_again_from_its_start(
    warehouse: Warehouse, mysql_database
):
    warehouse.upsert("market_prices", prices(10))
    admin = mysql_database.connect()  # holds one row's lock, as another batch's writer would
    with admin.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT * FROM market_prices WHERE symbol = 'S000' FOR UPDATE")
    attempts: list[int] = []

    def write(connection: sa.Connection) -> int:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 2:
            admin.commit()  # the other writer finishes
        connection.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
        warehouse.upsert("market_prices", [{**prices(1)[0], "close": 1.5}], connection=connection)
        return len(attempts)

    try:
        assert warehouse.retried_transaction(write) == 2
    finally:
        admin.close()
    assert attempts == [1, 2]
    assert warehouse.read("market_prices", where={"symbol": "S000"})["close"].tolist() == [1.5]

    def refused(connection: sa.Connection) -> None:
        attempts.append(len(attempts) + 1)
        warehouse.upsert("market_prices", [{**prices(1)[0], "symbol": "X" * 25}], connection=connection)

    attempts.clear()
    with pytest.raises(sa.exc.DataError):  # not a lock conflict: raised at once
        warehouse.retried_transaction(refused)
    assert attempts == [1]
