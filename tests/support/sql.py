"""The statements a piece of code sends, or what the database plans for each of them, asked just before it runs
with its parameters bound (a plan depends on them and on the statistics of that moment)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa


def _plan(dialect: str, cursor, statement: str, parameters) -> str:
    """SQLite's query plan as one line, or MySQL/MariaDB's EXPLAIN as its (type, key)."""
    if dialect == "sqlite":
        found = cursor.connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        return " ".join(str(row[-1]) for row in found)
    with cursor.connection.cursor() as explaining:
        explaining.execute(f"EXPLAIN {statement}", parameters)
        row = dict(zip([d[0] for d in explaining.description], explaining.fetchone(), strict=True))
    return f"{row['type']} {row['key']}"


def sent(
    engine: sa.Engine, run: Callable[[], object], verb: str | None = None, *, plans: bool = False
) -> list[str]:
    """The statements ``run()`` sends through ``engine`` (those starting with ``verb`` when given), or with
    ``plans`` what the database plans for each."""
    found: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany) -> None:
        if verb is not None and not statement.lstrip().upper().startswith(verb):
            return
        bound = parameters[0] if executemany else parameters
        found.append(_plan(engine.dialect.name, cursor, statement, bound) if plans else statement)

    sa.event.listen(engine, "before_cursor_execute", watch)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", watch)
    return found
