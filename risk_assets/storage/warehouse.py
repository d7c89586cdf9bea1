"""The warehouse: one class over SQLite (embedded default) and MySQL/MariaDB (production).

Every write is a bulk upsert keyed by the table's natural (primary) key inside one transaction, so a
failed or killed run leaves the previous rows intact and a retried run never duplicates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from pymysql.cursors import RE_INSERT_VALUES  # how PyMySQL finds the rows of an INSERT to batch
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.dialects.mysql.mariadbconnector import MySQLExecutionContext_mariadbconnector
from sqlalchemy.engine import Connection, Engine

from risk_assets.storage import stale
from risk_assets.storage.schema import TABLES

_LOG = logging.getLogger(__name__)
R = TypeVar("R")


def utc_now() -> dt.datetime:
    """The time stamp stored rows carry: UTC, naive (DATETIME columns have no zone), whole seconds."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


Rows = Iterable[Mapping[str, Any]] | pd.DataFrame


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine with the settings each backend needs (WAL + busy timeout on SQLite)."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            import pathlib

            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # READ COMMITTED: a partition's DELETE + INSERT takes no gap locks that would block a concurrent run
    # writing another partition; each write is still one transaction.
    # MariaDB Connector/Python may send a file the client names in LOAD DATA LOCAL INFILE (fresh inserts:
    # Warehouse._load_data); PyMySQL never does
    files = {"local_infile": True} if url.startswith("mariadb+mariadbconnector") else {}
    engine = sa.create_engine(
        url, pool_pre_ping=True, pool_recycle=3600, isolation_level="READ COMMITTED", connect_args=files
    )
    if engine.dialect.name in ("mysql", "mariadb"):
        sa.event.listen(engine, "connect", _mysql_strict_mode)
    if engine.dialect.driver == "mariadbconnector":
        engine.dialect.execution_ctx_cls = _BinaryRowsContext
        sa.event.listen(engine, "handle_error", _mariadb_lost_connection)
        sa.event.listen(engine, "first_connect", _warn_without_bulk_operations)
    return engine


def _warn_without_bulk_operations(dbapi_connection: Any, _record: Any) -> None:
    """MariaDB Connector/Python sends a batch of rows as one bulk execution only to a MariaDB server; to MySQL its
    executemany sends them one statement each. Said once per engine, so that a MySQL deployment uses PyMySQL."""
    server = str(getattr(dbapi_connection, "server_info", "unknown"))
    if "MariaDB" not in server:
        _LOG.warning(
            "MariaDB Connector/Python on a server that is not MariaDB (%s) writes a row per statement; "
            "use a mysql+pymysql:// warehouse URL there",
            server,
        )


#: How MariaDB Connector/C words a connection that is gone (killed, server restarted, network cut), with its codes:
#: 2006 server gone away, 2013 lost during a query, 5014 write error (a broken pipe mid-statement).
_LOST_CONNECTION_CODES = frozenset({2006, 2013, 5014})
_LOST_CONNECTION_WORDS = ("gone away", "Lost connection", "Broken pipe", "Write error", "Read error")


def _mariadb_lost_connection(context: sa.engine.ExceptionContext) -> None:
    """A connection MariaDB Connector/Python lost is a disconnect: SQLAlchemy's dialect knows only some of its
    wordings, and on the others would roll back on the dead connection and raise that ("Server has gone away")
    instead of the error that ended the statement, and return the connection to the pool."""
    error = context.original_exception
    code = getattr(error, "errno", None)
    if code in _LOST_CONNECTION_CODES or any(word in str(error) for word in _LOST_CONNECTION_WORDS):
        context.is_disconnect = True


#: The execution option with which a read asks for its rows in the server's binary protocol (query()).
BINARY_ROWS = "riskgraph_binary_rows"


class _BinaryRowsContext(MySQLExecutionContext_mariadbconnector):
    """MariaDB Connector/Python's execution with reads in the binary protocol when asked (``BINARY_ROWS``): the
    server sends a DOUBLE as its 8 bytes instead of formatting it as text, which the client then parses. On a
    batch of feature rows (32,000 x 130 doubles) that is the difference between ~7 s and ~0.5 s."""

    def create_default_cursor(self) -> Any:
        if self.execution_options.get(BINARY_ROWS):
            return self._dbapi_connection.cursor(buffered=True, binary=True)
        return super().create_default_cursor()


#: Server errors after which a transaction may run again from its start: 1213, the server rolled it back to break a
#: deadlock; 1205, a lock wait timed out. Concurrent batch writers (derive/workers.py) can meet on a key's
#: neighbourhood even under READ COMMITTED (a duplicate-key check locks the gap before a key).
_LOCK_CONFLICT_CODES = frozenset({1205, 1213})
#: Times retried_transaction runs a transaction that met a lock conflict.
LOCK_CONFLICT_ATTEMPTS = 4


class WriteConflict(RuntimeError):
    """What a transaction read changed before it wrote (another writer's rows appeared among those it meant to
    write): retried_transaction runs it again from its start, as after a lock conflict."""


def _lock_conflict(error: sa.exc.DBAPIError) -> bool:
    """Whether the server ended the statement for a lock conflict (_LOCK_CONFLICT_CODES), on either driver."""
    code = getattr(error.orig, "errno", None)  # MariaDB Connector/Python
    if code is None and getattr(error.orig, "args", None):
        code = error.orig.args[0]  # PyMySQL: (code, message)
    return code in _LOCK_CONFLICT_CODES


def _mysql_strict_mode(dbapi_connection: Any, _record: Any) -> None:
    """Refuse bad values (NULL in a NOT NULL column, over-long strings) as SQLite does, whatever the server's
    default sql_mode: without STRICT_TRANS_TABLES a multi-row INSERT stores '' or a truncated value instead."""
    cursor = dbapi_connection.cursor()
    cursor.execute(
        "SET SESSION sql_mode = IF(@@SESSION.sql_mode = '', 'STRICT_TRANS_TABLES', "
        "CONCAT(@@SESSION.sql_mode, ',STRICT_TRANS_TABLES'))"
    )
    cursor.close()


def _to_db_value(value: Any, column: sa.Column) -> Any:
    """Convert pandas/numpy values to what the DB-API expects; NaN and NaT become NULL."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    column_type = column.type
    if isinstance(column_type, sa.Date) and not isinstance(column_type, sa.DateTime):
        if isinstance(value, pd.Timestamp | dt.datetime):
            return value.date()
        if isinstance(value, str):
            return dt.date.fromisoformat(value[:10])
    if isinstance(column_type, sa.DateTime) and isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(column_type, sa.Boolean):
        return bool(value)
    return value


def _bind_processor(column: sa.Column, dialect: sa.Dialect) -> Any:
    """The column type's own conversion to what the driver stores (SQLite keeps dates as ISO text), or None."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _db_value(value: Any, column: sa.Column, process: Any) -> Any:
    """One value as the driver takes it: _to_db_value, then the column type's conversion for the dialect."""
    value = _to_db_value(value, column)
    return process(value) if process is not None and value is not None else value


class _Floats(Sequence[float | None]):
    """A float column held as numbers (NaN for NULL) until a part of it is sent, then as Python floats and None.
    Converted whole, a features batch's hundred float columns held ~100 MB of Python floats in the writer besides
    the frame itself (a float object takes four times a number's bytes)."""

    def __init__(self, numbers: np.ndarray) -> None:
        self.numbers = numbers

    def __len__(self) -> int:
        return len(self.numbers)

    @overload
    def __getitem__(self, index: int) -> float | None: ...

    @overload
    def __getitem__(self, index: slice) -> list[float | None]: ...

    def __getitem__(self, index: int | slice) -> float | None | list[float | None]:
        if isinstance(index, slice):
            return self.values(self.numbers[index])
        number = float(self.numbers[index])
        return None if number != number else number

    def __iter__(self) -> Iterator[float | None]:
        return iter(self[:])

    @staticmethod
    def values(numbers: np.ndarray) -> list[float | None]:
        missing = np.isnan(numbers)
        if not missing.any():
            return numbers.tolist()
        values = numbers.astype(object)  # Python floats, made in C
        values[missing] = None
        return values.tolist()


def _part(values: Sequence[Any], start: int, stop: int) -> Sequence[Any]:
    """Rows start:stop of a prepared column, a float column still as numbers."""
    return _Floats(values.numbers[start:stop]) if isinstance(values, _Floats) else values[start:stop]


def _column_values(series: pd.Series, column: sa.Column, dialect: sa.Dialect) -> Sequence[Any]:
    """One frame column as the values the driver takes, converted a column at a time (what SQLAlchemy's
    per-row parameter processing did, which cost more than the database's own work on wide tables): numbers need
    only NaN -> NULL; dates, times and flags are converted once per distinct value."""
    column_type = column.type
    typed = isinstance(column_type, sa.Date | sa.DateTime | sa.Boolean)
    kind = series.dtype.kind
    if kind in "biuf" and not (typed and kind != "b"):
        if isinstance(column_type, sa.Float):
            return _Floats(series.to_numpy(dtype=float, na_value=np.nan))
        values = series.tolist()  # numpy scalars -> Python
        nulls = series.isna().tolist()
        if any(nulls):
            return [None if null else value for value, null in zip(values, nulls, strict=True)]
        if kind == "b" and typed:
            return [int(v) for v in values]
        return values
    process = _bind_processor(column, dialect)
    if typed:  # few distinct values (dates, write times, flags): each converted once
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        converted = [_db_value(u, column, process) for u in uniques]
        converted.append(None)  # code -1: missing
        return np.asarray(converted, dtype=object)[codes].tolist()
    values = series.tolist()
    nulls = series.isna().tolist()
    if process is None:  # text and whole numbers: NULLs, and numpy scalars unwrapped
        return [
            None if null else value.item() if isinstance(value, np.generic) else value
            for value, null in zip(values, nulls, strict=True)
        ]
    return [
        None if null else _db_value(value, column, process) for value, null in zip(values, nulls, strict=True)
    ]


def _convert_result_column(frame: pd.DataFrame, i: int, column_type: Any, dialect: sa.Dialect) -> None:
    """Column ``i`` of driver rows converted as SQLAlchemy's result processing would (SQLite's ISO text to dates,
    0/1 to flags), once per distinct value; numbers the driver already gave as floats are left as they are."""
    process = column_type.dialect_impl(dialect).result_processor(dialect, None)
    values = frame[i]
    if process is None or values.dtype.kind == "f" and isinstance(column_type, sa.Float):
        return
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    converted = [process(u) for u in uniques.tolist()]
    converted.append(None)  # code -1: NULL
    # the dtype the frame constructor infers from such values (flags without NULL: bool; times: datetime64)
    frame[i] = pd.Series(np.asarray(converted, dtype=object)[codes], index=frame.index).infer_objects()


#: Rows query() fetches at a time. Each chunk of the driver's tuples becomes a typed frame before the next is
#: fetched: a wide read (a batch's feature rows, ~150 values each) holds about twice its frame at its peak instead
#: of the frame plus every row as Python objects (258 -> 126 MB over one batch's features, as fast).
FETCH_ROWS = 4096


def _joined(parts: list[pd.DataFrame], columns: Sequence[Any]) -> pd.DataFrame:
    """The chunks of one result (of fetches, or of reads of a list of keys) as one frame, each column with the
    dtype one frame built from every row at once would have: where the chunks disagree (a float column whose chunk
    held only NULLs is ``object`` there), the column is inferred again over all its values, as that frame would
    have been (pandas' concat types such a column by its other chunks, but warns that it will stop doing so)."""
    if not parts:
        return pd.DataFrame(columns=list(columns))
    if len(parts) == 1:
        return parts[0]
    mixed = [i for i in columns if len({part[i].dtype for part in parts}) > 1]
    for part in parts:
        for i in mixed:
            part[i] = part[i].astype(object)
    frame = pd.concat(parts, ignore_index=True)
    for i in mixed:
        frame[i] = frame[i].infer_objects()
    return frame


#: The longest multi-row INSERT sent to MySQL/MariaDB, in characters (PyMySQL's own executemany limit).
_MYSQL_STATEMENT_CHARS = 1_000_000


def _finite_numbers(values: Sequence[Any], column: sa.Column) -> np.ndarray:
    """A float column's values as numbers (NaN for NULL), refused with the column's name if one is infinite:
    MySQL and MariaDB have no infinity, and the server's own refusal names neither the column nor the value."""
    # a float column still as numbers (_Floats), or values with None for NULL (np.array makes it NaN)
    numbers = values.numbers if isinstance(values, _Floats) else np.array(values, dtype=float)
    if np.isinf(numbers).any():
        raise ValueError(f"{column.table.name}.{column.name}: an infinite value cannot be stored in MySQL")
    return numbers


def _mysql_literals(values: Sequence[Any], column: sa.Column, driver: Any) -> list[str]:
    """One column's DB-API values as the SQL literals PyMySQL would write for them: a float as its repr with
    "e0" where it has no exponent (a DOUBLE literal, every bit kept), anything else escaped by the driver once per
    distinct value. PyMySQL escapes value by value through a chain of Python calls, which on the 150-column
    features table was most of a MariaDB pass."""
    if isinstance(column.type, sa.Float):
        numbers = _finite_numbers(values, column)
        return ["NULL" if v != v else (t if "e" in (t := repr(v)) else t + "e0") for v in numbers.tolist()]
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    literals = np.asarray([driver.escape(value) for value in uniques.tolist()] + ["NULL"], dtype=object)
    return literals[codes].tolist()


#: Fewest rows of a fresh INSERT (the rows an upsert's replace has just deleted room for), or of an upsert of whole
#: rows (a REPLACE), that MariaDB Connector/Python sends as LOAD DATA LOCAL INFILE. A features batch (32,000 rows
#: x 146 values) cost the client 6.2 s of CPU as the connector's bulk execution and 1.0 s as a load's text; the
#: server parses the text more slowly than it reads binary values, but the whole write took 5.5-7.4 s against
#: 16-17 s (docs/production.md). A batch of score rows (30,000 x 27 values): client 1.7-2.1 s -> 0.4-0.6 s, the
#: server's 1.1-1.2 -> 1.1-1.5 s for new keys and 0.5-0.6 -> 0.6-0.8 s for stored ones. Below this many rows a
#: temporary file and its round trips cost more than they save.
LOAD_DATA_ROWS = 1000
#: Rows of a load's text made at a time: the text of a features batch is ~70 MB, built and written in parts.
_LOAD_DATA_PART = 4096
#: The file format of a load: tab-separated, backslash escapes, ``\N`` for NULL (MariaDB's defaults).
_LOAD_DATA_FORMAT = "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"
_LOAD_DATA_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _load_data_field(value: Any, column: sa.Column) -> str:
    """One DB-API value as a field of a load's text; TypeError for a value of no known form (the caller then
    writes the rows as the driver's executemany would)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if isinstance(column.type, sa.Integer) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise TypeError(f"{column.name}: a time with a zone")
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value.translate(_LOAD_DATA_ESCAPES)
    raise TypeError(f"{column.name}: {type(value).__name__} has no LOAD DATA form")


def _load_data_columns(table: sa.Table, names: Sequence[str], ordered: list[Sequence[Any]]) -> list[Any]:
    """Each column of a load, ready to cut into parts: a float column as its numbers (finite: _finite_numbers),
    any other as its distinct values' fields and each row's code among them."""
    columns: list[Any] = []
    for name, values in zip(names, ordered, strict=True):
        column = table.c[name]
        if isinstance(column.type, sa.Float):
            columns.append(_finite_numbers(values, column))
            continue
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        fields = [_load_data_field(value, column) for value in uniques.tolist()] + ["\\N"]
        columns.append((codes, np.asarray(fields, dtype=object)))
    return columns


def _load_data_lines(columns: list[Any], start: int, stop: int) -> bytes:
    """Rows start:stop of a load as its text: floats formatted by Arrow (the shortest text that reads back as the
    same double), fields joined by Arrow, a line per row, taken from Arrow's buffer without a Python string per
    row."""
    parts = []
    for column in columns:
        if isinstance(column, np.ndarray):
            text = pc.cast(pa.array(column[start:stop], from_pandas=True), pa.string())
            parts.append(pc.fill_null(text, "\\N"))
        else:
            codes, fields = column
            parts.append(pa.array(fields[codes[start:stop]], type=pa.string()))
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*parts, "\t"), "", "\n")
    # each row ends in "\n", so the text is the array's data buffer from its first row's offset to its end
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return bytes(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


@dataclasses.dataclass(frozen=True)
class _Compiled:
    """A compiled write: its SQL, its bound parameters in order, the column each takes, and whether the driver
    takes them positionally."""

    sql: str
    binds: list[str]
    columns: list[str]
    positional: bool


class _Prepared:
    """Rows ready for the driver, held a column at a time: the column names and, per name, the DB-API values, float
    columns as numbers until a batch of them is sent (_Floats); rows are zipped only in the order a compiled
    statement binds them, in C, a batch at a time."""

    def __init__(self, names: Sequence[str], columns: list[Sequence[Any]]) -> None:
        self.names = tuple(names)
        self.columns = columns
        self.length = len(columns[0]) if columns else 0

    def __len__(self) -> int:
        return self.length

    def missing(self, names: Iterable[str]) -> list[str]:
        """Of ``names``, those this group gives no value for."""
        return [name for name in names if name not in self.names]


def _prepare(rows: Rows, table: sa.Table, dialect: sa.Dialect) -> list[_Prepared]:
    """Rows as DB-API values, one group per set of columns (a frame is one group; mappings may differ)."""
    columns = {c.name: c for c in table.columns}
    if isinstance(rows, pd.DataFrame):
        unknown = set(rows.columns) - set(columns)
        if unknown:
            raise ValueError(f"{table.name}: unknown columns {sorted(unknown)}")
        if rows.columns.duplicated().any():
            raise ValueError(f"{table.name}: a column given twice")
        if rows.empty:
            return []
        names = list(rows.columns)
        converted = [_column_values(rows[name], columns[name], dialect) for name in names]
        return [_Prepared(names, converted)]
    by_shape: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        unknown = set(row) - set(columns)
        if unknown:
            raise ValueError(f"{table.name}: unknown columns {sorted(unknown)}")
        by_shape.setdefault(tuple(sorted(row)), []).append(row)
    out = []
    for names, group in by_shape.items():  # each column converted as a frame's would be (no type inference)
        converted = [
            _column_values(pd.Series([row[name] for row in group], dtype=object), columns[name], dialect)
            for name in names
        ]
        out.append(_Prepared(names, converted))
    return out


def _require_keys(table: sa.Table, prepared: list[_Prepared], write: str, defaulted: bool = True) -> None:
    """Refuse a write that cannot find its rows: every group must give each key column (an insert may leave
    out one with a default, when ``defaulted``)."""
    needed = [c.name for c in table.primary_key.columns if not (defaulted and c.default is not None)]
    for group in prepared:
        missing = group.missing(needed)
        if missing:
            raise ValueError(f"{table.name}: {write} needs the key columns, {missing} missing")


def _fresh_rows(table: sa.Table, group: _Prepared, replace: Mapping[str, Any]) -> bool:
    """Whether no row of ``group`` can meet a stored row once ``replace`` (column -> value or list of values; empty:
    every row) has deleted its rows: replace names key columns only, every row matches it (its values among
    replace's, compared as text: the driver's values and the caller's may differ in type), and no two rows share a
    key. Then a plain INSERT writes what the upsert would."""
    key_names = [c.name for c in table.primary_key.columns]
    if not set(replace) <= set(key_names) or not set(key_names) <= set(group.names):
        return False
    for name, value in replace.items():
        allowed = {str(v) for v in value} if isinstance(value, list | tuple | set) else {str(value)}
        if not {str(v) for v in group.columns[group.names.index(name)]} <= allowed:
            return False
    keys = zip(*(group.columns[group.names.index(name)] for name in key_names), strict=True)
    return len(set(keys)) == len(group)


def _whole_rows(table: sa.Table, group: _Prepared) -> bool:
    """Whether ``group`` gives every column of ``table`` and the table has no key but its primary key (no other
    unique index or constraint, no foreign key): then an upsert of the group replaces each stored row it meets
    whole, as a REPLACE does."""
    others = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint | sa.ForeignKeyConstraint)]
    return (
        set(group.names) == set(table.columns.keys())
        and not others
        and not any(index.unique for index in table.indexes)
    )


class Warehouse:
    """Tables of the product over one SQLAlchemy engine."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self._engine = engine
        self._statements: dict[tuple[str, str, tuple[str, ...]], _Compiled] = {}
        self._local_loads: bool | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_schema(self) -> None:
        """Bring the schema to the latest migration (Alembic), creating it on an empty database."""
        from risk_assets.storage.migrations import upgrade

        upgrade(self)

    def drop_schema(self) -> None:
        """Remove every warehouse table through the migrations (alembic_version goes back to empty, so a
        later create_schema() builds them again)."""
        from risk_assets.storage.migrations import downgrade

        downgrade(self, "base")

    def refresh_statistics(self, *table_names: str) -> None:
        """Refresh the query planner's statistics of tables a bulk write is filling. SQLite keeps none until
        ANALYZE runs; without them it reads a batch's companies' scores through the (kind, ...) indexes, every
        row of a kind for each batch (quadratic over a market), instead of through the key. MySQL and MariaDB
        (InnoDB) keep persistent statistics themselves."""
        if self.dialect != "sqlite":
            return
        with self.transaction() as conn:
            for name in table_names:
                conn.exec_driver_sql(f"ANALYZE {TABLES[name].name}")
        # an open SQLite connection keeps the statistics it loaded: new connections plan with the new ones
        self.release_connections()

    @property
    def in_memory(self) -> bool:
        """An in-memory SQLite database: it lives in its connections, so no other process sees it and closing
        them loses it."""
        return self.dialect == "sqlite" and self.engine.url.database in (None, "", ":memory:")

    def release_connections(self) -> None:
        """Close the pool's idle SQLite connections (one in use is closed when it is returned), so the next ones
        load the current planner statistics; nothing on a server database or in memory."""
        if self._engine is not None and self.dialect == "sqlite" and not self.in_memory:
            self._engine.dispose()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def retried_transaction(
        self, write: Callable[[Connection], R], attempts: int = LOCK_CONFLICT_ATTEMPTS
    ) -> R:
        """``write(connection)`` in a transaction of its own, run again from its start (up to ``attempts`` times in
        all) when the server ended it for a lock conflict (_lock_conflict) or it found a WriteConflict: what a
        batch written beside other batches (worker processes writing at once) needs. ``write`` must do nothing
        outside the transaction."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as connection:
                    return write(connection)
            except (sa.exc.DBAPIError, WriteConflict) as error:
                conflict = isinstance(error, WriteConflict) or _lock_conflict(error)
                if attempt == attempts or not conflict:
                    raise
                _LOG.info(
                    "a write met a conflict (%s); attempt %d of %d",
                    getattr(error, "orig", error),
                    attempt + 1,
                    attempts,
                )
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def upsert(
        self,
        table_name: str,
        rows: Rows,
        *,
        replace: Mapping[str, Any] | None = None,
        batch_size: int = 2000,
        connection: Connection | None = None,
        track_changes: bool = True,
    ) -> int:
        """Insert or update rows by primary key, in batches, in ONE transaction.

        With ``replace`` (column -> value, or column -> list of values), rows matching it are deleted first in the
        same transaction (an empty mapping replaces the whole table): the way a partition is replaced without
        ever duplicating or half-writing it.

        A write to an input of the derived assets (``stale.FEEDS``) marks the companies whose rows it changed as
        stale for those assets, in the same transaction; ``track_changes=False`` is for a writer that marks them
        itself (it knows what it changed without reading the stored rows back).
        """
        table = TABLES[table_name]
        prepared = _prepare(rows, table, self.engine.dialect)
        if connection is None:
            with self.transaction() as conn:
                return self._tracked_upsert(conn, table, prepared, replace, batch_size, track_changes)
        return self._tracked_upsert(connection, table, prepared, replace, batch_size, track_changes)

    def _tracked_upsert(
        self,
        conn: Connection,
        table: sa.Table,
        prepared: list[_Prepared],
        replace: Mapping[str, Any] | None,
        batch_size: int,
        track_changes: bool,
    ) -> int:
        _require_keys(table, prepared, "an upsert")
        consumers = stale.FEEDS.get(table.name, ()) if track_changes else ()
        changed = (
            stale.changed_companies(
                conn, table, [(p.names, [list(values) for values in p.columns]) for p in prepared], replace
            )
            if consumers
            else set()
        )
        written = self._upsert(conn, table, prepared, replace, batch_size)
        if changed:
            stale.mark(conn, consumers, changed, utc_now())
        return written

    def mark_stale(self, connection: Connection, consumers: Sequence[str], company_ids: Iterable[str]) -> int:
        """Mark companies stale for the consumer assets (storage/stale.py), inside the caller's transaction."""
        return stale.mark(connection, consumers, company_ids, utc_now())

    def stale_marks(self, consumer: str) -> pd.DataFrame:
        """The companies marked stale for a consumer asset, with the tokens that clear them."""
        return stale.marked(self.engine, consumer)

    def clear_stale(self, connection: Connection, consumer: str, marks: pd.DataFrame) -> int:
        """Clear marks a consumer read and handled, inside the transaction that wrote its new rows."""
        return stale.clear(connection, consumer, marks)

    def _upsert(
        self,
        conn: Connection,
        table: sa.Table,
        prepared: list[_Prepared],
        replace: Mapping[str, Any] | None,
        batch_size: int,
    ) -> int:
        if replace is not None:
            lists = {n: list(v) for n, v in replace.items() if isinstance(v, list | tuple | set)}
            if len(lists) > 1:
                raise ValueError(
                    f"{table.name}: a list of values in replace for one column only, not {sorted(lists)}"
                )
            conditions = stale.replace_conditions(
                table, {name: value for name, value in replace.items() if name not in lists}
            )
            if not lists:
                conn.execute(sa.delete(table).where(sa.and_(sa.true(), *conditions)))
            for name, values in lists.items():  # one IN list per chunk: bound-parameter limits
                for part in stale.chunks(values):
                    in_part = stale.replace_conditions(table, {name: part})
                    conn.execute(sa.delete(table).where(sa.and_(*in_part, *conditions)))
        for group in prepared:
            # rows that cannot meet a stored row (_fresh_rows): a plain INSERT, which SQLite writes ~13% faster
            # than an upsert of ~150 columns
            kind = "insert" if replace is not None and _fresh_rows(table, group, replace) else "upsert"
            statement = self._compiled(kind, table, group.names)
            # rows that give every column of a table keyed by its primary key alone: the upsert sets each stored
            # row they meet whole, which a load's REPLACE does (its client CPU a quarter of the bulk execution's on
            # a batch of score rows)
            replacing = kind == "upsert" and _whole_rows(table, group)
            if (kind == "insert" or replacing) and self._load_data(
                conn, table, self._compiled("insert", table, group.names), group, replacing
            ):
                continue
            self._execute_many(conn, table, statement, group, batch_size)
        return sum(len(group) for group in prepared)

    def _compiled(self, kind: str, table: sa.Table, names: tuple[str, ...]) -> _Compiled:
        """The upsert or update of ``table`` for a group of columns, compiled once per engine: its SQL and the
        column each positional value comes from."""
        cache_key = (kind, table.name, names)
        if cache_key not in self._statements:
            key_names = [c.name for c in table.primary_key.columns]
            if kind in ("upsert", "insert"):
                statement = (
                    self._upsert_statement(table, names, key_names) if kind == "upsert" else sa.insert(table)
                )
                # an INSERT's columns are the group's; an UPDATE names its own (column_keys would add to its SET)
                compiled = statement.compile(dialect=self.engine.dialect, column_keys=list(names))
                bind_names: dict[str, str] = {}
            else:
                bind_names = {f"{'k' if n in key_names else 'v'}_{n}": n for n in names}
                statement = (
                    sa.update(table)
                    .where(*[table.c[name] == sa.bindparam(f"k_{name}") for name in key_names])
                    .values({n: sa.bindparam(f"v_{n}") for n in names if n not in key_names})
                )
                compiled = statement.compile(dialect=self.engine.dialect)
            binds = list(compiled.positiontup) if compiled.positional else list(compiled.bind_names.values())
            self._statements[cache_key] = _Compiled(
                compiled.string, binds, [bind_names.get(name, name) for name in binds], compiled.positional
            )
        return self._statements[cache_key]

    def _execute_many(
        self, conn: Connection, table: sa.Table, statement: _Compiled, group: _Prepared, batch_size: int
    ) -> None:
        """Run ``statement`` once per row of ``group`` (the driver's executemany), its values passed positionally
        as the compiled SQL orders them, zipped a batch at a time."""
        ordered = self._ordered_values(table, statement, group)
        if self.engine.dialect.driver == "pymysql" and (match := RE_INSERT_VALUES.match(statement.sql)):
            self._insert_literal_rows(
                conn, table, statement, ordered, batch_size, (match.group(1), match.group(3))
            )
            return
        if self.dialect in ("mysql", "mariadb"):  # MariaDB Connector/Python: its bulk executemany, in binary
            for name, values in zip(statement.columns, ordered, strict=True):
                if isinstance(table.c[name].type, sa.Float):
                    _finite_numbers(values, table.c[name])
        for start in range(0, len(group), batch_size):
            rows = list(zip(*(values[start : start + batch_size] for values in ordered), strict=True))
            # PyMySQL's pyformat takes one mapping per row
            params = (
                rows if statement.positional else [dict(zip(statement.binds, r, strict=True)) for r in rows]
            )
            conn.exec_driver_sql(statement.sql, params)

    def _load_data(
        self, conn: Connection, table: sa.Table, insert: _Compiled, group: _Prepared, replacing: bool = False
    ) -> bool:
        """Insert fresh rows (_fresh_rows), or with ``replacing`` whole rows (_whole_rows) replacing the stored
        rows of their keys, as LOAD DATA LOCAL INFILE from a file of their text, where the driver is MariaDB
        Connector/Python, the server allows local loads and the rows are many (LOAD_DATA_ROWS); False, with
        nothing written, where not (the caller writes them). A local load without REPLACE turns the server's
        refusals of a value into warnings and skips a duplicate key (a REPLACE refuses a value with an error, as a
        statement does), so any warning or a row short fails the write, with the server's words, and the caller's
        transaction rolls back."""
        if len(group) < LOAD_DATA_ROWS or not self._loads_local_files(conn):
            return False
        names = insert.columns
        try:
            columns = _load_data_columns(table, names, self._ordered_values(table, insert, group))
        except TypeError:
            return False
        quote = self.engine.dialect.identifier_preparer.quote
        with tempfile.NamedTemporaryFile(prefix=f"riskgraph-{table.name}-", suffix=".tsv") as file:
            for start in range(0, len(group), _LOAD_DATA_PART):
                file.write(_load_data_lines(columns, start, min(start + _LOAD_DATA_PART, len(group))))
            file.flush()
            del columns
            # the file's name is this process's own temporary file; identifiers are the schema's, quoted
            sql = (
                f"LOAD DATA LOCAL INFILE '{file.name}' {'REPLACE ' if replacing else ''}"  # noqa: S608
                f"INTO TABLE {quote(table.name)} "
                f"CHARACTER SET utf8mb4 {_LOAD_DATA_FORMAT} ({', '.join(quote(name) for name in names)})"
            )
            loaded = conn.exec_driver_sql(sql, execution_options={"no_parameters": True}).rowcount
        warnings = [tuple(w) for w in conn.exec_driver_sql("SHOW WARNINGS LIMIT 5") if w[0] != "Note"]
        # a replaced row counts twice (deleted and inserted: MariaDB's count, whether or not it updated in place)
        expected = range(len(group), 2 * len(group) + 1) if replacing else range(len(group), len(group) + 1)
        if warnings or loaded not in expected:
            said = "; ".join(f"{level} {code}: {message}" for level, code, message in warnings)
            raise ValueError(
                f"{table.name}: a load of {len(group):,} rows stored {loaded:,}"
                + (f" ({said})" if said else " (a key given twice?)")
            )
        return True

    def _loads_local_files(self, conn: Connection) -> bool:
        """Whether fresh inserts go as local loads: MariaDB Connector/Python (the only driver the engine lets
        send a file) and a server whose local_infile is on (MariaDB's default; MySQL 8's is off). Asked once."""
        if self.engine.dialect.driver != "mariadbconnector":
            return False
        if self._local_loads is None:
            self._local_loads = bool(conn.exec_driver_sql("SELECT @@GLOBAL.local_infile").scalar())
        return self._local_loads

    def _insert_literal_rows(
        self,
        conn: Connection,
        table: sa.Table,
        statement: _Compiled,
        ordered: list[Sequence[Any]],
        batch_size: int,
        clauses: tuple[str, str],
    ) -> None:
        """An INSERT of many rows on PyMySQL as the multi-row statements its executemany would send (at most
        ``batch_size`` rows and about a megabyte each), with the values written as literals a column at a time
        (_mysql_literals) instead of escaped one by one. Sent without parameters, so that no formatting touches a
        '%' in the text; SQLAlchemy still wraps the driver's errors."""
        driver = conn.connection.driver_connection
        prefix, postfix = clauses
        rows: list[str] = []
        size = 0

        def send() -> None:
            try:
                conn.exec_driver_sql(
                    prefix + ",".join(rows) + postfix, execution_options={"no_parameters": True}
                )
            except sa.exc.StatementError as error:
                # the message names the statement and its row count, not a megabyte of values
                error.statement = f"{prefix}<{len(rows):,} rows of values>{postfix[:200]}"
                raise

        for start in range(0, len(ordered[0]) if ordered else 0, batch_size):  # a batch's literals at a time
            literals = [
                _mysql_literals(_part(values, start, start + batch_size), table.c[name], driver)
                for name, values in zip(statement.columns, ordered, strict=True)
            ]
            for row in zip(*literals, strict=True):
                text = "(" + ",".join(row) + ")"
                if rows and (len(rows) == batch_size or size + len(text) > _MYSQL_STATEMENT_CHARS):
                    send()
                    rows, size = [], 0
                rows.append(text)
                size += len(text) + 1
        if rows:
            send()

    def _ordered_values(self, table: sa.Table, statement: _Compiled, group: _Prepared) -> list[Sequence[Any]]:
        """The group's values a column at a time in the order ``statement`` binds them, an insert's column left
        out given its Python-side default, as SQLAlchemy would."""
        where = dict(zip(group.names, group.columns, strict=True))
        return [
            where[name] if name in where else [self._column_default(table, name)] * len(group)
            for name in statement.columns
        ]

    def _column_default(self, table: sa.Table, name: str) -> Any:
        """The driver value of a column's Python-side default (what an insert that leaves it out stores)."""
        column = table.c.get(name)
        default = column.default if column is not None else None
        if default is None or not (default.is_scalar or default.is_callable):
            raise ValueError(f"{table.name}: a value is required for column {name!r}")
        value = default.arg if default.is_scalar else default.arg(None)
        return _db_value(value, column, _bind_processor(column, self.engine.dialect))

    def _upsert_statement(self, table: sa.Table, shape: Sequence[str], key_names: list[str]) -> Any:
        updates = [name for name in shape if name not in key_names]
        if self.dialect == "sqlite":
            statement = sqlite.insert(table)
            if updates:
                return statement.on_conflict_do_update(
                    index_elements=key_names, set_={name: statement.excluded[name] for name in updates}
                )
            return statement.on_conflict_do_nothing(index_elements=key_names)
        if self.dialect in ("mysql", "mariadb"):
            statement = mysql.insert(table)
            # SQLAlchemy picks VALUES() or the row alias by server version: MariaDB rejects `AS new`.
            # Key columns only: a no-op update, not INSERT IGNORE (which would also turn errors into warnings).
            names = updates or key_names[:1]
            return statement.on_duplicate_key_update({name: statement.inserted[name] for name in names})
        raise NotImplementedError(f"upsert is not implemented for {self.dialect}")

    def update(
        self, table_name: str, rows: Rows, *, batch_size: int = 2000, connection: Connection | None = None
    ) -> int:
        """Update existing rows (located by primary key) with the other columns given; never inserts."""
        table = TABLES[table_name]
        prepared = _prepare(rows, table, self.engine.dialect)
        _require_keys(table, prepared, "an update", defaulted=False)

        def write(conn: Connection) -> None:
            for group in prepared:
                # PyMySQL: a statement per list of keys; MariaDB Connector/Python's bulk execution, one per batch,
                # is each row's own key lookup in the server and twice as fast as the lists (10,000 flags cleared
                # in 0.8 s against 1.5 s)
                if self.engine.dialect.driver == "pymysql" and self._update_alike(conn, table, group):
                    continue
                self._execute_many(
                    conn, table, self._compiled("update", table, group.names), group, batch_size
                )

        if connection is None:
            with self.transaction() as conn:
                write(conn)
        else:
            write(connection)
        return sum(len(group) for group in prepared)

    def _update_alike(self, conn: Connection, table: sa.Table, group: _Prepared) -> bool:
        """On PyMySQL, an update that sets the same values on every row it locates (an alerts pass clearing
        the flags of the scores it compared) as one UPDATE per list of keys, ``(k1, k2...) IN ((...), ...)``, each
        a range of the primary key (stale.key_chunks). PyMySQL sends an UPDATE's executemany as a statement and
        round trip per row, which was most of `risk_alerts` on MariaDB. False, with nothing written, when the
        values differ."""
        key_names = [c.name for c in table.primary_key.columns]
        where = dict(zip(group.names, group.columns, strict=True))
        settings = {name: values for name, values in where.items() if name not in key_names}
        if not settings or not len(group) or any(len(set(values)) > 1 for values in settings.values()):
            return False
        quote = self.engine.dialect.identifier_preparer.quote
        assignments = ", ".join(f"{quote(name)} = %s" for name in settings)
        columns = ", ".join(quote(name) for name in key_names)
        constant = [values[0] for values in settings.values()]
        keys = list(zip(*(where[name] for name in key_names), strict=True))
        for part in stale.key_chunks(keys, len(key_names)):
            # MariaDB reads a list of one row value in an UPDATE by a scan of the whole key: one key is equalities
            if len(part) == 1:
                condition = " AND ".join(f"{quote(name)} = %s" for name in key_names)
            else:
                rows = ", ".join(["(" + ", ".join(["%s"] * len(key_names)) + ")"] * len(part))
                condition = f"({columns}) IN ({rows})"
            # identifiers are the schema's, quoted by the dialect; every value is a bound parameter
            sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {condition}"  # noqa: S608
            conn.exec_driver_sql(sql, tuple(constant + [value for key in part for value in key]))
        return True

    def read(
        self,
        table_name: str,
        where: Mapping[str, Any] | None = None,
        order_by: Sequence[str] = (),
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows matching ``where`` (column -> value, or column -> list of values for one column: read in chunks
        that stay under the drivers' bound-parameter limits); ``columns``: only these (a wide table's reader
        that needs a few of them holds a fraction of the memory)."""
        table = TABLES[table_name]
        where = dict(where or {})
        lists = {n: list(v) for n, v in where.items() if isinstance(v, list | tuple | set)}
        if len(lists) > 1:
            raise ValueError(f"{table_name}: read takes a list of values for one column, not {sorted(lists)}")
        unknown = sorted(set(columns or ()) - set(table.c.keys()))
        if unknown:
            raise ValueError(f"{table_name}: unknown columns {unknown}")
        selected = [table.c[name] for name in columns] if columns is not None else list(table.columns)
        statement = sa.select(*selected)
        for name, value in where.items():
            if name not in lists:
                statement = statement.where(table.c[name] == value)
        if order_by:
            statement = statement.order_by(*[table.c[name] for name in order_by])
        names = [c.name for c in selected]
        if not lists:
            return self.query(statement, columns=names)
        ((name, values),) = lists.items()
        frame = self.query_in_chunks(statement, table.c[name], values, columns=names)
        if order_by and len(values) > stale.CHUNK:
            frame = frame.sort_values(list(order_by), kind="stable", ignore_index=True)
        return frame

    def query_in_chunks(
        self,
        statement: sa.Select,
        column: sa.Column,
        values: Sequence[Any],
        columns: list[str] | None = None,
        connection: Connection | None = None,
    ) -> pd.DataFrame:
        """The rows of a select restricted to ``values`` of ``column`` (e.g. a batch's companies), read as lists
        short enough for the drivers' parameter limits and MariaDB's plans (stale.in_chunks), as one frame."""
        names = columns or [c.name for c in statement.selected_columns]
        parts = [
            self.query(part, columns=names, connection=connection)
            for part in stale.in_chunks(statement, column, values)
        ]
        return _joined(parts, names)

    def query(
        self,
        statement: Any,
        params: Mapping[str, Any] | None = None,
        columns: list[str] | None = None,
        connection: Connection | None = None,
    ) -> pd.DataFrame:
        """The rows of a select as a frame, read in ``connection``'s transaction if given. The driver's tuples
        are taken as they are and each typed column converted afterwards, once per distinct value, with its
        type's own result processor (what SQLAlchemy's per-row Row processing did, which cost as much as the
        database's own reading on wide tables)."""
        if connection is None:
            with self.engine.connect() as conn:
                return self.query(statement, params, columns, connection=conn)
        result = connection.execute(statement, params or {}, execution_options={BINARY_ROWS: True})
        names = columns or list(result.keys())
        if result.cursor is None:  # no rows returned (not a select)
            return pd.DataFrame(columns=names)
        parts = []
        while rows := result.cursor.fetchmany(FETCH_ROWS):
            parts.append(pd.DataFrame(rows, columns=range(len(names))))
        del rows
        result.close()
        frame = _joined(parts, range(len(names)))
        del parts
        types = [c.type for c in statement.selected_columns] if isinstance(statement, sa.Select) else []
        for i, column_type in enumerate(types):
            _convert_result_column(frame, i, column_type, self.engine.dialect)
        frame.columns = names
        return frame

    def is_empty(self, table_name: str) -> bool:
        """Whether the table has no row (one indexed probe, not a count)."""
        table = TABLES[table_name]
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None

    def distinct(self, table_name: str, column: str, where: Mapping[str, Any] | None = None) -> list[Any]:
        """The distinct values of one column (e.g. the companies a table has rows for), sorted. Without ``where``,
        on MySQL/MariaDB, read from the narrowest secondary index that starts with the column: MariaDB otherwise
        skips through the primary key, a page of the table's rows per value (the companies of 100,000 companies'
        features: 5 s through a 128 MB buffer pool; at 10,000, 0.8 s against 0.07 s through ix_features_filed)."""
        table = TABLES[table_name]
        statement = sa.select(table.c[column]).distinct()
        for name, value in (where or {}).items():
            statement = statement.where(table.c[name] == value)
        leading = [index for index in table.indexes if next(iter(index.columns)).name == column]
        if not where and leading:
            narrowest = min(leading, key=lambda index: (len(index.columns), index.name))
            statement = stale.forced_index(statement, table, narrowest.name)
        with self.engine.connect() as conn:
            return sorted(row[0] for row in conn.execute(statement))

    def count(self, table_name: str, where: Mapping[str, Any] | None = None) -> int:
        table = TABLES[table_name]
        statement = sa.select(sa.func.count()).select_from(table)
        for name, value in (where or {}).items():
            statement = statement.where(table.c[name] == value)
        with self.engine.connect() as conn:
            return int(conn.execute(statement).scalar_one())
