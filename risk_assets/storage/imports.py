"""Importing a user's CSV files: statements and default events into the warehouse, labelled ratio tables
into the object store. Rows are checked by core/user_data.py; good rows land, bad ones come back with the line,
the column and the reason, and every write is an upsert by natural key in one transaction, so importing the
same file twice changes nothing and nothing already stored is lost.

Decisions (docs/modeling.md):
- A company id the warehouse does not know gets a ``companies`` row with source ``user_csv``: name, country,
  currency and SIC from the file's optional columns when present (else the id, ``ZZ`` = unknown country, the
  statement's currency), the financial-firm flag from the SIC / KSIC code. An existing companies row is never
  changed by an import.
- Statements of a company the graph ingests from SEC or DART are refused: the ``statements`` asset replaces
  such a company's rows on every ingest and would silently drop them.
- ``filed_at`` absent: stored as period end + the reporting lag (the ``filed_at`` column is the point-in-time
  key and cannot be empty) and listed in ``derived_items``, so a reader can tell it from a real filing date.
  The accession defaults to ``csv-YYYYMMDD`` of that date, so a restated version filed later is a new version,
  and re-importing the same row updates it in place.
- A labelled table is stored whole under ``frames/user_tables/<name>.parquet``. Imported without ``--key`` it
  replaces the stored table of that name; with a key column, rows are upserted by key.
- Every import says what it changed, row by row against what was stored: new (a key not stored), updated (a
  stored key whose written values differ), unchanged; and which run makes the rows count (nothing is scored or
  trained on at import time).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS
from risk_assets.core.labels import DEFAULT_REPORTING_LAG_DAYS
from risk_assets.core.sectors import is_financial_ksic, is_financial_sic, sector_from_ksic, sector_from_sic
from risk_assets.core.user_data import Parsed, RowError, read_events, read_statements, read_table
from risk_assets.storage.objects import ObjectStore
from risk_assets.storage.warehouse import Warehouse, utc_now

USER_SOURCE = "user_csv"
UNKNOWN_COUNTRY = "ZZ"  # ISO 3166 user-assigned code for "unknown"
TABLE_PREFIX = "frames/user_tables/"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


NEXT_STEPS = {
    "statements": "`riskgraph materialize --jobs rescore_all` scores the imported statements; "
    "`--jobs retrain rescore_all` also trains on them",
    "events": "`riskgraph materialize --jobs retrain rescore_all` uses the events as training labels and grades "
    "a company in default D",
    "table": "`riskgraph materialize --jobs retrain` trains on the table if it has every model ratio; "
    "`riskgraph evaluate --stored-table {name}` evaluates on it",
}


@dataclass
class ImportResult:
    """What landed (new, updated, unchanged rows), what was refused and why."""

    kind: str
    landed: int
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    companies_created: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0  # stored rows a keyless table import dropped
    name: str = ""  # the stored table's name

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """Human-readable summary, one line per fact, errors last."""
        removed = f", {self.removed} removed" if self.removed else ""
        out = [
            f"{self.kind}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged{removed}, "
            f"{len({e.line for e in self.errors})} row(s) refused"
        ]
        if self.new or self.updated or self.removed:
            out.append(f"next: {NEXT_STEPS[self.kind].format(name=self.name)}")
        elif self.landed:
            out.append("nothing changed: no run needed")
        if self.companies_created:
            out.append(
                f"new companies ({len(self.companies_created)}): {', '.join(self.companies_created[:20])}"
                + (" ..." if len(self.companies_created) > 20 else "")
            )
        out += [f"{key}: {value}" for key, value in self.detail.items()]
        out += [f"warning: {text}" for text in self.warnings]
        out += [f"error: {error}" for error in self.errors]
        return out


def _cell(value: Any) -> Any:
    """One comparable form of a stored or incoming value: missing -> None, dates -> ISO text, numbers -> float."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _changes(stored: pd.DataFrame, incoming: pd.DataFrame, key: list[str]) -> tuple[int, int, int]:
    """(new, updated, unchanged) of ``incoming`` rows against ``stored`` by ``key``, comparing the columns
    ``incoming`` writes (a column it does not carry is kept by the upsert, so it cannot change)."""
    columns = [c for c in incoming.columns if c not in key]
    before: dict[tuple, tuple] = {}
    if not stored.empty:
        present = [c for c in columns if c in stored.columns]
        for record in stored[key + present].itertuples(index=False):
            values = dict(zip(key + present, record, strict=True))
            before[tuple(_cell(values[k]) for k in key)] = tuple(_cell(values.get(c)) for c in columns)
    new = updated = unchanged = 0
    for record in incoming[key + columns].itertuples(index=False):
        identity = tuple(_cell(v) for v in record[: len(key)])
        if identity not in before:
            new += 1
        elif before[identity] == tuple(_cell(v) for v in record[len(key) :]):
            unchanged += 1
        else:
            updated += 1
    return new, updated, unchanged


def _first(values: pd.Series) -> Any:
    present = values.dropna()
    return present.iloc[0] if len(present) else None


def _new_company_rows(rows: pd.DataFrame, known: set[str], now: dt.datetime) -> list[dict]:
    companies = []
    for company_id, group in rows.groupby("company_id", sort=True):
        if company_id in known:
            continue
        sic = _first(group["sic"]) if "sic" in group else None
        ksic = _first(group["induty_code"]) if "induty_code" in group else None
        companies.append(
            {
                "company_id": company_id,
                "name": (_first(group["name"]) if "name" in group else None) or company_id,
                "country": (_first(group["country"]) if "country" in group else None) or UNKNOWN_COUNTRY,
                "currency": _first(group["currency"]),
                "sic": sic,
                "induty_code": ksic,
                "sector": sector_from_sic(sic) if sic else sector_from_ksic(ksic),
                "is_financial": bool(is_financial_sic(sic) or is_financial_ksic(ksic)),
                "source": USER_SOURCE,
                "updated_at": now,
            }
        )
    return companies


def statement_rows(parsed: pd.DataFrame, reporting_lag_days: int, default_currency: str) -> pd.DataFrame:
    """Parsed CSV rows as ``statements`` rows: filed_at filled (and flagged), accession, currency, source."""
    rows = parsed.copy()
    lagged = pd.to_datetime(rows["period_end"]) + pd.Timedelta(days=reporting_lag_days)
    derived = rows["filed_at"].isna() if "filed_at" in rows else pd.Series(True, index=rows.index)
    filed = pd.to_datetime(rows["filed_at"]) if "filed_at" in rows else pd.Series(pd.NaT, index=rows.index)
    rows["filed_at"] = filed.fillna(lagged).dt.date
    accession = rows["accession"] if "accession" in rows else pd.Series(None, index=rows.index, dtype=object)
    rows["accession"] = accession.where(
        accession.notna(), "csv-" + pd.to_datetime(rows["filed_at"]).dt.strftime("%Y%m%d")
    )
    rows["currency"] = rows["currency"].fillna(default_currency) if "currency" in rows else default_currency
    rows["source"] = USER_SOURCE
    rows["form"] = rows.get("form", None)
    rows["derived_items"] = derived.map(lambda d: "filed_at" if d else "")
    return rows


def import_statements(
    warehouse: Warehouse,
    source: str | Path | io.StringIO,
    *,
    reporting_lag_days: int = DEFAULT_REPORTING_LAG_DAYS,
    default_currency: str = "USD",
) -> ImportResult:
    """Check and store a statements CSV (see module docstring for the companies and filed_at decisions)."""
    parsed: Parsed = read_statements(source)
    errors, warnings = list(parsed.errors), list(parsed.warnings)
    rows = parsed.rows
    if rows.empty:
        return ImportResult("statements", 0, errors, warnings)
    ids = sorted(rows["company_id"].unique())
    companies = warehouse.read("companies", where={"company_id": ids})
    foreign = set(companies.loc[companies["source"] != USER_SOURCE, "company_id"])
    if foreign:
        refused = rows["company_id"].isin(foreign)
        for line, company_id in rows.loc[refused, ["line", "company_id"]].itertuples(index=False):
            errors.append(
                RowError(
                    int(line),
                    "company_id",
                    f"{company_id} is ingested from its filings "
                    "(SEC/DART); the next ingest would replace imported statements",
                )
            )
        rows = rows[~refused]
    known_currency = companies.set_index("company_id")["currency"].dropna().to_dict()
    rows = rows.assign(currency=rows["currency"].fillna(rows["company_id"].map(known_currency)))
    stored = statement_rows(rows, reporting_lag_days, default_currency)
    now = utc_now()
    new_companies = _new_company_rows(stored, set(companies["company_id"]), now)
    keep = [
        c
        for c in (
            "company_id",
            "period_end",
            "accession",
            "fiscal_year",
            "period_start",
            "filed_at",
            "form",
            "currency",
            "source",
            "derived_items",
            *CANONICAL_ITEMS,
        )
        if c in stored.columns
    ]
    table = stored[keep].copy()
    table["period_type"], table["fiscal_period"] = "FY", "FY"
    before = warehouse.read("statements", where={"company_id": sorted(table["company_id"].unique())})
    new, updated, unchanged = _changes(before, table, ["company_id", "period_end", "accession"])
    with warehouse.transaction() as conn:
        if new_companies:
            warehouse.upsert("companies", new_companies, connection=conn)
        warehouse.upsert("statements", table, connection=conn)
    errors.sort(key=lambda e: e.line)
    detail = {"filed_at derived (period end + lag)": int((stored["derived_items"] == "filed_at").sum())}
    return ImportResult(
        "statements",
        len(table),
        errors,
        warnings,
        [c["company_id"] for c in new_companies],
        detail,
        new,
        updated,
        unchanged,
    )


def import_events(warehouse: Warehouse, source: str | Path | io.StringIO) -> ImportResult:
    """Check and store a default-events CSV; events of a company with no statements are kept (and warned)."""
    parsed = read_events(source)
    rows = parsed.rows
    if rows.empty:
        return ImportResult("events", 0, list(parsed.errors), list(parsed.warnings))
    table = rows.drop(columns="line").copy()
    table["source"] = table["source"].fillna(USER_SOURCE)
    table["loaded_at"] = utc_now()
    warnings = list(parsed.warnings)
    known = set(
        warehouse.read("companies", where={"company_id": sorted(table["company_id"].unique())})["company_id"]
    )
    unknown = sorted(set(table["company_id"]) - known)
    if unknown:
        warnings.append(
            f"{len(unknown)} company id(s) have no companies row yet (import their statements): "
            + ", ".join(unknown[:10])
            + (" ..." if len(unknown) > 10 else "")
        )
    before = warehouse.read("default_events", where={"company_id": sorted(table["company_id"].unique())})
    counts = _changes(before, table.drop(columns="loaded_at"), ["company_id", "event_date", "kind"])
    warehouse.upsert("default_events", table)
    return ImportResult(
        "events",
        len(table),
        list(parsed.errors),
        warnings,
        new=counts[0],
        updated=counts[1],
        unchanged=counts[2],
    )


# -- labelled tables in the object store ------------------------------------------------------------------


def _table_key(name: str) -> str:
    if not _TABLE_NAME.match(name):
        raise ValueError(f"table name {name!r}: use letters, digits, '_', '-', '.' (at most 64)")
    return f"{TABLE_PREFIX}{name}.parquet"


def _meta_key(name: str) -> str:
    return f"{TABLE_PREFIX}{name}.json"


def import_table(
    objects: ObjectStore,
    source: str | Path | io.StringIO,
    *,
    target: str,
    name: str,
    key: str | None = None,
) -> ImportResult:
    """Check and store a labelled ratio table; see the module docstring for replace vs upsert."""
    data_key = _table_key(name)
    parsed = read_table(source, target, key)
    rows = parsed.rows.drop(columns="line")
    if rows.empty:
        return ImportResult("table", 0, list(parsed.errors), list(parsed.warnings))
    replaced = removed = 0
    stored = objects.exists(data_key)
    if key and stored:
        meta = json.loads(objects.get(_meta_key(name)))
        if meta.get("key") != key or meta.get("target") != target:
            raise ValueError(
                f"stored table {name!r} has key {meta.get('key')!r} and target {meta.get('target')!r}: "
                "import with the same ones, or under another name"
            )
    existing = pd.read_parquet(io.BytesIO(objects.get(data_key))) if stored else pd.DataFrame()
    if key:
        new, updated, unchanged = _changes(existing, rows, [key])
    else:
        new, updated, unchanged = _replacement_changes(existing, rows)
        removed = len(existing) - unchanged
    if key and stored:
        replaced = int(existing[key].isin(rows[key]).sum())
        rows = pd.concat([existing[~existing[key].isin(rows[key])], rows], ignore_index=True)
    buffer = io.BytesIO()
    rows.to_parquet(buffer, index=False)
    objects.put(data_key, buffer.getvalue(), "application/vnd.apache.parquet")
    meta = {
        "name": name,
        "target": target,
        "key": key,
        "rows": len(rows),
        "positives": int(rows[target].sum()),
        "columns": list(rows.columns),
        "imported_at": utc_now().isoformat(),
    }
    objects.put(_meta_key(name), json.dumps(meta).encode(), "application/json")
    detail = {"stored table": f"{data_key} ({len(rows)} rows, {int(rows[target].sum())} positives)"}
    if key:
        detail["rows updated by key"] = replaced
    return ImportResult(
        "table",
        len(parsed.rows),
        list(parsed.errors),
        list(parsed.warnings),
        detail=detail,
        new=new,
        updated=updated,
        unchanged=unchanged,
        removed=removed,
        name=name,
    )


def _replacement_changes(existing: pd.DataFrame, rows: pd.DataFrame) -> tuple[int, int, int]:
    """A table without a key replaces the stored one: a row equal to a stored row (each stored row matched at
    most once) is unchanged, any other is new; nothing is "updated" without a key."""
    if existing.empty or list(existing.columns) != list(rows.columns):
        return len(rows), 0, 0
    left: dict[tuple, int] = {}
    for record in existing.itertuples(index=False):
        identity = tuple(_cell(v) for v in record)
        left[identity] = left.get(identity, 0) + 1
    unchanged = 0
    for record in rows.itertuples(index=False):
        identity = tuple(_cell(v) for v in record)
        if left.get(identity, 0) > 0:
            left[identity] -= 1
            unchanged += 1
    return len(rows) - unchanged, 0, unchanged


def stored_tables(objects: ObjectStore) -> list[dict[str, Any]]:
    """Metadata of every stored labelled table."""
    return [
        json.loads(objects.get(key)) for key in sorted(objects.list(TABLE_PREFIX)) if key.endswith(".json")
    ]


def read_stored_table(objects: ObjectStore, name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(rows, metadata) of a stored labelled table."""
    data_key = _table_key(name)
    if not objects.exists(data_key):
        raise LookupError(f"no stored table {name!r}")
    return pd.read_parquet(io.BytesIO(objects.get(data_key))), json.loads(objects.get(_meta_key(name)))


def open_configured_object_store(url: str, endpoint_url: str | None = None) -> ObjectStore:
    """The object store of the settings, outside Dagster (the CLI): S3 through boto3 when the URL asks."""
    from risk_assets.storage.objects import open_object_store

    if url.startswith("s3://"):
        import boto3

        return open_object_store(url, s3_client=boto3.client("s3", endpoint_url=endpoint_url or None))
    return open_object_store(url)
