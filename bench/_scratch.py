"""A scratch database on a MySQL/MariaDB server for the bench scripts (warehouse_write.py, scale.py): created under a
random name, dropped afterwards; the server URL's own database is never touched.

    name, url = create_scratch_database("mysql+pymysql://root@127.0.0.1:3306/test", "riskgraph_bench_")
    ...                                      # url: the same server, database riskgraph_bench_<hex>
    drop_scratch_database("mysql+pymysql://root@127.0.0.1:3306/test", name)
"""

from __future__ import annotations

import secrets

import pymysql
from sqlalchemy.engine import make_url


def connect(url: str, **options) -> pymysql.connections.Connection:
    """A PyMySQL connection to the server of the SQLAlchemy ``url`` (no database selected unless ``options`` name
    one)."""
    server = make_url(url)
    return pymysql.connect(
        host=server.host,
        port=server.port or 3306,
        user=server.username,
        password=server.password or "",
        **options,
    )


def _admin(server_url: str, sql: str) -> None:
    connection = connect(server_url, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def create_scratch_database(server_url: str, prefix: str) -> tuple[str, str]:
    """A new empty utf8mb4 database ``<prefix><8 hex>`` on the server of ``server_url``: (its name, its URL)."""
    name = f"{prefix}{secrets.token_hex(4)}"
    _admin(server_url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return name, make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_scratch_database(server_url: str, name: str) -> None:
    _admin(server_url, f"DROP DATABASE IF EXISTS `{name}`")


#: The server settings a whole-market pass depends on (docs/production.md, "Sizing the database server"): the
#: buffer pool, and the redo log (MariaDB's file size, MySQL 8.0.30+'s capacity).
SIZING = ("innodb_buffer_pool_size", "innodb_log_file_size", "innodb_redo_log_capacity")


def server_sizing(server_url: str) -> dict[str, int]:
    """The server's SIZING settings it has, in bytes, so a figure says which server it was measured on."""
    connection = connect(server_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SHOW GLOBAL VARIABLES WHERE Variable_name IN (" + ", ".join(["%s"] * len(SIZING)) + ")",
                SIZING,
            )
            return {name: int(value) for name, value in cursor.fetchall()}
    finally:
        connection.close()
