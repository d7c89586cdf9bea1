"""The feature space of the field: credit ratios as the literature and the rating models define them.

One catalogue (``FEATURES``) names every feature once, with a plain name, a formula over canonical items
(core/canonical.py), a unit, the literature it comes from and the direction in which it moves risk. One function
(``compute_field_features``) computes them over a frame of statements, vectorised, point in time: training
(core/us_listed.py, user panels), `riskgraph evaluate`, batch scoring (the ``features`` asset) and
``POST /v1/score`` all call it, so a feature means the same number everywhere.

No aliases: each economic quantity appears once (the Polish attribute set holds pre-tax profit / total assets
three times and equity / liabilities next to its inverse, which defeated monotone constraints). Where two
classic models use the same ratio in inverse forms (Ohlson's CL/CA, Zmijewski's CA/CL) it is kept in one form.

``monotone``: +1 when, other things equal, a higher value never lowers risk (leverage); -1 when it never raises
it (profitability, liquidity, size, market value cover); 0 when the literature has no single direction (growth,
asset turnover). Tree models are constrained accordingly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from risk_assets.core.fx import usd_per_unit_column
from risk_assets.core.price_index import annual_index

#: The year whose US dollars size is measured in (core CPI, FRED CPILFESL, annual average).
REAL_BASE_YEAR = 2015


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    formula: str
    unit: str
    family: str
    monotone: int
    inputs: tuple[str, ...]
    source: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.label,
            "formula": self.formula,
            "unit": self.unit,
            "family": self.family,
            "monotone": self.monotone,
            "inputs": list(self.inputs),
            "source": self.source,
        }


_ALTMAN = "Altman (1968) Z-score component"
_OHLSON = "Ohlson (1980) O-score component"
_ZMIJEWSKI = "Zmijewski (1984) probit component"

FEATURES: tuple[Feature, ...] = (
    # Altman Z components
    Feature(
        "wc_ta",
        "Working capital to assets",
        "(current_assets - current_liabilities) / total_assets",
        "ratio",
        "liquidity",
        -1,
        ("current_assets", "current_liabilities", "total_assets"),
        _ALTMAN + " X1",
    ),
    Feature(
        "re_ta",
        "Retained earnings to assets",
        "retained_earnings / total_assets",
        "ratio",
        "profitability",
        -1,
        ("retained_earnings", "total_assets"),
        _ALTMAN + " X2",
    ),
    Feature(
        "ebit_ta",
        "Operating return on assets",
        "ebit / total_assets",
        "ratio",
        "profitability",
        -1,
        ("ebit", "total_assets"),
        _ALTMAN + " X3",
    ),
    Feature(
        "sales_ta",
        "Asset turnover",
        "revenue / total_assets",
        "ratio",
        "activity",
        0,
        ("revenue", "total_assets"),
        _ALTMAN + " X5",
    ),
    # Ohlson and Zmijewski components
    Feature(
        "tl_ta",
        "Liabilities to assets",
        "total_liabilities / total_assets",
        "ratio",
        "leverage",
        1,
        ("total_liabilities", "total_assets"),
        _OHLSON + " TLTA; " + _ZMIJEWSKI,
    ),
    Feature(
        "ni_ta",
        "Return on assets",
        "net_income / total_assets",
        "ratio",
        "profitability",
        -1,
        ("net_income", "total_assets"),
        _OHLSON + " NITA; " + _ZMIJEWSKI,
    ),
    Feature(
        "ca_cl",
        "Current ratio",
        "current_assets / current_liabilities",
        "ratio",
        "liquidity",
        -1,
        ("current_assets", "current_liabilities"),
        _ZMIJEWSKI + " (Ohlson's CLCA is its inverse)",
    ),
    Feature(
        "ffo_tl",
        "Funds from operations to liabilities",
        "(net_income + depreciation_amortization) / total_liabilities",
        "ratio",
        "coverage",
        -1,
        ("net_income", "depreciation_amortization", "total_liabilities"),
        _OHLSON + " FUTL",
    ),
    Feature(
        "intwo",
        "Net loss in both of the last two years",
        "1 if net_income < 0 and prior net_income < 0",
        "flag",
        "profitability",
        1,
        ("net_income",),
        _OHLSON + " INTWO",
    ),
    Feature(
        "chin",
        "Change in net income",
        "(net_income - prior net_income) / (|net_income| + |prior net_income|)",
        "ratio (-1..1)",
        "trend",
        -1,
        ("net_income",),
        _OHLSON + " CHIN",
    ),
    Feature(
        "log_real_assets",
        "Size (real total assets)",
        f"log(total_assets in millions of {REAL_BASE_YEAR} US dollars: converted at the year's average "
        "exchange rate, deflated by core CPI)",
        "log USD m",
        "size",
        -1,
        ("total_assets",),
        _OHLSON + " SIZE (deflated; Ohlson used the GNP deflator)",
    ),
    # leverage, coverage, liquidity, profitability, trend
    Feature(
        "ltd_ta",
        "Long-term debt to assets",
        "long_term_debt / total_assets",
        "ratio",
        "leverage",
        1,
        ("long_term_debt", "total_assets"),
    ),
    Feature(
        "interest_cover",
        "Interest cover",
        "ebit / interest_expense",
        "times",
        "coverage",
        -1,
        ("ebit", "interest_expense"),
    ),
    Feature(
        "quick_ratio",
        "Quick ratio",
        "(current_assets - inventory) / current_liabilities",
        "ratio",
        "liquidity",
        -1,
        ("current_assets", "inventory", "current_liabilities"),
    ),
    Feature(
        "cash_ta", "Cash to assets", "cash / total_assets", "ratio", "liquidity", -1, ("cash", "total_assets")
    ),
    Feature(
        "gross_margin",
        "Gross margin",
        "gross_profit / revenue",
        "ratio",
        "profitability",
        -1,
        ("gross_profit", "revenue"),
    ),
    Feature(
        "roa_change",
        "Change in return on assets",
        "net_income / total_assets - the same a year earlier",
        "ratio",
        "trend",
        -1,
        ("net_income", "total_assets"),
    ),
    Feature(
        "sales_growth", "Revenue growth", "revenue / prior revenue - 1", "ratio", "trend", 0, ("revenue",)
    ),
    # market
    Feature(
        "mve_tl",
        "Market value of equity to liabilities",
        "market_value_equity / total_liabilities",
        "ratio",
        "market",
        -1,
        ("market_value_equity", "total_liabilities"),
        _ALTMAN + " X4",
    ),
    Feature(
        "log_real_mve",
        "Size (real market value of equity)",
        f"log(market_value_equity in millions of {REAL_BASE_YEAR} US dollars)",
        "log USD m",
        "market",
        -1,
        ("market_value_equity",),
        "Shumway (2001) relative size, in absolute real terms",
    ),
    Feature(
        "mve_change",
        "One-year change in market value",
        "log(market_value_equity / prior market_value_equity)",
        "log ratio",
        "market",
        -1,
        ("market_value_equity",),
        "Shumway (2001) past return, from year-end market values (issuance and buybacks included)",
    ),
    Feature(
        "excess_return",
        "Excess stock return",
        "one-year log return of the price minus the market's",
        "log ratio",
        "market",
        -1,
        (),
        "Shumway (2001); from daily prices where they exist",
    ),
    Feature(
        "equity_volatility",
        "Equity volatility",
        "annualised standard deviation of daily log returns",
        "per year",
        "market",
        1,
        (),
        "Shumway (2001) SIGMA; Merton (1974) input",
    ),
    Feature(
        "merton_dd",
        "Merton distance to default",
        "iterative Merton (1974) solve, one-year horizon",
        "standard deviations",
        "market",
        -1,
        (),
        "Merton (1974); Bharath and Shumway (2008)",
    ),
)

#: Filing behaviour: not in any bundled training data, so it adjusts a PD through core/overlays.py.
FILING_FEATURES: tuple[Feature, ...] = (
    Feature(
        "late_filing_notices_12m",
        "Late-filing notices in the last 12 months",
        "count of NT 10-K / NT 10-Q",
        "count",
        "filing",
        1,
        (),
    ),
    Feature(
        "overdue_reports",
        "Reports overdue",
        "periodic reports past their deadline and grace period",
        "count",
        "filing",
        1,
        (),
    ),
    Feature(
        "non_clean_opinion",
        "Non-clean audit opinion",
        "1 if the latest audit opinion is not unqualified",
        "flag",
        "filing",
        1,
        (),
    ),
    Feature(
        "statement_age_days",
        "Age of the newest statement",
        "as_of - filed_at of the newest statement",
        "days",
        "filing",
        1,
        (),
    ),
)

FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES + FILING_FEATURES}
FIELD_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES)
#: Features computed from prices (daily bars), not from statements: absent from annual training panels.
PRICE_FEATURES: tuple[str, ...] = ("excess_return", "equity_volatility", "merton_dd")
MONOTONE: dict[str, int] = {f.name: f.monotone for f in FEATURES if f.monotone}

_PRIOR_ITEMS = ("net_income", "total_assets", "revenue", "market_value_equity")


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = a / b
    return np.where(np.isfinite(out), out, np.nan)


def _log_positive(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(np.where(values > 0, values, np.nan))
    return out


def real_usd_millions(amounts: np.ndarray, currencies: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Amounts in the filing currency -> millions of REAL_BASE_YEAR US dollars (NaN for an unknown currency)."""
    index = annual_index()
    table_years = np.array(sorted(index), dtype=float)
    values = np.array([index[int(y)] for y in table_years])
    years = np.asarray(years, dtype=float)
    position = np.clip(
        np.searchsorted(table_years, np.nan_to_num(years, nan=table_years[-1]), side="right") - 1,
        0,
        len(table_years) - 1,
    )
    deflator = index[REAL_BASE_YEAR] / values[position]
    deflator[np.isnan(years)] = np.nan
    return amounts * usd_per_unit_column(currencies, years) * deflator / 1e6


def compute_field_features(statements: pd.DataFrame, names: Sequence[str] = FIELD_FEATURES) -> pd.DataFrame:
    """Every field feature for a frame of statements (one column per name, the input's index).

    Needs ``company_id`` and ``fiscal_year``; ``currency`` (default USD) for size; ``filed_at`` makes prior-year
    values point in time (the latest version filed on or before the row's own filing). Price features are read
    from columns of the same name when the caller has merged them in (else missing). Amounts in currency units.
    """
    from risk_assets.core.ratios import prior_year_values  # one point-in-time join for every feature family

    missing = {"company_id", "fiscal_year"} - set(statements.columns)
    if missing:
        raise ValueError(f"statements lack column(s) {sorted(missing)}")
    v = {
        name: _column(statements, name)
        for name in {i for f in FEATURES for i in f.inputs} | {"gross_profit", "cost_of_goods_sold"}
    }
    prior = prior_year_values(statements, 1, _PRIOR_ITEMS)
    years = _column(statements, "fiscal_year")
    currencies = (
        statements["currency"].fillna("USD").to_numpy(dtype=object)
        if "currency" in statements.columns
        else np.full(len(statements), "USD", dtype=object)
    )
    ta, tl, ni = v["total_assets"], v["total_liabilities"], v["net_income"]
    ni_prior = prior["net_income"]
    gross_profit = np.where(
        np.isnan(v["gross_profit"]), v["revenue"] - v["cost_of_goods_sold"], v["gross_profit"]
    )
    both_known = ~np.isnan(ni) & ~np.isnan(ni_prior)
    out = {
        "wc_ta": _div(v["current_assets"] - v["current_liabilities"], ta),
        "re_ta": _div(v["retained_earnings"], ta),
        "ebit_ta": _div(v["ebit"], ta),
        "sales_ta": _div(v["revenue"], ta),
        "tl_ta": _div(tl, ta),
        "ni_ta": _div(ni, ta),
        "ca_cl": _div(v["current_assets"], v["current_liabilities"]),
        "ffo_tl": _div(ni + v["depreciation_amortization"], tl),
        "intwo": np.where(both_known, ((ni < 0) & (ni_prior < 0)).astype(float), np.nan),
        "chin": _div(ni - ni_prior, np.abs(ni) + np.abs(ni_prior)),
        "log_real_assets": _log_positive(real_usd_millions(ta, currencies, years)),
        "ltd_ta": _div(v["long_term_debt"], ta),
        "interest_cover": _div(v["ebit"], v["interest_expense"]),
        "quick_ratio": _div(v["current_assets"] - v["inventory"], v["current_liabilities"]),
        "cash_ta": _div(v["cash"], ta),
        "gross_margin": _div(gross_profit, v["revenue"]),
        "roa_change": _div(ni, ta) - _div(ni_prior, prior["total_assets"]),
        "sales_growth": _div(v["revenue"], prior["revenue"]) - 1.0,
        "mve_tl": _div(v["market_value_equity"], tl),
        "log_real_mve": _log_positive(real_usd_millions(v["market_value_equity"], currencies, years)),
        "mve_change": _log_positive(_div(v["market_value_equity"], prior["market_value_equity"])),
    }
    for name in PRICE_FEATURES:
        out[name] = _column(statements, name)
    unknown = [name for name in names if name not in out]
    if unknown:
        raise ValueError(f"unknown field feature(s) {unknown}")
    return pd.DataFrame({name: out[name] for name in names}, index=statements.index)


def catalogue() -> list[dict[str, object]]:
    """Every feature with its plain name, formula, unit and direction (API, model card, web app)."""
    from risk_assets.core.ratios import mapping_table

    polish = [
        {
            "name": r["attribute"],
            "label": r["description"],
            "formula": r["note"],
            "unit": "ratio",
            "family": "polish",
            "monotone": 0,
            "inputs": r["inputs"].split(", ") if r["inputs"] else [],
            "source": f"Polish bankruptcy data (Zieba et al. 2016), {r['status']}",
        }
        for r in mapping_table().to_dict("records")
        if r["status"] == "computed"
    ]
    return [f.as_dict() for f in FEATURES + FILING_FEATURES] + polish


def finite_or_none(value: Any) -> float | None:
    """A number as a float, or None when it is missing or not finite (NaN, inf)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@lru_cache(maxsize=1)
def _catalogue_by_name() -> dict[str, dict[str, object]]:
    return {entry["name"]: entry for entry in catalogue()}


def labelled_contributions(
    contributions: Mapping[str, float], feature_values: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """A score's stored contributions, largest first, each with the feature's plain name, formula and unit, its value,
    and ``imputed`` when the value was missing (or not finite) and the model filled it in: such a driver says what a
    typical value gives, nothing about the company. The API, the web app and `riskgraph top` all explain from this."""
    values, names = feature_values or {}, _catalogue_by_name()
    out = []
    for name, contribution in sorted(contributions.items(), key=lambda item: -abs(item[1])):
        known, entry = finite_or_none(values.get(name)), names.get(name, {})
        out.append(
            {
                "feature": name,
                "contribution": contribution,
                "value": known,
                "imputed": known is None,
                "label": entry.get("label"),
                "formula": entry.get("formula"),
                "unit": entry.get("unit"),
            }
        )
    return out
