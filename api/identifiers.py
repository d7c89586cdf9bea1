"""A company as users name it: a company id, a ticker, a CIK or a DART corp code, resolved to the company id.

Every route with a ``{company_id}`` path parameter takes it through `CompanyId` (or `WatchedCompanyId`), so
`/v1/companies/AAPL`, `/v1/companies/320193` and `/v1/companies/sec-0000320193` are the same company, and the
endpoint only ever sees the canonical id (which its response carries).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Path

from api.cache import cached
from api.deps import IdentifierCacheDep, WarehouseDep
from api.errors import ApiProblem
from risk_assets.storage.schema import companies, watchlist
from risk_assets.storage.warehouse import Warehouse

# Canonical ids pass through without a query: the endpoint's own read says whether the company exists, so the
# hot path (a profile by id) costs what it did before.
_CANONICAL = re.compile(r"^(sec-\d{10}|dart-\d{8})$")
_MATCH_COLUMNS = ("company_id", "ticker", "cik", "dart_corp_code")


def interpretations(identifier: str) -> list[str]:
    """What ``identifier`` may be, in the words of the 404 that lists them."""
    found = ["company id", "ticker"]
    if identifier.isascii() and identifier.isdigit():
        if len(identifier) <= 10:
            found.append("CIK")
        if len(identifier) == 8:
            found.append("DART corp code")
    return found


def _matches(table: sa.Table, identifier: str) -> sa.Select:
    text = identifier.strip()
    conditions = [
        table.c.company_id.in_(sorted({text, text.lower()})),
        sa.func.upper(table.c.ticker) == text.upper(),
    ]
    kinds = interpretations(text)
    if "CIK" in kinds:
        conditions.append(table.c.cik == text.zfill(10))
    if "DART corp code" in kinds:
        conditions.append(table.c.dart_corp_code == text)
    return sa.select(*[table.c[name] for name in _MATCH_COLUMNS]).where(sa.or_(*conditions))


def _how(row: sa.RowMapping, identifier: str) -> str:
    """Which column of ``row`` made it match."""
    text = identifier.strip()
    if row["company_id"] in (text, text.lower()):
        return "company id"
    if row["ticker"] is not None and row["ticker"].upper() == text.upper():
        return "ticker"
    if row["cik"] is not None and text.isascii() and text.isdigit() and row["cik"] == text.zfill(10):
        return "CIK"
    return "DART corp code"


def resolve(warehouse: Warehouse, identifier: str, tables: tuple[sa.Table, ...] = (companies,)) -> str:
    """The company id ``identifier`` names in ``tables``; ApiProblem 404 when it names none or several.

    A company id match wins (it is unique by construction); otherwise the ticker (any case), CIK (any zero
    padding) and DART corp code must all point at one company."""
    if _CANONICAL.match(identifier):
        return identifier
    statement = sa.union_all(*[_matches(table, identifier) for table in tables])
    with warehouse.engine.connect() as conn:
        rows = conn.execute(statement).mappings().all()
    by_id: dict[str, set[str]] = {}
    for row in rows:
        by_id.setdefault(row["company_id"], set()).add(_how(row, identifier))
    exact = [company_id for company_id, how in by_id.items() if "company id" in how]
    if exact:
        return exact[0]
    if len(by_id) == 1:
        return next(iter(by_id))
    if not by_id:
        kinds = interpretations(identifier.strip())
        tried = ", ".join(kinds[:-1]) + f" or {kinds[-1]}"
        raise ApiProblem(404, f"unknown company {identifier!r}: no company matches it as a {tried}")
    candidates = "; ".join(
        f"{company_id} by {' and '.join(sorted(how))}" for company_id, how in sorted(by_id.items())
    )
    raise ApiProblem(
        404,
        f"ambiguous company {identifier!r}: it names {len(by_id)} companies ({candidates}); "
        "use the company id",
    )


def _dependency(tables: tuple[sa.Table, ...]) -> Callable[..., object]:
    names = tuple(table.name for table in tables)

    async def company_id_of(
        warehouse: WarehouseDep,
        identifier_cache: IdentifierCacheDep,
        company_id: Annotated[
            str,
            Path(
                min_length=1,
                max_length=40,
                examples=["sec-0000320193", "AAPL"],
                description="A company id (sec-<10-digit CIK> or dart-<8-digit corp code>), or a ticker (any case), "
                "a CIK (with or without leading zeros) or an 8-digit DART corp code",
            ),
        ],
    ) -> str:
        if _CANONICAL.match(company_id):
            return company_id
        # Cached until the warehouse changes (api/cache.py); an unknown identifier raises and is not kept.
        return await cached(
            identifier_cache,
            warehouse,
            (names, company_id),
            lambda: resolve(warehouse, company_id, tables),
        )

    return company_id_of


CompanyId = Annotated[str, Depends(_dependency((companies,)))]
"""A company of the universe."""
WatchedCompanyId = Annotated[str, Depends(_dependency((companies, watchlist)))]
"""A company of the universe or the watchlist (which may hold companies not yet ingested)."""
