"""Editing a materialised warehouse's statements the way a restated filing would, for tests that then rescore."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa

from risk_assets.storage.schema import statements
from risk_assets.storage.warehouse import Warehouse


def latest_statement(store: Warehouse, company_id: str) -> pd.Series:
    """The company's most recent statement version: the latest period end, then the latest filing."""
    return (
        store.read("statements", where={"company_id": company_id})
        .sort_values(["period_end", "filed_at"])
        .iloc[-1]
    )


def change_statement_in_place(store: Warehouse, version: pd.Series, items: Mapping[str, object]) -> None:
    """Overwrite ``items`` of one stored statement version (its company, accession and period end) in place."""
    with store.transaction() as conn:
        conn.execute(
            sa.update(statements)
            .where(
                statements.c.company_id == version["company_id"],
                statements.c.accession == version["accession"],
                statements.c.period_end == version["period_end"],
            )
            .values(**items)
        )
