"""Shapes shared by routers: stored drivers (a dict of the top contributions) as a list with feature values."""

from __future__ import annotations

from typing import Any

from risk_assets.core.field_features import finite_or_none, labelled_contributions

__all__ = ["drivers_out", "finite_or_none", "page"]


def drivers_out(stored: dict[str, Any], feature_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stored drivers as the API serves them: each contribution labelled (core.field_features.labelled_contributions)
    and the filing-behaviour overlay."""
    return {
        "base": stored.get("base", 0.0),
        "contributions": labelled_contributions(stored.get("contributions", {}), feature_values),
        "other": stored.get("other", 0.0),
        "overlay": stored.get("overlay", []),
    }


def page(limit: int, offset: int, items: list, total: int) -> dict[str, int]:
    return {"limit": limit, "offset": offset, "count": len(items), "total": total}
