"""Shapes shared by routers: stored drivers (a dict of the top contributions) as a list with feature values."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, Any]]:
    from risk_assets.core.field_features import catalogue

    return {entry["name"]: entry for entry in catalogue()}


def drivers_out(stored: dict[str, Any], feature_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stored drivers as the API serves them: each contribution with the feature's plain name, formula and unit,
    and ``imputed`` when the value was missing and the model filled it in; the filing-behaviour overlay."""
    values = feature_values or {}
    names = _catalogue()
    contributions = sorted(stored.get("contributions", {}).items(), key=lambda item: -abs(item[1]))
    out = []
    for name, value in contributions:
        known = finite_or_none(values.get(name))
        entry = names.get(name, {})
        out.append(
            {
                "feature": name,
                "contribution": value,
                "value": known,
                "imputed": known is None,
                "label": entry.get("label"),
                "formula": entry.get("formula"),
                "unit": entry.get("unit"),
            }
        )
    return {
        "base": stored.get("base", 0.0),
        "contributions": out,
        "other": stored.get("other", 0.0),
        "overlay": stored.get("overlay", []),
    }


def finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def page(limit: int, offset: int, items: list, total: int) -> dict[str, int]:
    return {"limit": limit, "offset": offset, "count": len(items), "total": total}
