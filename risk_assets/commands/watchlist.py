"""`riskgraph watchlist add|remove|list`: the companies the filings sensor follows.

    riskgraph watchlist add --cik 320193            # SEC filer (any zero padding)
    riskgraph watchlist add --dart 00126380         # OpenDART corp code
    riskgraph watchlist add --ticker AAPL           # a ticker the warehouse knows, else SEC company_tickers.json
    riskgraph watchlist add --ticker 005930         # a Korean stock code: OpenDART's corp-code list
    riskgraph watchlist remove sec-0000320193
    riskgraph watchlist list

Tickers unknown to the warehouse are looked up online only when the source's credentials are set
(RISKGRAPH_SEC_USER_AGENT for SEC, OPENDART_API_KEY for OpenDART); ``--offline`` never asks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from risk_assets.commands import open_warehouse


def online_ticker_lookup(ticker: str, sec=None, dart=None) -> dict | None:
    """{"cik": ...} from SEC company_tickers.json, or {"dart_corp_code": ...} for a 6-digit Korean stock code
    from OpenDART's corp-code list; None when not found or the source is not configured. ``sec`` / ``dart``:
    the source resources (default: configured from the environment)."""
    from risk_assets.defs.resources import source_clients
    from risk_assets.settings import Settings

    configured = source_clients(Settings.from_env(), env_vars=False) if sec is None or dart is None else {}
    wanted = ticker.strip().upper()
    if wanted.isdigit() and len(wanted) == 6:
        row = _first_listed(
            dart or configured["dart"],
            lambda client: client.corp_codes(),
            lambda row: (row.get("stock_code") or "") == wanted,
        )
        return None if row is None else {"dart_corp_code": row["corp_code"]}
    row = _first_listed(
        sec or configured["sec"],
        lambda client: client.company_tickers(),
        lambda row: row["ticker"].upper() == wanted,
    )
    return None if row is None else {"cik": str(row["cik"])}


def _first_listed(
    resource, listing: Callable[[Any], Iterable[dict]], matches: Callable[[dict], bool]
) -> dict | None:
    """The first row of a source's listing that ``matches``; None when none does or the source is not configured
    (its client is closed either way)."""
    if not resource.is_configured():
        return None
    with resource.client() as client:
        return next((row for row in listing(client) if matches(row)), None)


def _add(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    from risk_assets.storage.watchlist import WatchlistError, add_to_watchlist

    if not (args.ticker or args.cik or args.dart):
        print("give --ticker, --cik or --dart", file=sys.stderr)
        return 2
    warehouse = open_warehouse()
    try:
        row = add_to_watchlist(
            warehouse,
            ticker=args.ticker,
            cik=args.cik,
            dart_corp_code=args.dart,
            added_by=args.by,
            ticker_lookup=None if args.offline else online_ticker_lookup,
        )
    except WatchlistError as error:
        print(f"not added: {error}", file=sys.stderr)
        return 1
    finally:
        warehouse.dispose()
    print(
        f"watching {row['company_id']} (ticker {row['ticker'] or '-'}, CIK {row['cik'] or '-'}, "
        f"DART {row['dart_corp_code'] or '-'})",
        file=out,
    )
    return 0


def _remove(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    from risk_assets.storage.watchlist import remove_from_watchlist

    warehouse = open_warehouse()
    try:
        removed = remove_from_watchlist(warehouse, args.company_id)
    finally:
        warehouse.dispose()
    print(
        f"removed {args.company_id}" if removed else f"{args.company_id} was not on the watchlist", file=out
    )
    return 0 if removed else 1


def _list(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    from risk_assets.storage.watchlist import list_watchlist

    warehouse = open_warehouse()
    try:
        frame = list_watchlist(warehouse)
    finally:
        warehouse.dispose()
    if frame.empty:
        print("the watchlist is empty", file=out)
        return 0
    print(
        frame[["company_id", "ticker", "cik", "dart_corp_code", "added_at", "added_by"]].to_string(
            index=False
        ),
        file=out,
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    watchlist = subparsers.add_parser(
        "watchlist", help="companies the filings sensor follows (add, remove, list)"
    )
    actions = watchlist.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="watch a company by ticker, CIK or DART corp code")
    add.add_argument("--ticker", help="ticker (AAPL) or Korean stock code (005930)")
    add.add_argument("--cik", help="SEC CIK, any zero padding")
    add.add_argument("--dart", help="OpenDART corp code (8 digits)")
    add.add_argument("--by", default="cli", help="who added it (recorded)")
    add.add_argument("--offline", action="store_true", help="never look tickers up online")
    add.set_defaults(handler=_add)

    remove = actions.add_parser("remove", help="stop watching a company")
    remove.add_argument("company_id", help="e.g. sec-0000320193 or dart-00126380")
    remove.set_defaults(handler=_remove)

    listing = actions.add_parser("list", help="print the watchlist")
    listing.set_defaults(handler=_list)
