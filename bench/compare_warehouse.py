"""Dump a warehouse's tables sorted by key, and compare two dumps row for row.

    .venv/bin/python bench/compare_warehouse.py dump sqlite:///.riskgraph/warehouse.db /tmp/before
    .venv/bin/python bench/compare_warehouse.py dump mysql+pymysql://root@127.0.0.1:3306/mydb /tmp/after
    .venv/bin/python bench/compare_warehouse.py compare /tmp/before /tmp/after

Why: a refactoring of the graph's computations (vectorising a loop, moving it to core/) must leave every stored
row as it was. ``dump`` writes one parquet file per warehouse table (schema.TABLES), rows sorted by primary key.
``compare`` matches rows by primary key and reports, per table, rows only in one dump and rows whose values
differ (first few shown). Numbers are equal within a relative tolerance of 1e-12 (``--rtol``), also inside JSON
text columns (ratios, drivers, feature values...), which are compared parsed. Exit code 0 when identical.

Columns that differ between two runs by design are ignored (``RUN_DEPENDENT``): load and computation
timestamps, the code version (the git commit the scores were made with) and the audit log's serial id.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from risk_assets.storage.schema import TABLES  # noqa: E402

#: Per table, the columns that depend on when or from which commit a run happened, not on the data.
RUN_DEPENDENT: dict[str, tuple[str, ...]] = {
    "companies": ("updated_at",),
    "watchlist": ("added_at",),
    "raw_filings": ("fetched_at",),
    "rejected_records": ("detected_at",),
    "features": ("computed_at",),
    "market_features": ("computed_at",),
    "warning_signals": ("loaded_at",),
    "default_events": ("loaded_at",),
    "risk_scores": ("scored_at", "code_version"),
    "risk_alerts": ("created_at",),
    "model_decisions": ("decided_at",),
    "api_keys": ("created_at", "key_hash", "key_prefix"),
    "audit_log": ("id", "at"),
}
SHOWN_DIFFERENCES = 5


def key_columns(table: str) -> list[str]:
    if table == "audit_log":  # its key is a serial number: compare by content instead
        return [c.name for c in TABLES[table].columns if c.name not in RUN_DEPENDENT[table]]
    return [c.name for c in TABLES[table].primary_key.columns]


def dump(url: str, folder: Path) -> None:
    """Every warehouse table as ``<table>.parquet`` in ``folder``, sorted by key, run-dependent columns kept."""
    from risk_assets.storage.warehouse import Warehouse

    folder.mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse(url)
    try:
        for table in TABLES:
            frame = warehouse.read(table)
            keys = key_columns(table)
            frame = frame.sort_values(keys, key=lambda s: s.astype(str)).reset_index(drop=True)
            frame.astype(object).astype(str).where(frame.notna(), None).to_parquet(
                folder / f"{table}.parquet", index=False
            )
            print(f"  {table}: {len(frame):,} rows", file=sys.stderr)
    finally:
        warehouse.dispose()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def close(a: Any, b: Any, rtol: float) -> bool:
    """Equal, numbers within ``rtol`` (relative), JSON text compared parsed, recursively."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rtol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, rtol) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))
    if isinstance(a, str) and isinstance(b, str):
        if a == b:
            return True
        x, y = _number(a), _number(b)
        if x is not None and y is not None:
            return close(x, y, rtol)
        if a[:1] in "[{" and b[:1] in "[{":
            try:
                return close(json.loads(a), json.loads(b), rtol)
            except ValueError:
                return False
        return False
    return a == b


def compare_table(table: str, before: pd.DataFrame, after: pd.DataFrame, rtol: float) -> list[str]:
    """Differences of one table, as lines (empty when identical)."""
    ignored = set(RUN_DEPENDENT.get(table, ()))
    keys = key_columns(table)
    columns = [c for c in before.columns if c not in ignored]
    if list(after.columns) != list(before.columns):
        return [f"{table}: columns differ: {list(before.columns)} vs {list(after.columns)}"]
    left = before.set_index(keys, drop=False)
    right = after.set_index(keys, drop=False)
    problems = []
    if left.index.has_duplicates or right.index.has_duplicates:
        # rows keyed by content (audit_log): compare the multisets
        left_rows = sorted(map(tuple, before[columns].astype(str).to_numpy()))
        right_rows = sorted(map(tuple, after[columns].astype(str).to_numpy()))
        return [] if left_rows == right_rows else [f"{table}: rows differ (content-keyed table)"]
    only_before = left.index.difference(right.index)
    only_after = right.index.difference(left.index)
    if len(only_before):
        problems.append(
            f"{table}: {len(only_before)} row(s) only in the first dump, e.g. {list(only_before[:3])}"
        )
    if len(only_after):
        problems.append(
            f"{table}: {len(only_after)} row(s) only in the second dump, e.g. {list(only_after[:3])}"
        )
    common = left.index.intersection(right.index)
    differing = 0
    for key in common:
        a, b = left.loc[key], right.loc[key]
        bad = [c for c in columns if not close(a[c], b[c], rtol)]
        if bad:
            differing += 1
            if differing <= SHOWN_DIFFERENCES:
                detail = "; ".join(f"{c}: {str(a[c])[:120]!r} vs {str(b[c])[:120]!r}" for c in bad[:3])
                problems.append(f"{table} {key}: {detail}")
    if differing:
        problems.append(f"{table}: {differing} of {len(common):,} common row(s) differ")
    return problems


def compare(first: Path, second: Path, rtol: float) -> int:
    """Print each table's verdict; 0 when every table is identical (ignoring RUN_DEPENDENT)."""
    problems = []
    for table in TABLES:
        paths = first / f"{table}.parquet", second / f"{table}.parquet"
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            problems.append(f"{table}: no dump at {', '.join(missing)}")
            continue
        before, after = (pd.read_parquet(p) for p in paths)
        before, after = (f.astype(object).where(f.notna(), None) for f in (before, after))
        found = compare_table(table, before, after, rtol)
        verdict = "identical" if not found else "DIFFERENT"
        print(f"{table:<18} {len(before):>9,} / {len(after):>9,} rows  {verdict}")
        problems += found
    for line in problems:
        print(line)
    print("warehouses identical" if not problems else f"{len(problems)} difference line(s)")
    return 0 if not problems else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump", help="dump a warehouse (SQLAlchemy URL) into a folder")
    dumping.add_argument("url")
    dumping.add_argument("folder", type=Path)
    comparing = commands.add_parser("compare", help="compare two dump folders")
    comparing.add_argument("first", type=Path)
    comparing.add_argument("second", type=Path)
    comparing.add_argument("--rtol", type=float, default=1e-12)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.url, args.folder)
        return 0
    return compare(args.first, args.second, args.rtol)


if __name__ == "__main__":
    raise SystemExit(main())
