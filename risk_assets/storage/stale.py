"""Stale companies: which companies each derived asset must re-derive, kept by the writes that make them stale.

A write to an input table (``FEEDS``) marks, in the same transaction, the companies whose stored rows it changed
(a rewrite that changes only a load time changes nothing). The consumer asset reads its marks, re-derives those
companies alone and clears the marks it read by token, so a company marked again while the consumer ran stays
marked. This is what lets a new filing re-derive one company in a market of 100,000 (issue 11) without a Dagster
partition per company, whose per-partition event cost at that size is measured in docs/production.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_assets.storage.schema import TABLES

#: Input table -> the consumer assets its changes make stale (companies keyed by the rows' company_id).
FEEDS: dict[str, tuple[str, ...]] = {
    "statements": ("market_features", "features"),
    "companies": ("market_features", "features", "risk_scores", "default_events"),
    "market_features": ("features",),
    "warning_signals": ("features", "risk_scores"),
    "default_events": ("risk_scores",),
    "features": ("risk_scores",),
    "raw_filings": ("default_events", "warning_signals"),
}
#: Columns that say when or whether a row was handled, not what it says: a rewrite changing only these is no change.
VOLATILE = frozenset({"updated_at", "loaded_at", "computed_at", "fetched_at", "scored_at", "alert_pending"})
#: Tables where a write time is content: a document fetched again becomes the company's latest of its kind.
_TIMED_CONTENT = {"raw_filings": frozenset({"fetched_at"})}
#: Companies per IN list: under SQLite's and MySQL's limits on bound parameters, and under MariaDB's
#: in_predicate_conversion_threshold (1,000), from which it rewrites the list as a subquery over a table value
#: constructor. Joined to that subquery, a batch's 1,000 companies were read by a scan of the whole table (the
#: plan a primary key forced on the table does not rule out), where a list of 500 is ranges of the key
#: (through_primary_key) whatever the statistics say.
CHUNK = 500
#: Values in one IN list of composite keys, ``(k1, k2...) IN ((...), ...)``: from 1,000 values on, MariaDB rewrites
#: the list as a subquery over a table value constructor, which an UPDATE or DELETE reads against a full scan of
#: the key.
KEY_LIST_VALUES = 999
#: Marks inserted per statement. MariaDB Connector/Python sends an executemany as one bulk packet, which the server
#: refuses past max_allowed_packet (16 MB by default): an import's 100,000 companies for four consumers were 25 MB.
MARK_ROWS = 10_000

_table = TABLES["stale_companies"]


def key_chunks(keys: Sequence[tuple], width: int) -> Iterable[list[tuple]]:
    """Composite keys of ``width`` columns in lists of under KEY_LIST_VALUES values each."""
    return chunks(keys, KEY_LIST_VALUES // width)


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    """``values`` in consecutive lists of at most ``size``."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


#: The statement types that take an index hint (a read, an UPDATE).
Hinted = TypeVar("Hinted", sa.Select, sa.Update)


def forced_index(statement: Hinted, table: sa.Table, index: str) -> Hinted:
    """``statement`` on ``table`` through ``index`` on MySQL/MariaDB, whatever InnoDB's sampled statistics say
    (which lag a table that a bulk run is filling); no effect on SQLite."""
    hint = f"FORCE INDEX ({index})"
    if isinstance(statement, sa.Update):
        return statement.with_hint(hint, dialect_name="mysql").with_hint(hint, dialect_name="mariadb")
    return statement.with_hint(table, hint, "mysql").with_hint(table, hint, "mariadb")


def through_primary_key(statement: Hinted, table: sa.Table) -> Hinted:
    """A read or UPDATE of some companies' rows of ``table`` (a condition on company_id, which every company
    table's primary key starts with), the primary key forced. While a bulk run fills a table, InnoDB's sampled
    count of distinct companies lags the live row count, and MariaDB read a batch's 1,000 companies of
    market_features by a scan of the whole table: 28 reads of 1.5-1.7 million rows, 48 s of a 100,000-company
    pass."""
    return forced_index(statement, table, "PRIMARY")


def in_chunks(statement: Hinted, column: sa.Column, values: Sequence[Any]) -> Iterable[Hinted]:
    """``statement`` restricted to ``values`` of ``column``, one statement per list of at most CHUNK values (the
    one place a list of companies becomes IN lists), through the primary key where ``column`` leads it."""
    leads = column.table.primary_key.columns.values()[0] is column
    for part in chunks(values):
        restricted = statement.where(column.in_(part))
        yield through_primary_key(restricted, column.table) if leads else restricted


def replace_conditions(table: sa.Table, replace: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions of an upsert's ``replace``: a column equal to its value, or IN its list of values
    (the caller chunks a long list: bound-parameter limits)."""
    return [
        table.c[name].in_(list(value)) if isinstance(value, list | tuple | set) else table.c[name] == value
        for name, value in replace.items()
    ]


def _stored_rows(
    conn: Connection, table: sa.Table, scope: set[str] | None, others: Mapping[str, Any]
) -> pd.DataFrame:
    """The rows a write may change (its companies, or the whole table; ``others``: the rest of its replace), as the
    driver returns them: the same form as the values the write hands the driver (SQLite's dates as ISO text)."""
    conditions = replace_conditions(table, others)
    statement = sa.select(table).where(*conditions)
    statements = [statement] if scope is None else in_chunks(statement, table.c.company_id, sorted(scope))
    names = [c.name for c in table.columns]
    rows = [row for statement in statements for row in conn.execute(statement).cursor.fetchall()]
    return pd.DataFrame(rows, columns=names, dtype=object)


def _as_keys(frame: pd.DataFrame, key_names: list[str]) -> pd.DataFrame:
    """Key columns as text, so that a key compares equal whatever dtype each side inferred."""
    return frame[key_names].astype(str)


def changed_companies(
    conn: Connection,
    table: sa.Table,
    groups: Sequence[tuple[Sequence[str], Sequence[Sequence[Any]]]],
    replace: Mapping[str, Any] | None,
) -> set[str]:
    """The companies whose stored rows this write changes: a new or different row, or a row that ``replace``
    deletes and the write does not bring back. ``groups``: the write's (column names, values per column) in the
    driver's form (``Warehouse.upsert``'s prepared groups), compared with the stored rows in the same form, a
    column at a time. Read before the write, in its transaction."""
    if "company_id" not in table.c:
        return set()
    key_names = [c.name for c in table.primary_key.columns]
    groups = [(list(names), columns) for names, columns in groups if len(columns) and len(columns[0])]
    written = {str(c) for names, columns in groups for c in columns[names.index("company_id")]}
    scope: set[str] | None = set(written)  # None: the whole table
    if replace is not None:
        if not replace:
            scope = None
        elif "company_id" in replace:
            target = replace["company_id"]
            scope |= {str(c) for c in target} if isinstance(target, list | tuple | set) else {str(target)}
    others = {name: value for name, value in (replace or {}).items() if name != "company_id"}
    stored = _stored_rows(conn, table, scope, others)
    known = {str(c) for c in stored["company_id"]}
    changed = written - known  # companies with no stored row: all new, nothing to compare (a first fill)
    frames = []
    for names, columns in groups if known else ():
        frame = pd.DataFrame(dict(zip(names, columns, strict=True)), dtype=object)
        frames.append(frame[frame["company_id"].astype(str).isin(known)])
    volatile = VOLATILE - _TIMED_CONTENT.get(table.name, frozenset())
    stored_keys = _as_keys(stored, key_names)
    for frame in frames:
        compared = [n for n in frame.columns if n not in volatile and n not in key_names]
        new = pd.concat([_as_keys(frame, key_names), frame[compared].add_suffix("__new")], axis=1)
        old = pd.concat([stored_keys, stored[compared]], axis=1)
        merged = new.merge(old, on=key_names, how="left", indicator=True)
        differs = (merged["_merge"] == "left_only").to_numpy()
        for name in compared:
            mine, theirs = merged[f"{name}__new"], merged[name]
            same = (mine == theirs) | (mine.isna() & theirs.isna())
            differs |= ~same.to_numpy(dtype=bool)
        changed |= {str(c) for c in merged.loc[differs, "company_id"]}
    # a stored row the replace deletes and the write does not bring back
    if replace is not None and len(stored):
        kept = pd.concat([_as_keys(frame, key_names) for frame in frames]) if frames else stored_keys.iloc[:0]
        found = stored_keys.merge(kept.drop_duplicates(), on=key_names, how="left", indicator=True)
        changed |= {str(c) for c in found.loc[found["_merge"] == "left_only", "company_id"]}
    return changed


def mark(conn: Connection, consumers: Sequence[str], company_ids: Iterable[str], now: dt.datetime) -> int:
    """Mark companies stale for each consumer (a fresh token each time: an earlier read no longer clears it)."""
    companies = sorted({str(c) for c in company_ids})
    if not companies or not consumers:
        return 0
    rows = [
        {"consumer": consumer, "company_id": company, "token": uuid.uuid4().hex, "marked_at": now}
        for consumer in consumers
        for company in companies
    ]
    # every (consumer, company) pair is replaced: the pairs are all consumers by all companies, so lists of single
    # values find them (a range of the key on SQLite and MariaDB; SQLite scans the table for a list of pairs)
    for part in chunks(companies, KEY_LIST_VALUES - len(consumers)):
        conn.execute(
            sa.delete(_table).where(_table.c.consumer.in_(list(consumers)), _table.c.company_id.in_(part))
        )
    for part in chunks(rows, MARK_ROWS):
        conn.execute(sa.insert(_table), part)
    return len(companies)


def marked(conn_or_engine: Connection | sa.Engine, consumer: str) -> pd.DataFrame:
    """The consumer's marks (company_id, token), by company."""
    statement = (
        sa.select(_table.c.company_id, _table.c.token)
        .where(_table.c.consumer == consumer)
        .order_by(_table.c.company_id)
    )
    if isinstance(conn_or_engine, sa.Engine):
        with conn_or_engine.connect() as conn:
            rows = conn.execute(statement).fetchall()
    else:
        rows = conn_or_engine.execute(statement).fetchall()
    return pd.DataFrame([tuple(r) for r in rows], columns=["company_id", "token"])


def clear(conn: Connection, consumer: str, marks: pd.DataFrame) -> int:
    """Remove the marks a consumer read and has now handled; a mark made since (another token) stays."""
    if marks.empty:
        return 0
    pairs = list(zip(marks["company_id"], marks["token"], strict=True))
    removed = 0
    # a mark is its company's with its token: as every token is a fresh uuid, the companies' marks whose token is
    # among theirs are exactly the pairs, found by key (SQLite scans every mark of the consumer for a list of
    # pairs: 0.06 s a batch of 1,000 at 100,000 companies)
    for part in key_chunks(pairs, 2):
        companies, tokens = zip(*part, strict=True)
        removed += conn.execute(
            sa.delete(_table).where(
                _table.c.consumer == consumer,
                _table.c.company_id.in_(list(companies)),
                _table.c.token.in_(list(tokens)),
            )
        ).rowcount
    return removed
