"""Population stability: is the population a model scores still the one it was developed on?

PSI (population stability index) on a score, CSI (the same on one feature): sum over bins of
(actual share - expected share) x ln(actual share / expected share), bins cut at the development sample's
deciles, missing values a bin of their own (a feature that goes missing more often is a shift too). The common
reading (and the statuses here): below 0.10 stable, 0.10-0.25 watch, 0.25 and above shift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from risk_assets.core.field_features import finite_or_none
from risk_assets.core.metrics import assign_bins, population_stability_index, quantile_bin_edges

WATCH, SHIFT = 0.10, 0.25
#: Where the population_stability check keeps its latest figures (object store), for the API and the web app.
STABILITY_KEY = "frames/monitoring/stability.json"
_EMPTY_SHARE = 1e-4


def status_of(psi: float) -> str:
    if np.isnan(psi):
        return "unknown"
    return "shift" if psi >= SHIFT else "watch" if psi >= WATCH else "stable"


def psi_with_missing(expected, actual, n_bins: int = 10) -> float:
    """PSI of one feature: decile bins of the present expected values plus a bin for missing values."""
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    if expected.size == 0 or actual.size == 0:
        return float("nan")
    present = expected[~np.isnan(expected)]
    edges = quantile_bin_edges(present, n_bins) if present.size else np.empty(0)
    bins = edges.size + 2

    def shares(values: np.ndarray) -> np.ndarray:
        index = np.where(np.isnan(values), edges.size + 1, assign_bins(np.nan_to_num(values), edges))
        share = np.bincount(index, minlength=bins) / values.size
        return np.where(share == 0.0, _EMPTY_SHARE, share)

    e, a = shares(expected), shares(actual)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_stability(
    development: pd.DataFrame, population: pd.DataFrame, features: Sequence[str]
) -> pd.DataFrame:
    """Per feature: CSI between the development sample and the scored population, the share missing in each,
    and a status (stable / watch / shift)."""
    rows = []
    for name in features:
        dev = (
            pd.to_numeric(development[name], errors="coerce").to_numpy(dtype=float)
            if name in development
            else np.full(len(development), np.nan)
        )
        pop = (
            pd.to_numeric(population[name], errors="coerce").to_numpy(dtype=float)
            if name in population
            else np.full(len(population), np.nan)
        )
        psi = psi_with_missing(dev, pop)
        rows.append(
            {
                "feature": name,
                "psi": psi,
                "missing_development": float(np.isnan(dev).mean()),
                "missing_population": float(np.isnan(pop).mean()) if pop.size else float("nan"),
                "status": status_of(psi),
            }
        )
    return pd.DataFrame(
        rows, columns=["feature", "psi", "missing_development", "missing_population", "status"]
    )


def score_stability(development_pd, population_pd) -> dict[str, float | str]:
    """PSI of the PD between the development sample's scores and the population's."""
    dev = np.asarray(development_pd, dtype=float)
    pop = np.asarray(population_pd, dtype=float)
    dev, pop = dev[~np.isnan(dev)], pop[~np.isnan(pop)]
    if dev.size == 0 or pop.size == 0:
        return {"psi": float("nan"), "status": "unknown", "n_population": int(pop.size)}
    psi = population_stability_index(dev, pop)
    return {"psi": psi, "status": status_of(psi), "n_population": int(pop.size)}


#: Fewer scores than this in a period and its PSI is flagged as a small sample (decile bins need numbers).
SMALL_SAMPLE = 100


def stability_over_time(
    development_pd,
    development: pd.DataFrame,
    scored: pd.DataFrame,
    features: Sequence[str],
) -> list[dict[str, object]]:
    """PSI over time: per calendar year of the scores, the PD's PSI and the features' CSIs against the
    development sample.

    ``scored`` holds the filing scores one model version made (``as_of``, ``company_id``, ``model_pd`` and one
    column per feature): what that model saw year by year. One point-in-time figure says whether today's
    population moved; the series says when it started to, and whether it is a trend or one odd year. Years with
    fewer than ``SMALL_SAMPLE`` scores are flagged: ten decile bins on a handful of rows are mostly noise.
    """
    if scored.empty:
        return []
    years = pd.to_datetime(scored["as_of"]).dt.year
    points = []
    for year, rows in scored.groupby(years, sort=True):
        table = feature_stability(development, rows, features)
        score = score_stability(development_pd, rows["model_pd"].to_numpy(dtype=float))
        ranked = table.dropna(subset=["psi"]).sort_values("psi", ascending=False)
        largest = ranked.iloc[0] if len(ranked) else None
        points.append(
            {
                "year": int(year),
                "scores": int(len(rows)),
                "companies": int(rows["company_id"].nunique()),
                "pd_psi": finite_or_none(score["psi"]),
                "pd_status": score["status"],
                "features_watch": int((table["status"] == "watch").sum()),
                "features_shift": int((table["status"] == "shift").sum()),
                "largest_feature": None if largest is None else largest["feature"],
                "largest_psi": None if largest is None else finite_or_none(largest["psi"]),
                "small_sample": bool(len(rows) < SMALL_SAMPLE),
            }
        )
    return points
