"""The schema is Alembic migrations that run on SQLite and MySQL/MariaDB, generated from storage/schema.py;
db/init/01_schema.sql (the compose container's first boot) is exactly what those migrations emit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from risk_assets.storage import migrations
from risk_assets.storage.schema import TABLES, metadata
from risk_assets.storage.warehouse import Warehouse
from tests.storage.conftest import sqlite_warehouse
from tests.storage.test_warehouse import scores_for
from tests.support.servers import scratch_database

REPO = Path(__file__).resolve().parents[2]
INIT_SQL = REPO / "db" / "init" / "01_schema.sql"
INITIAL_MIGRATION = REPO / "db" / "migrations" / "versions" / migrations.INITIAL_MIGRATION_FILE
# InnoDB's largest index key (DYNAMIC rows, MySQL 8 and MariaDB 10.11 defaults), and utf8mb4's bytes per char.
INNODB_MAX_KEY_BYTES = 3072
UTF8MB4_BYTES = 4


def schema_differences(warehouse: Warehouse) -> list:
    """What Alembic's autogenerate would still have to do to reach schema.py (types compared too)."""
    with warehouse.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def warehouse_tables(warehouse: Warehouse) -> set[str]:
    return set(sa.inspect(warehouse.engine).get_table_names()) - {"alembic_version"}


def fresh_warehouse(backend: str, tmp_path: Path, stack) -> Warehouse:
    if backend == "sqlite":
        store = sqlite_warehouse(tmp_path)
    else:
        server = stack.enter_context(scratch_database())
        store = Warehouse(server.url())
    stack.callback(store.dispose)
    return store


# --- generated files ---------------------------------------------------------------------------------------


def test_init_sql_is_exactly_what_the_migrations_emit():
    assert INIT_SQL.read_text() == migrations.init_sql(), "run `make schema` and commit db/init/01_schema.sql"
    text = INIT_SQL.read_text()
    # the stamp reaches the head: inserted by the first migration, moved by each later one
    head = migrations.head_revision()
    assert (
        f"INSERT INTO alembic_version (version_num) VALUES ('{head}');" in text
        or f"UPDATE alembic_version SET version_num='{head}'" in text
    )
    for name in TABLES:
        assert f"CREATE TABLE {name} (" in text


def test_the_initial_migration_is_generated_from_schema_py():
    later = [path.name for path in migrations.migration_files() if path != INITIAL_MIGRATION]
    if later:
        pytest.skip(f"later migrations exist ({later}): 0001 is frozen; the upgrade tests check the head")
    assert INITIAL_MIGRATION.read_text() == migrations.render_initial_migration(), (
        "schema.py changed: run `make schema` and commit the regenerated 0001 migration"
    )


def test_every_key_fits_innodb_with_utf8mb4():
    """Index keys are counted in bytes on MySQL: VARCHAR(n) takes 4n with utf8mb4 (3072 is the limit)."""
    dialect = sa.dialects.mysql.dialect()

    def key_bytes(columns) -> int:
        total = 0
        for column in columns:
            column_type = column.type.dialect_impl(dialect)
            if isinstance(column_type, sa.String):
                assert not isinstance(column_type, sa.Text), f"{column} is TEXT: it cannot be a whole key"
                total += column_type.length * UTF8MB4_BYTES
            else:
                total += 8  # DATE 3, DATETIME(6) 8, INTEGER 4, BIGINT 8: 8 bounds them all
        return total

    for table in metadata.sorted_tables:
        keys = [("primary key", table.primary_key.columns)] + [
            (index.name, index.columns) for index in table.indexes
        ]
        for name, columns in keys:
            assert key_bytes(columns) <= INNODB_MAX_KEY_BYTES, f"{table.name}.{name}"


# --- upgrade and downgrade on both backends ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_upgrade_builds_schema_py_exactly_and_downgrade_removes_it(backend, tmp_path):
    from contextlib import ExitStack

    with ExitStack() as stack:
        store = fresh_warehouse(backend, tmp_path, stack)
        assert migrations.current_revision(store) is None
        store.create_schema()
        assert migrations.current_revision(store) == migrations.head_revision()
        assert warehouse_tables(store) == set(TABLES)
        assert schema_differences(store) == []
        store.create_schema()  # at head already: nothing to do, nothing fails
        assert migrations.current_revision(store) == migrations.head_revision()

        store.drop_schema()  # through the migrations: alembic_version is emptied too
        assert warehouse_tables(store) == set()
        assert migrations.current_revision(store) is None
        store.create_schema()
        assert schema_differences(store) == []


def test_an_index_added_to_an_analysed_sqlite_warehouse_gets_its_statistics(tmp_path):
    """Migration 0006 on a warehouse that has planner statistics: the new index has them too (without them SQLite
    would take it for a selective one and read every period row of the market for a batch of companies)."""
    store = sqlite_warehouse(tmp_path)
    try:
        migrations.upgrade(store, "0005")
        store.upsert("risk_scores", scores_for(companies=50, years=4))
        store.refresh_statistics("risk_scores")
        migrations.upgrade(store)
        with store.engine.connect() as conn:
            analysed = {row[0] for row in conn.exec_driver_sql("SELECT idx FROM sqlite_stat1")}
        assert "ix_scores_rank" in analysed
    finally:
        store.dispose()


def test_scores_stored_before_the_feature_digest_keep_their_values_through_the_upgrade(tmp_path):
    """Migration 0007 (feature values only with the kept drivers, a digest on every score) rebuilds the SQLite
    table: every stored row and its JSON survive, the statistics are taken again, a score without its values
    can then be written, and the downgrade gives those "{}" again rather than failing on them."""
    store = sqlite_warehouse(tmp_path)
    table = TABLES["risk_scores"]
    try:
        migrations.upgrade(store, "0006")
        rows = scores_for(companies=20, years=3)
        for n, row in enumerate(rows):
            row["feature_values"] = f'{{"x": {n}}}'
        store.upsert("risk_scores", [{k: v for k, v in r.items() if k != "feature_digest"} for r in rows])
        store.refresh_statistics("risk_scores")
        migrations.upgrade(store)
        stored = store.read(
            "risk_scores", columns=["company_id", "as_of", "feature_values", "feature_digest"]
        )
        assert sorted(stored["feature_values"]) == sorted(r["feature_values"] for r in rows)
        assert stored["feature_digest"].isna().all()
        with store.engine.connect() as conn:
            analysed = {row[0] for row in conn.exec_driver_sql("SELECT idx FROM sqlite_stat1")}
        assert {"ix_scores_rank", "ix_scores_pending"} <= analysed
        slim = {**rows[0], "feature_values": None, "feature_digest": "0" * 32}
        store.upsert("risk_scores", [slim])
        migrations.downgrade(store, "0006")
        with store.engine.connect() as conn:
            texts = conn.execute(
                sa.select(table.c.feature_values).where(table.c.company_id == "c0000")
            ).scalars()
            assert "{}" in set(texts)
    finally:
        store.dispose()


@pytest.mark.mysql
def test_mysql_tables_are_innodb_utf8mb4_with_microsecond_datetimes():
    with scratch_database() as server:
        store = Warehouse(server.url())
        try:
            store.create_schema()
            with store.engine.connect() as connection:

                def catalogue(query: str) -> list:
                    """Rows of an information_schema query about this scratch database (``:db``)."""
                    return connection.execute(sa.text(query), {"db": server.database}).all()

                rows = catalogue(
                    "SELECT table_name, engine, table_collation FROM information_schema.tables WHERE table_schema = :db"
                )
                precision = dict(
                    catalogue(
                        "SELECT CONCAT(table_name, '.', column_name), datetime_precision "
                        "FROM information_schema.columns WHERE table_schema = :db AND data_type = 'datetime'"
                    )
                )
                column_types = dict(
                    catalogue(
                        "SELECT CONCAT(table_name, '.', column_name), column_type "
                        "FROM information_schema.columns WHERE table_schema = :db"
                    )
                )
        finally:
            store.dispose()
    assert {name for name, _, _ in rows} == set(TABLES) | {"alembic_version"}
    for name, engine, collation in rows:
        assert engine == "InnoDB", name
        assert collation.startswith("utf8mb4"), name
    assert precision and set(precision.values()) == {6}
    assert column_types["risk_scores.pd"] == "double"
    assert column_types["risk_scores.drivers"] == "mediumtext"
    assert column_types["risk_scores.in_default"] == "tinyint(1)"


@pytest.mark.mysql
def test_concurrent_upgrades_of_one_empty_database_from_two_processes_both_succeed():
    """Two processes starting together (e.g. two run workers) must not both create the tables."""
    script = "import sys; from risk_assets.storage.warehouse import Warehouse; Warehouse(sys.argv[1]).create_schema()"
    with scratch_database() as server:
        processes = [
            subprocess.Popen([sys.executable, "-c", script, server.url()], stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outcomes = [(process.wait(timeout=180), process.stderr.read()) for process in processes]
        store = Warehouse(server.url())
        try:
            assert outcomes == [(0, ""), (0, "")]
            assert migrations.current_revision(store) == migrations.head_revision()
            assert warehouse_tables(store) == set(TABLES)
        finally:
            store.dispose()


@pytest.mark.mysql
def test_the_init_script_builds_the_same_schema_on_the_server():
    """01_schema.sql run statement by statement, as the MySQL image's entrypoint does, equals `upgrade head`."""
    statements = [
        text.strip()
        for text in "\n".join(
            line for line in INIT_SQL.read_text().splitlines() if not line.lstrip().startswith("--")
        ).split(";")
        if text.strip()
    ]
    with scratch_database() as server:
        connection = server.connect()
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()
        store = Warehouse(server.url())
        try:
            assert migrations.current_revision(store) == migrations.head_revision()
            assert warehouse_tables(store) == set(TABLES)
            assert schema_differences(store) == []
            store.create_schema()  # the application's start-up upgrade finds nothing to do
            assert migrations.current_revision(store) == migrations.head_revision()
        finally:
            store.dispose()
