"""Segments: which population a company belongs to, and so which model scores it.

One model cannot serve Polish SMEs and US or Korean listed companies (the Polish SME model ranked US listed filers
below Zmijewski's three ratios). As in Moody's RiskCalc or S&P's PD models, each population has its own training
data, feature set, calibration, registered model, gate and champion:

- ``listed_market``: a listed company whose statement carries a market value of equity (price x shares at the
  balance-sheet date, or the annual report's public float). Trained on the US listed panel (core/us_listed.py)
  with the market features it has (market value / liabilities, real market value, its one-year change).
- ``listed_statements``: a listed company without a usable market value. Same panel, statement features only.
- ``sme``: a private company or small enterprise: the Polish bankruptcy data (and a user's own ratio tables);
  the Polish attribute set (core/ratios.py) without its aliases.

``choose_segment`` is the one rule; every score stores the segment and the reason it gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_assets.core.field_features import FIELD_FEATURES, MONOTONE, PRICE_FEATURES

LISTED_MARKET = "listed_market"
LISTED_STATEMENTS = "listed_statements"
SME = "sme"

_MARKET_FEATURES = ("mve_tl", "log_real_mve", "mve_change")
_STATEMENT_FEATURES = tuple(f for f in FIELD_FEATURES if f not in _MARKET_FEATURES + PRICE_FEATURES)

#: Constraints left off where a model sees both sizes: conditional on market value, more book assets means a low
#: market-to-book, which is distress, so neither size is monotone on its own (constrained, they cost 0.008 of
#: out-of-fold AUC on the US listed panel's training years, 2026-12-05). Every other direction is kept, on
#: purpose, where the data would rather bend it: left free, retained earnings / assets learnt that more than 90%
#: raises risk (buyback-funded companies such as McDonald's and Home Depot), a driver no analyst would accept,
#: for 0.004-0.015 of out-of-fold AUC.
UNCONSTRAINED_LISTED = frozenset({"log_real_assets", "log_real_mve"})

#: The smallest share of a segment's features a row must have for a PD; below it the row is "insufficient data".
MIN_FEATURE_SHARE = 0.6


@dataclass(frozen=True)
class Segment:
    name: str
    title: str
    features: tuple[str, ...]
    monotone: dict[str, int]
    population: str
    training_data: str

    def registered_model(self, base_name: str) -> str:
        """MLflow registered model of the segment; the SME segment keeps the base name (its history)."""
        return base_name if self.name == SME else f"{base_name}_{self.name}"


def _sme_segment() -> Segment:
    from risk_assets.core.evaluation import MONOTONE_DIRECTIONS
    from risk_assets.core.ratios import MODEL_RATIOS, POLISH_ALIASES

    features = tuple(name for name in MODEL_RATIOS if name not in POLISH_ALIASES)
    return Segment(
        SME,
        "SME / private companies",
        features,
        {k: v for k, v in MONOTONE_DIRECTIONS.items() if k in features},
        "private companies and SMEs (and a user's own ratio tables)",
        "Polish companies bankruptcy data (UCI, EMIS, 2000-2013), 1-year horizon",
    )


def _listed(name: str, title: str, features: tuple[str, ...], population: str) -> Segment:
    free = UNCONSTRAINED_LISTED if "log_real_mve" in features else frozenset()
    monotone = {k: v for k, v in MONOTONE.items() if k in features and k not in free}
    return Segment(
        name,
        title,
        features,
        monotone,
        population,
        "US listed companies 1999-2011 (Lombardo et al. 2022, Compustat), bankruptcy within a year",
    )


SEGMENTS: dict[str, Segment] = {
    LISTED_MARKET: _listed(
        LISTED_MARKET,
        "Listed, with market data",
        _STATEMENT_FEATURES + _MARKET_FEATURES,
        "listed companies with a market value of equity",
    ),
    LISTED_STATEMENTS: _listed(
        LISTED_STATEMENTS,
        "Listed, statements only",
        _STATEMENT_FEATURES,
        "listed companies without a usable market value",
    ),
}
SEGMENTS[SME] = _sme_segment()
SEGMENT_NAMES: tuple[str, ...] = (LISTED_MARKET, LISTED_STATEMENTS, SME)


def choose_segment(
    *, listed: bool, market_value: float | None, market_value_source: str | None = None, source: str = ""
) -> tuple[str, str]:
    """(segment, reason) for one statement row of a company.

    ``listed``: the company has a ticker or is an SEC/DART filer; ``market_value``: the row's market value of
    equity (NaN/None when unknown).
    """
    has_market_value = market_value is not None and market_value == market_value and market_value > 0
    if listed and has_market_value:
        where = f" ({market_value_source})" if market_value_source else ""
        return LISTED_MARKET, f"listed company ({source or 'ticker'}) with a market value of equity{where}"
    if listed:
        return LISTED_STATEMENTS, f"listed company ({source or 'ticker'}) without a usable market value"
    return SME, "not a listed company (no ticker, not an SEC or DART filer): private / SME model"


def choose_segments(
    listed: np.ndarray, market_value: np.ndarray, market_value_source: pd.Series, source: pd.Series
) -> pd.DataFrame:
    """choose_segment for many rows at once: columns ``segment`` and ``segment_reason``, the same per row.

    ``market_value``: NaN when unknown; ``market_value_source``: a string or None; ``source``: "" for none."""
    index = source.index
    listed = np.asarray(listed, dtype=bool)
    value = np.asarray(market_value, dtype=float)
    with np.errstate(invalid="ignore"):
        has_market_value = ~np.isnan(value) & (value > 0)
    named = source.fillna("").astype(str)
    who = "listed company (" + named.where(named != "", "ticker") + ")"
    where_from = market_value_source.where(market_value_source.notna(), "").astype(str)
    where_from = (" (" + where_from + ")").where(where_from != "", "")
    market = listed & has_market_value
    statements = listed & ~has_market_value
    segment = np.where(market, LISTED_MARKET, np.where(statements, LISTED_STATEMENTS, SME))
    reason = pd.Series(
        "not a listed company (no ticker, not an SEC or DART filer): private / SME model",
        index=index,
        dtype=object,
    )
    reason[market] = (who + " with a market value of equity" + where_from)[market]
    reason[statements] = (who + " without a usable market value")[statements]
    return pd.DataFrame({"segment": segment, "segment_reason": reason.to_numpy(dtype=object)}, index=index)
