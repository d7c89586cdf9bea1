"""The warehouse on every backend: each test taking `warehouse` runs on SQLite and on the MySQL/MariaDB server
through both drivers the product takes, PyMySQL (`mysql`, text protocol, literal multi-row INSERTs) and MariaDB
Connector/Python (`mariadb`, binary protocol, bulk executemany).

The server variants (marked `mysql`) use one scratch database for the session on the server of
RISKGRAPH_TEST_MYSQL_URL, emptied before each test; without that variable, or without the `mariadb` module for
the `mariadb` variant, they skip saying why (and fail when CI is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from risk_assets.storage.schema import metadata
from risk_assets.storage.warehouse import Warehouse
from tests.support.servers import MySqlServer, scratch_database, unavailable

#: The SQLAlchemy driver of each server backend.
DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mariadb+mariadbconnector"}


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


def server_warehouse(server: MySqlServer, backend: str) -> Warehouse:
    """A warehouse on the test server through ``backend``'s driver."""
    if backend == "mariadb":
        try:
            import mariadb  # noqa: F401
        except ImportError:
            unavailable(
                "MariaDB Connector/Python is not installed (make setup installs it where libmariadb-dev is)"
            )
    return Warehouse(server.url(DRIVERS[backend]))


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("mariadb", marks=pytest.mark.mysql),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def warehouse(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """A warehouse at the latest migration with every table empty."""
    if backend == "sqlite":
        store = sqlite_warehouse(tmp_path)
    else:
        store = server_warehouse(request.getfixturevalue("mysql_database"), backend)
    store.create_schema()
    empty_tables(store)
    yield store
    store.dispose()
