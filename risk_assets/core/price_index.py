"""The price-level index that deflates total assets in Ohlson's SIZE term.

Ohlson (1980) divides total assets by the GNP price-level index (1968 = 100). No GNP deflator file is bundled
(and there is no network here), so this module uses the closest real series we do have: FRED CPILFESL (core
CPI, monthly, BLS via FRED; see data/fred/SOURCE.md), averaged per calendar year and rebased so 1968 = 100.
Only full calendar years (12 monthly values) are averaged; a year after the last full one carries that year's
value forward and says so in a note. The bundled values are FRED's 2024-10-10 vintage, not first releases;
for a deflator inside a logarithm that difference is immaterial.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

BASE_YEAR = 1968
BASE_VALUE = 100.0
SERIES_ID = "CPILFESL"
INDEX_DESCRIPTION = (
    "FRED CPILFESL (US core CPI, monthly, seasonally adjusted) averaged per calendar year, rebased 1968 = 100; "
    "stands in for Ohlson's GNP price-level index"
)


def parse_fred_observations(payload: Mapping[str, Any]) -> list[tuple[str, float]]:
    """(date, value) pairs of a FRED ``series/observations`` JSON body; ``"."`` (missing) is skipped.

    FRED sends every value as a string, so each one is parsed; anything that is not a finite number is dropped
    rather than guessed.
    """
    pairs: list[tuple[str, float]] = []
    for obs in payload.get("observations", []):
        raw = obs.get("value")
        if raw is None or str(raw).strip() in {"", "."}:
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            pairs.append((str(obs["date"]), value))
    return pairs


def annual_averages(observations: list[tuple[str, float]], months_required: int = 12) -> dict[int, float]:
    """Mean of the monthly values per calendar year, for years with ``months_required`` distinct months."""
    by_year: dict[int, dict[int, float]] = {}
    for date, value in observations:
        year, month = int(date[0:4]), int(date[5:7])
        by_year.setdefault(year, {})[month] = value
    return {
        year: sum(months.values()) / len(months)
        for year, months in sorted(by_year.items())
        if len(months) >= months_required
    }


def rebase(
    averages: Mapping[int, float], base_year: int = BASE_YEAR, base_value: float = BASE_VALUE
) -> dict[int, float]:
    """Scale the averages so ``base_year`` equals ``base_value``."""
    if base_year not in averages:
        raise ValueError(f"the series has no full year {base_year} to rebase on")
    base = averages[base_year]
    return {year: value / base * base_value for year, value in averages.items()}


@lru_cache(maxsize=1)
def annual_index() -> dict[int, float]:
    """The bundled CPILFESL annual index, 1968 = 100 (parsed once)."""
    blob = resources.files("risk_assets.data").joinpath("fred", f"{SERIES_ID}.json").read_bytes()
    return rebase(annual_averages(parse_fred_observations(json.loads(blob))))


def price_level_index(year: int) -> tuple[float, str | None]:
    """Index value for a calendar year (1968 = 100) and a note when the value is carried forward.

    Raises ValueError for a year before the series starts (1957): there is nothing to carry back honestly.
    """
    index = annual_index()
    first, last = min(index), max(index)
    if year < first:
        raise ValueError(f"no {SERIES_ID} data before {first} (asked for {year})")
    if year > last:
        return index[last], (
            f"{year} is after the last full year of {SERIES_ID} data ({last}); the {last} value is carried forward"
        )
    return index[year], None


def ohlson_price_index(balance_sheet_year: int) -> tuple[float, str | None]:
    """The index Ohlson's SIZE term divides by: that of the year before the balance-sheet year.

    Ohlson (1980) takes the index "as of the year prior to the year of the balance sheet date" so the score can
    be computed in real time, when the current year's deflator is not yet published.
    """
    return price_level_index(balance_sheet_year - 1)
