"""The upsert statements, compiled for each server the product meets, are ones PyMySQL sends in bulk.

PyMySQL's ``executemany`` turns ``INSERT ... VALUES (...)`` (optionally ``AS alias`` and ``ON DUPLICATE KEY
UPDATE ...``) into one multi-row statement only when the SQL matches its ``RE_INSERT_VALUES``; anything
else goes row by row. No MySQL 8 server runs here, so its form (``AS new``, chosen by SQLAlchemy for MySQL
>= 8.0.20) is checked by compiling; MariaDB's form (``VALUES(col)``; it rejects ``AS new``) also runs for
real in test_mysql_writes.py.
"""

from __future__ import annotations

import pytest
from pymysql.cursors import RE_INSERT_VALUES
from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql

from risk_assets.storage.schema import TABLES
from risk_assets.storage.warehouse import Warehouse

SERVERS = {
    "mariadb-10.11": ((10, 11, 19), True),
    "mysql-8.0.36": ((8, 0, 36), False),
    "mysql-8.4.3": ((8, 4, 3), False),
}


def compiled(table_name: str, shape: list[str], version: tuple[int, ...], is_mariadb: bool) -> str:
    dialect = MySQLDialect_pymysql()
    dialect.server_version_info = version
    dialect.is_mariadb = is_mariadb
    dialect._requires_alias_for_on_duplicate_key = not is_mariadb and version >= (8, 0, 20)
    warehouse = Warehouse("mysql+pymysql://unused@127.0.0.1/unused")
    table = TABLES[table_name]
    keys = [column.name for column in table.primary_key.columns]
    statement = warehouse._upsert_statement(table, shape, keys)
    return str(statement.compile(dialect=dialect))


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_every_tables_upsert_is_sent_as_a_multi_row_insert(server, table_name):
    version, is_mariadb = SERVERS[server]
    table = TABLES[table_name]
    for shape in (
        [column.name for column in table.columns],
        [column.name for column in table.primary_key.columns],
    ):
        sql = compiled(table_name, shape, version, is_mariadb)
        assert RE_INSERT_VALUES.match(sql), sql
        assert "ON DUPLICATE KEY UPDATE" in sql and "IGNORE" not in sql


def test_mariadb_gets_values_and_mysql_8_the_row_alias():
    shape = [column.name for column in TABLES["risk_scores"].columns]
    assert "= VALUES(pd)" in compiled("risk_scores", shape, *SERVERS["mariadb-10.11"])
    assert " AS new " not in compiled("risk_scores", shape, *SERVERS["mariadb-10.11"])
    assert ") AS new ON DUPLICATE KEY UPDATE" in compiled("risk_scores", shape, *SERVERS["mysql-8.4.3"])
    assert "= new.pd" in compiled("risk_scores", shape, *SERVERS["mysql-8.4.3"])
