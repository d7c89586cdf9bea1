"""Shared dependencies: settings and the warehouse, created once per app."""

from __future__ import annotations

from fastapi import Request

from risk_assets.storage.warehouse import Warehouse


def get_warehouse(request: Request) -> Warehouse:
    return request.app.state.warehouse
