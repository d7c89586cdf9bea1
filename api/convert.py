"""Shapes shared by routers: stored drivers (a dict of the top contributions) as a list with feature values."""

from __future__ import annotations

import math
from typing import Any


def drivers_out(stored: dict[str, Any], feature_values: dict[str, Any] | None = None) -> dict[str, Any]:
    values = feature_values or {}
    contributions = sorted(stored.get("contributions", {}).items(), key=lambda item: -abs(item[1]))
    return {
        "base": stored.get("base", 0.0),
        "contributions": [
            {"feature": name, "contribution": value, "value": finite_or_none(values.get(name))}
            for name, value in contributions
        ],
        "other": stored.get("other", 0.0),
    }


def finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def page(limit: int, offset: int, items: list, total: int) -> dict[str, int]:
    return {"limit": limit, "offset": offset, "count": len(items), "total": total}
