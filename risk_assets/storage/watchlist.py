"""The watchlist: companies the sensors follow for new filings (SEC CIK and/or DART corp code)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from risk_assets.storage.api_keys import Audit
from risk_assets.storage.schema import companies, watchlist
from risk_assets.storage.warehouse import Warehouse, utc_now

_CIK = re.compile(r"^\d{1,10}$")
_DART = re.compile(r"^\d{8}$")


class WatchlistError(ValueError):
    """A watchlist request the store refuses; the subclass says why, the message says which identifier."""


class InvalidIdentifier(WatchlistError):
    """A CIK or DART corp code of the wrong shape, or no identifier at all."""


class UnknownCompany(WatchlistError):
    """A ticker neither the warehouse nor the ticker lookup knows."""


def company_id_for(*, cik: str | None = None, dart_corp_code: str | None = None) -> str:
    """The product's company id: ``sec-<10-digit CIK>`` or ``dart-<8-digit corp code>``."""
    if cik:
        if not _CIK.match(cik.strip()):
            raise InvalidIdentifier(f"CIK must be up to 10 digits, got {cik!r}")
        return f"sec-{int(cik):010d}"
    if dart_corp_code:
        if not _DART.match(dart_corp_code.strip()):
            raise InvalidIdentifier(f"DART corp code must be 8 digits, got {dart_corp_code!r}")
        return f"dart-{dart_corp_code.strip()}"
    raise InvalidIdentifier("give a CIK or a DART corp code (or a ticker of a known company)")


#: Resolves a ticker the warehouse does not know: {"cik": ...} or {"dart_corp_code": ...}, or None.
TickerLookup = Callable[[str], dict | None]


def _resolve_ticker(warehouse: Warehouse, ticker: str, lookup: TickerLookup | None = None) -> dict:
    found = warehouse.query(
        sa.select(companies).where(sa.func.upper(companies.c.ticker) == ticker.strip().upper())
    )
    if not found.empty:
        return found.iloc[0].to_dict()
    resolved = lookup(ticker.strip()) if lookup is not None else None
    if resolved:
        return resolved
    where = " or the ticker lists" if lookup is not None else ""
    raise UnknownCompany(
        f"unknown ticker {ticker!r} (not in the warehouse{where}): add it by CIK or DART corp code"
    )


def add_to_watchlist(
    warehouse: Warehouse,
    *,
    ticker: str | None = None,
    cik: str | None = None,
    dart_corp_code: str | None = None,
    added_by: str = "cli",
    ticker_lookup: TickerLookup | None = None,
    audit: Audit | None = None,
) -> dict:
    """Add (or refresh) a watchlist entry and return it. Idempotent: adding twice keeps one row.

    A ticker alone is resolved from the warehouse's companies, then through ``ticker_lookup`` (the CLI passes
    one backed by SEC company_tickers.json and OpenDART's corp-code list when their credentials are set), before
    the transaction opens (the lookup may go online). With ``audit``, the entry and its `watchlist_add` audit row
    are written in one transaction."""
    if ticker and not (cik or dart_corp_code):
        known = _resolve_ticker(warehouse, ticker, ticker_lookup)
        cik, dart_corp_code = known.get("cik"), known.get("dart_corp_code")
    company_id = company_id_for(cik=cik, dart_corp_code=dart_corp_code)
    row = {
        "company_id": company_id,
        "ticker": ticker.strip().upper() if ticker else None,
        "cik": f"{int(cik):010d}" if cik else None,
        "dart_corp_code": dart_corp_code.strip() if dart_corp_code else None,
        "added_at": utc_now(),
        "added_by": added_by,
    }
    with warehouse.transaction() as conn:
        warehouse.upsert("watchlist", [row], connection=conn)
        if audit is not None:
            audit.record(conn, action="watchlist_add", target=company_id)
    return row


def remove_from_watchlist(warehouse: Warehouse, company_id: str, *, audit: Audit | None = None) -> bool:
    """Remove an entry; False when it was not on the watchlist. With ``audit``, a removal and its
    `watchlist_remove` audit row are written in one transaction (nothing removed: no audit row)."""
    with warehouse.transaction() as conn:
        result = conn.execute(sa.delete(watchlist).where(watchlist.c.company_id == company_id))
        removed = result.rowcount > 0
        if removed and audit is not None:
            audit.record(conn, action="watchlist_remove", target=company_id)
    return removed


def list_watchlist(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.read("watchlist", order_by=["company_id"])
