"""Stale companies: which companies each derived asset must re-derive, kept by the writes that make them stale.

A write to an input table (``FEEDS``) marks, in the same transaction, the companies whose stored rows it changed
(a rewrite that changes only a load time changes nothing). The consumer asset reads its marks, re-derives those
companies alone and clears the marks it read by token, so a company marked again while the consumer ran stays
marked. This is what lets a new filing re-derive one company in a market of 100,000 (issue 11) without a Dagster
partition per company, whose per-partition event cost at that size is measured in docs/production.md.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
#: Companies per IN list (well under SQLite's and MySQL's limits on bound parameters).
CHUNK = 1000

_table = TABLES["stale_companies"]


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    """``values`` in consecutive lists of at most ``size``."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _plain(value: Any) -> Any:
    """A value as comparable between what a write passes the driver (on SQLite dates are ISO text already) and
    what the database gives back."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime):  # the text SQLite keeps (what a write passes its driver there)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def changed_companies(
    conn: Connection,
    table: sa.Table,
    records: list[dict[str, Any]],
    replace: Mapping[str, Any] | None,
) -> set[str]:
    """The companies whose stored rows this write (``Warehouse.upsert``'s records and ``replace``) changes: a new
    or different row, or a row that ``replace`` deletes and the records do not bring back. Read before the write,
    in its transaction."""
    if "company_id" not in table.c:
        return set()
    key_names = [c.name for c in table.primary_key.columns]
    written = {str(r["company_id"]) for r in records}
    scope: set[str] | None = set(written)  # None: the whole table
    if replace is not None:
        if not replace:
            scope = None
        elif "company_id" in replace:
            target = replace["company_id"]
            scope |= {str(c) for c in target} if isinstance(target, list | tuple | set) else {str(target)}
    stored: list[dict[str, Any]] = []
    if scope is None:
        stored = [dict(r) for r in conn.execute(sa.select(table)).mappings()]
    else:
        for part in chunks(sorted(scope)):
            stored += [
                dict(r) for r in conn.execute(sa.select(table).where(table.c.company_id.in_(part))).mappings()
            ]
    if replace:
        others = {k: v for k, v in replace.items() if k != "company_id"}
        stored = [r for r in stored if all(r[k] == v for k, v in others.items())]
    volatile = VOLATILE - _TIMED_CONTENT.get(table.name, frozenset())
    by_key = {tuple(_plain(r[k]) for k in key_names): r for r in stored}
    changed = written - {str(r["company_id"]) for r in stored}  # companies with no stored row: all new
    seen: set[tuple] = set()
    for record in records:
        company = str(record["company_id"])
        key = tuple(_plain(record[k]) for k in key_names)
        seen.add(key)
        if company in changed:
            continue
        old = by_key.get(key)
        if old is None or any(
            _plain(value) != _plain(old.get(name))
            for name, value in record.items()
            if name not in volatile and name not in key_names
        ):
            changed.add(company)
    if replace is not None:
        changed |= {str(r["company_id"]) for key, r in by_key.items() if key not in seen}
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
    for part in chunks([(r["consumer"], r["company_id"]) for r in rows]):
        conn.execute(sa.delete(_table).where(sa.tuple_(_table.c.consumer, _table.c.company_id).in_(part)))
    conn.execute(sa.insert(_table), rows)
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
    for part in chunks(pairs):
        removed += conn.execute(
            sa.delete(_table).where(
                _table.c.consumer == consumer, sa.tuple_(_table.c.company_id, _table.c.token).in_(part)
            )
        ).rowcount
    return removed
