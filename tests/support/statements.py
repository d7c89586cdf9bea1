"""Editing a materialised warehouse's statements the way a restated filing would, for tests that then rescore."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from risk_assets.storage.warehouse import Warehouse


def latest_statement(store: Warehouse, company_id: str) -> pd.Series:
    """The company's most recent statement version: the latest period end, then the latest filing."""
    return (
        store.read("statements", where={"company_id": company_id})
        .sort_values(["period_end", "filed_at"])
        .iloc[-1]
    )


def change_statement_in_place(store: Warehouse, version: pd.Series, items: Mapping[str, object]) -> None:
    """Overwrite ``items`` of one stored statement version (its company, accession and period end) through the
    warehouse's write path, as a re-ingested restatement would be: the write marks the company's derived rows
    stale, so the next rescore re-derives it."""
    store.upsert("statements", [{**_row(version), **items}])


def _row(version: pd.Series) -> dict[str, object]:
    """A stored statement row as the writer takes it (NaN as None)."""
    return {name: (None if pd.isna(value) else value) for name, value in version.items()}
