"""`riskgraph import statements|events|table FILE`: bring your own data into the warehouse / object store.

Good rows land, bad rows are listed with line, column and reason; the exit code is 1 when any row was refused
(the good ones are stored all the same) and 0 when every row landed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from risk_assets.commands import open_warehouse
from risk_assets.core.labels import DEFAULT_REPORTING_LAG_DAYS
from risk_assets.settings import Settings


def _objects():
    from risk_assets.storage.imports import open_configured_object_store

    settings = Settings.from_env()
    return open_configured_object_store(settings.object_store_url, settings.s3_endpoint_url)


def _report(result, out=None) -> int:
    for line in result.lines():
        print(line, file=out)
    return 0 if result.ok else 1


def _statements(args: argparse.Namespace) -> int:
    from risk_assets.storage.imports import import_statements

    warehouse = open_warehouse()
    try:
        return _report(
            import_statements(
                warehouse,
                args.file,
                reporting_lag_days=args.reporting_lag_days,
                default_currency=args.currency.upper(),
            )
        )
    finally:
        warehouse.dispose()


def _events(args: argparse.Namespace) -> int:
    from risk_assets.storage.imports import import_events

    warehouse = open_warehouse()
    try:
        return _report(import_events(warehouse, args.file))
    finally:
        warehouse.dispose()


def _table(args: argparse.Namespace) -> int:
    from risk_assets.storage.imports import import_table

    name = args.name or Path(args.file).stem
    return _report(import_table(_objects(), args.file, target=args.target, name=name, key=args.key))


def _tables(_args: argparse.Namespace) -> int:
    from risk_assets.storage.imports import stored_tables

    tables = stored_tables(_objects())
    if not tables:
        print("no stored tables")
    for meta in tables:
        print(
            f"{meta['name']}: {meta['rows']} rows, {meta['positives']} positives, target {meta['target']!r}, "
            f"key {meta['key']!r}, imported {meta['imported_at']}"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import your own statements, default events or labelled tables "
        "(CSV); bad rows are reported by line, good rows land",
    )
    kinds = parser.add_subparsers(dest="kind", required=True)

    statements = kinds.add_parser(
        "statements",
        help="CSV: company_id, fiscal_year, period_end, optional filed_at, currency, name, country, "
        "sic, any canonical items (total_assets, ..., market_value_equity)",
    )
    statements.add_argument("file")
    statements.add_argument(
        "--reporting-lag-days",
        type=int,
        default=DEFAULT_REPORTING_LAG_DAYS,
        help="filed_at = period_end + this lag where the file has no filing date (default 90)",
    )
    statements.add_argument(
        "--currency",
        default="USD",
        help="currency of rows without one, for companies the warehouse does not know",
    )
    statements.set_defaults(handler=_statements)

    events = kinds.add_parser(
        "events",
        help="CSV: company_id, event_date, kind (bankruptcy, default, "
        "rehabilitation_filing, creditor_bank_management, emergence), optional source, reference",
    )
    events.add_argument("file")
    events.set_defaults(handler=_events)

    table = kinds.add_parser(
        "table",
        help="labelled ratio table: numeric columns and a 0/1 target column, stored "
        "for training and `riskgraph evaluate --stored-table`",
    )
    table.add_argument("file")
    table.add_argument("--target", required=True, help="the 0/1 column (1 = default)")
    table.add_argument("--name", help="stored name (default: the file name without extension)")
    table.add_argument(
        "--key",
        help="a column that identifies a row: re-imports upsert by it (without one, a "
        "re-import replaces the stored table)",
    )
    table.set_defaults(handler=_table)

    tables = kinds.add_parser("tables", help="list the stored labelled tables")
    tables.set_defaults(handler=_tables)
