"""The warehouse on both backends: every test taking `warehouse` runs once on SQLite and once on MySQL/MariaDB.

The MySQL variants (test ids contain `mysql`) use one scratch database for the session on the server of
RISKGRAPH_TEST_MYSQL_URL, emptied before each test; without that variable they skip saying why (and fail
when CI is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from risk_assets.storage.schema import metadata
from risk_assets.storage.warehouse import Warehouse
from tests.support.servers import MySqlServer, scratch_database


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[MySqlServer]:
    with scratch_database() as server:
        yield server


def sqlite_warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")


def empty_tables(warehouse: Warehouse) -> None:
    with warehouse.transaction() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(sa.delete(table))


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def warehouse(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """A warehouse at the latest migration with every table empty."""
    if backend == "sqlite":
        store = sqlite_warehouse(tmp_path)
    else:
        server: MySqlServer = request.getfixturevalue("mysql_database")
        store = Warehouse(server.url())
    store.create_schema()
    empty_tables(store)
    yield store
    store.dispose()
