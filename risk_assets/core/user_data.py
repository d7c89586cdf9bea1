"""A user's own data from CSV: statements, default events and labelled ratio tables, checked row by row.

Every reader returns the good rows and one ``RowError`` per problem (file line, column, reason), so a
file with a few bad rows still lands the rest and the user sees exactly what to fix. Nothing here touches a
warehouse: `riskgraph evaluate` reads files directly, `riskgraph import` (storage/imports.py) stores them.

Rules, the same for every file:
- The header must name the required columns; a missing one is an error on line 1 and no row is read.
- Empty cells, ``NA``, ``NaN``, ``null`` and ``?`` are missing values (unknown stays unknown, never zero).
- A number must parse as a finite decimal (``1e6`` is fine, ``1,000`` or ``12abc`` is not); dates are ISO
  ``YYYY-MM-DD``.
- Rows sharing a natural key are all refused (the file does not say which one is right).
- The file is UTF-8 (with or without a byte-order mark) or UTF-16 with a byte-order mark (Excel's "Unicode
  text"); any other encoding, NUL bytes or a field over the CSV field-size limit refuse the whole file with an
  error on the line where it happens (a mis-decoded file would land wrong names, so nothing of it lands).
- A company id matches COMPANY_ID_PATTERN: letters, digits and ``- _ . :``, starting with a letter or digit,
  at most 40 characters (``SEC:0000000020``, ``acme-01``).
- A text cell (ids, names, references, kinds, column names...) starting with ``= + - @`` is refused as a
  possible spreadsheet formula (CSV injection when the data is exported again); numbers such as ``-5.0`` are
  numbers, not text, and stay valid.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS
from risk_assets.core.labels import EVENT_KINDS

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})

STATEMENT_REQUIRED = ("company_id", "fiscal_year", "period_end")
STATEMENT_OPTIONAL = (
    "filed_at",
    "period_start",
    "accession",
    "form",
    "currency",
    "name",
    "country",
    "sic",
    "induty_code",
)
#: Items that are amounts of something a firm holds or owes: a negative value is a sign or unit error.
NON_NEGATIVE_ITEMS = (
    "total_assets",
    "current_assets",
    "cash",
    "receivables",
    "inventory",
    "total_liabilities",
    "current_liabilities",
    "shares_outstanding",
    "market_value_equity",
)

EVENT_REQUIRED = ("company_id", "event_date", "kind")
EVENT_OPTIONAL = ("source", "reference")

MAX_COMPANY_ID = 40  # the warehouse key's width
#: The one pattern a user's company id must match (docs/modeling.md).
COMPANY_ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{MAX_COMPANY_ID - 1}}}")
#: A text cell starting with one of these is refused: a spreadsheet would run it as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@")
#: The largest CSV field read (Python's default csv.field_size_limit; checked here because a library may raise
#: the process-wide limit). A larger one is usually an unclosed quote swallowing the rest of the file.
MAX_FIELD_CHARS = 131_072
_EXTRA = "\x00extra"  # where _records keeps cells beyond the header (no real column can have this name)


@dataclass(frozen=True)
class RowError:
    """One problem: the file's line number (the header is line 1), the column (None: the whole row)."""

    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass
class Parsed:
    """Good rows (with the source ``line`` of each), the errors, and warnings that refused nothing."""

    rows: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({error.line for error in self.errors})


class CellError(ValueError):
    """A cell that cannot be read; the message is the reason shown to the user."""


def _decode(data: bytes) -> tuple[str, RowError | None]:
    """The file's text: UTF-16 when it starts with a UTF-16 byte-order mark, else UTF-8 (a UTF-8 BOM is dropped).
    An undecodable byte or a NUL byte is an error on its line (and no text)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, unit = "utf-16", 2
    else:
        encoding, unit = "utf-8-sig", 1
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        if unit == 2:
            line = data[: error.start - error.start % 2].decode("utf-16", errors="replace").count("\n") + 1
            return "", RowError(
                line, None, "the file starts with a UTF-16 byte-order mark but is not valid UTF-16"
            )
        line = data[: error.start].count(b"\n") + 1
        return "", RowError(
            line,
            None,
            f"the file is not UTF-8 text (byte 0x{data[error.start]:02x}); save it as "
            "UTF-8 (or UTF-16 with a byte-order mark)",
        )
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return "", RowError(
            line, None, "the file contains NUL bytes (UTF-16 without a byte-order mark?); save it as UTF-8"
        )
    return text, None


def _records(
    source: str | Path | io.StringIO,
) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[RowError]]:
    """(header, [(line number, row)], file errors) read as text; line numbers count physical lines, header = 1.
    A file that cannot be read (encoding, NUL bytes, an oversized field) gives one error and no rows."""
    if isinstance(source, io.StringIO):
        text = source.getvalue()
    else:
        text, problem = _decode(Path(source).read_bytes())
        if problem is not None:
            return [], [], [problem]
    reader = csv.reader(io.StringIO(text))
    rows = []
    start = 1
    try:
        try:
            first = next(reader)
        except StopIteration:
            return [], [], []
        if any(len(name) > MAX_FIELD_CHARS for name in first):
            raise csv.Error("field larger than field limit")
        header = [name.strip() for name in first]
        start = reader.line_num + 1
        for values in reader:
            line = start
            if any(len(value) > MAX_FIELD_CHARS for value in values):
                raise csv.Error("field larger than field limit")
            start = reader.line_num + 1
            if not any(value.strip() for value in values):
                continue  # blank line
            padded = values + [""] * (len(header) - len(values))
            row = dict(zip(header, padded, strict=False))
            if len(values) > len(header):
                row[_EXTRA] = ",".join(values[len(header) :])
            rows.append((line, row))
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            reason = f"a field is larger than {MAX_FIELD_CHARS} characters (the CSV field-size limit)"
        else:
            reason = f"the file is not readable as CSV here ({error})"
        return [], [], [RowError(start, None, reason)]
    return header, rows, []


def is_missing(text: str | None) -> bool:
    return text is None or text.strip().lower() in MISSING_TOKENS


def parse_number(text: str | None) -> float | None:
    """A finite float, or None for a missing token; anything else raises CellError with the reason."""
    if is_missing(text):
        return None
    cleaned = text.strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise CellError(f"{cleaned!r} is not a number") from None
    if not math.isfinite(value):
        raise CellError(f"{cleaned!r} is not a finite number")
    return value


def parse_date(text: str | None) -> dt.date | None:
    """An ISO date (``YYYY-MM-DD``, a time part is ignored), or None for a missing token."""
    if is_missing(text):
        return None
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            return dt.date.fromisoformat(cleaned)
        return dt.datetime.fromisoformat(cleaned).date()
    except ValueError:
        raise CellError(f"bad date {cleaned!r} (expected YYYY-MM-DD)") from None


def parse_year(text: str | None) -> int | None:
    value = parse_number(text)
    if value is None:
        return None
    if value != int(value) or not 1900 <= value <= 2100:
        raise CellError(f"{text.strip()!r} is not a year between 1900 and 2100")
    return int(value)


def _header_errors(header: list[str], required: Iterable[str]) -> list[RowError]:
    errors = [RowError(1, name, "missing column") for name in required if name not in header]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(RowError(1, name, "column appears twice in the header"))
        seen.add(name)
    if "" in header:
        errors.append(RowError(1, None, "a column has no name"))
    for name in header:
        try:
            _refuse_formula(name)
        except CellError as error:
            errors.append(RowError(1, name, str(error)))
    return errors


def _refuse_duplicates(
    rows: list[dict], key: tuple[str, ...], errors: list[RowError], label: str | None = None
) -> list[dict]:
    """Drop every row whose key appears more than once, with an error naming the other lines."""
    lines_by_key: dict[tuple, list[int]] = {}
    for row in rows:
        lines_by_key.setdefault(tuple(row[k] for k in key), []).append(row["line"])
    kept = []
    for row in rows:
        lines = lines_by_key[tuple(row[k] for k in key)]
        if len(lines) > 1:
            others = ", ".join(str(line) for line in lines if line != row["line"])
            errors.append(
                RowError(
                    row["line"],
                    None,
                    f"duplicate key ({label or ', '.join(key)}) = "
                    f"({', '.join(str(row[k]) for k in key)}), also on line {others}",
                )
            )
        else:
            kept.append(row)
    return kept


def _refuse_formula(value: str) -> str:
    if value.startswith(FORMULA_PREFIXES):
        raise CellError(f"starts with {value[0]!r}: refused as a possible spreadsheet formula")
    return value


def _text(text: str | None, limit: int) -> str | None:
    """A text cell: stripped, at most ``limit`` characters, not a possible spreadsheet formula."""
    if is_missing(text):
        return None
    value = _refuse_formula(text.strip())
    if len(value) > limit:
        raise CellError(f"longer than {limit} characters")
    return value


def _required(parser: Callable[[str | None], Any]) -> Callable[[str | None], Any]:
    """``parser`` that refuses an empty cell ("missing value")."""

    def parse(text: str | None) -> Any:
        value = parser(text)
        if value is None:
            raise CellError("missing value")
        return value

    return parse


def _company_id_cell(text: str | None) -> str | None:
    value = _text(text, MAX_COMPANY_ID)
    if value is not None and not COMPANY_ID_PATTERN.fullmatch(value):
        raise CellError(
            f"{value!r} is not a company id: use letters, digits and - _ . : (starting with a letter or "
            f"digit, at most {MAX_COMPANY_ID} characters)"
        )
    return value


_company_id = _required(_company_id_cell)


def _currency(text: str | None) -> str | None:
    value = _text(text, 3)
    if value is not None and not (len(value) == 3 and value.isalpha()):
        raise CellError(f"{value!r} is not a 3-letter currency code")
    return value.upper() if value else None


def _country(text: str | None) -> str | None:
    value = _text(text, 2)
    if value is not None and not (len(value) == 2 and value.isalpha()):
        raise CellError(f"{value!r} is not a 2-letter country code")
    return value.upper() if value else None


_META_PARSERS = {
    "filed_at": parse_date,
    "period_start": parse_date,
    "accession": lambda t: _text(t, 32),
    "form": lambda t: _text(t, 16),
    "currency": _currency,
    "name": lambda t: _text(t, 200),
    "country": _country,
    "sic": lambda t: _text(t, 8),
    "induty_code": lambda t: _text(t, 8),
}


def _finish(rows: list[dict], columns: list[str], errors: list[RowError], warnings: list[str]) -> Parsed:
    frame = (
        pd.DataFrame(rows, columns=["line", *columns]) if rows else pd.DataFrame(columns=["line", *columns])
    )
    errors.sort(key=lambda e: (e.line, e.column or ""))
    return Parsed(frame, errors, warnings)


def _extra_cells(line: int, row: dict[str, str], errors: list[RowError]) -> None:
    extra = row.get(_EXTRA)
    if extra is not None:
        errors.append(RowError(line, None, f"more cells than the header has columns ({extra!r})"))


_Check = Callable[[int, dict, list[RowError]], None]


def _parse_rows(
    records: Iterable[tuple[int, dict[str, str]]],
    parsers: Sequence[tuple[str, Callable]],
    errors: list[RowError],
    check: _Check | None = None,
) -> list[dict]:
    """Each record through its column parsers (one error per bad cell), then ``check(line, row, row_errors)``
    and the too-many-cells check: the rows without an error are returned, every error lands in ``errors``."""
    good = []
    for line, raw in records:
        row: dict = {"line": line}
        row_errors: list[RowError] = []
        for name, parser in parsers:
            try:
                row[name] = parser(raw.get(name))
            except CellError as error:
                row_errors.append(RowError(line, name, str(error)))
        if check is not None:
            check(line, row, row_errors)
        _extra_cells(line, raw, row_errors)
        if row_errors:
            errors.extend(row_errors)
        else:
            good.append(row)
    return good


def _check_statement(line: int, row: dict, row_errors: list[RowError]) -> None:
    """filed_at not before period_end, total assets positive, holdings and debts not negative."""
    if row.get("filed_at") and row.get("period_end") and row["filed_at"] < row["period_end"]:
        row_errors.append(
            RowError(line, "filed_at", f"filed_at {row['filed_at']} is before period_end {row['period_end']}")
        )
    assets = row.get("total_assets")
    if assets is not None and assets < 0:
        row_errors.append(RowError(line, "total_assets", f"negative total assets ({assets:g})"))
    elif assets == 0:
        row_errors.append(RowError(line, "total_assets", "total assets is zero"))
    for name in NON_NEGATIVE_ITEMS:
        value = row.get(name)
        if name != "total_assets" and value is not None and value < 0:
            row_errors.append(RowError(line, name, f"negative {name.replace('_', ' ')} ({value:g})"))


def read_statements(source: str | Path | io.StringIO) -> Parsed:
    """Statements: company_id, fiscal_year, period_end, optional filed_at and meta columns, canonical items.

    ``filed_at`` stays None where the file has none: the caller places such rows at period end + a lag.
    Key: (company_id, period_end, accession or filed_at). Checks: dates parse, filed_at not before
    period_end, items are finite numbers, total_assets positive, holdings and debts not negative.
    """
    header, records, unreadable = _records(source)
    errors = unreadable or _header_errors(header, STATEMENT_REQUIRED)
    known = set(STATEMENT_REQUIRED) | set(STATEMENT_OPTIONAL) | set(CANONICAL_ITEMS)
    warnings = [
        f"column {name!r} ignored: not a canonical item nor a known statement column"
        for name in header
        if name and name not in known
    ]
    items = [name for name in CANONICAL_ITEMS if name in header]
    meta = [name for name in STATEMENT_OPTIONAL if name in header]
    columns = [*STATEMENT_REQUIRED, *STATEMENT_OPTIONAL, *items]
    if errors:
        return _finish([], columns, errors, warnings)
    parsers = [
        ("company_id", _company_id),
        ("fiscal_year", _required(parse_year)),
        ("period_end", _required(parse_date)),
        *((m, _META_PARSERS[m]) for m in meta),
        *((i, parse_number) for i in items),
    ]
    good = _parse_rows(records, parsers, errors, _check_statement)
    for row in good:
        row["_version"] = row.get("accession") or row.get("filed_at")
    good = _refuse_duplicates(
        good,
        ("company_id", "period_end", "_version"),
        errors,
        "company_id, period_end, accession or filed_at",
    )
    for row in good:
        row.pop("_version")
    return _finish(good, columns, errors, warnings)


def read_events(source: str | Path | io.StringIO) -> Parsed:
    """Default events: company_id, event_date, kind (one of labels.EVENT_KINDS), optional source, reference."""
    header, records, unreadable = _records(source)
    errors = unreadable or _header_errors(header, EVENT_REQUIRED)
    known = set(EVENT_REQUIRED) | set(EVENT_OPTIONAL)
    warnings = [f"column {name!r} ignored" for name in header if name and name not in known]
    columns = [*EVENT_REQUIRED, *EVENT_OPTIONAL]
    if errors:
        return _finish([], columns, errors, warnings)

    def kind(text: str | None) -> str:
        if is_missing(text):
            raise CellError("missing value")
        value = _refuse_formula(text.strip()).lower()
        if value not in EVENT_KINDS:
            raise CellError(f"unknown kind {text.strip()!r}; expected one of {', '.join(EVENT_KINDS)}")
        return value

    parsers = (
        ("company_id", _company_id),
        ("event_date", _required(parse_date)),
        ("kind", kind),
        ("source", lambda t: _text(t, 40)),
        ("reference", lambda t: _text(t, 64)),
    )
    good = _parse_rows(records, parsers, errors)
    good = _refuse_duplicates(good, ("company_id", "event_date", "kind"), errors)
    return _finish(good, columns, errors, warnings)


def read_table(source: str | Path | io.StringIO, target: str, key: str | None = None) -> Parsed:
    """A labelled ratio table: numeric feature columns, a 0/1 ``target`` column, an optional ``key`` column
    (text, unique) that identifies a row. Feature cells may be missing; the target may not."""
    header, records, unreadable = _records(source)
    required = [target] + ([key] if key else [])
    errors = unreadable or _header_errors(header, required)
    features = [name for name in header if name and name not in (target, key)]
    if not errors and not features:
        errors.append(RowError(1, None, "no feature columns besides the target"))
    columns = ([key] if key else []) + features + [target]
    if errors:
        return _finish([], columns, errors, [])

    def label(text: str | None) -> int:
        value = parse_number(text)
        if value is None:
            raise CellError("missing value")
        if value not in (0.0, 1.0):
            raise CellError(f"{text.strip()!r} is not 0 or 1")
        return int(value)

    parsers = [
        *([(key, _required(lambda t: _text(t, 200)))] if key else []),
        *((name, parse_number) for name in features),
        (target, label),
    ]
    good = _parse_rows(records, parsers, errors)
    if key:
        good = _refuse_duplicates(good, (key,), errors)
    parsed = _finish(good, columns, errors, [])
    if len(parsed.rows):
        parsed.rows[features] = parsed.rows[features].astype(float)
        empty = [name for name in features if parsed.rows[name].isna().all()]
        parsed.warnings += [f"column {name!r} has no value in any good row" for name in empty]
    return parsed


def numeric_columns(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> list[str]:
    """Columns of ``frame`` holding numbers, in order, without ``exclude``."""
    skip = set(exclude)
    return [c for c in frame.columns if c not in skip and np.issubdtype(frame[c].dtype, np.number)]
