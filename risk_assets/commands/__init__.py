"""Command groups of the `riskgraph` CLI: one module per group, each with ``register(subparsers)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from risk_assets.storage.warehouse import Warehouse


def open_warehouse(url: str | None = None) -> Warehouse:
    """The configured warehouse (or ``url``), its schema brought up to date: what every command writes to."""
    from risk_assets.settings import Settings
    from risk_assets.storage.warehouse import Warehouse

    warehouse = Warehouse(url or Settings.from_env().warehouse_url)
    warehouse.create_schema()
    return warehouse
