"""A real way to make the audit log refuse writes: a trigger that aborts every insert into `audit_log`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from risk_assets.storage.warehouse import Warehouse

_TRIGGER = "audit_log_refuses_inserts"


@contextmanager
def audit_log_refusing_inserts(warehouse: Warehouse) -> Iterator[None]:
    """While open, any INSERT into `audit_log` fails inside the database (SQLite RAISE(ABORT), MariaDB SIGNAL),
    rolling back the statement and leaving the caller's transaction to commit or roll back as it handles it."""
    if warehouse.dialect == "sqlite":
        create = (
            f"CREATE TRIGGER {_TRIGGER} BEFORE INSERT ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log refuses inserts'); END"
        )
    else:
        create = (
            f"CREATE TRIGGER {_TRIGGER} BEFORE INSERT ON audit_log FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log refuses inserts'"
        )
    with warehouse.transaction() as conn:
        conn.execute(sa.text(create))
    try:
        yield
    finally:
        with warehouse.transaction() as conn:
            conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {_TRIGGER}"))
