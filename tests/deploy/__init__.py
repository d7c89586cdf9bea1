"""Tests of the production deployment files, run without a Docker engine or a cloudflared binary.

Shared helpers live here (the test modules import them): the repository root, the skip-or-fail rule for
checks whose tool is missing, and a scratch database on the test MySQL/MariaDB server.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer's machine, fail in CI: a check that cannot run must never pass silently there."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this check must run, not skip")
    pytest.skip(reason)


@dataclass(frozen=True)
class MySqlServer:
    host: str
    port: int
    user: str
    password: str
    database: str


@contextmanager
def scratch_database() -> Iterator[MySqlServer]:
    """A new, empty database on the server of RISKGRAPH_TEST_MYSQL_URL, dropped afterwards.

    Not the URL's own database: Dagster's MySQL storage and the warehouse both keep an
    `alembic_version` table, and other tests use that database at the same time.
    """
    url_text = os.environ.get("RISKGRAPH_TEST_MYSQL_URL", "").strip()
    if not url_text:
        unavailable("RISKGRAPH_TEST_MYSQL_URL is not set (e.g. mysql+pymysql://root@127.0.0.1:3306/test)")
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(url_text)
    server = MySqlServer(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=f"rg_deploy_{secrets.token_hex(4)}",
    )
    connection = pymysql.connect(
        host=server.host, port=server.port, user=server.user, password=server.password, autocommit=True
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{server.database}`")
        yield server
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{server.database}`")
        connection.close()
