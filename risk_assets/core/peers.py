"""Peer comparison: where a company's PD and ratios sit among companies like it (same sector, same size band).

A credit analyst reads a ratio against peers, not in the abstract: a quick ratio of 0.2 is normal for a large
retailer and alarming for a manufacturer. The peer group is the companies currently scored in the same sector and
the same size band (total assets in real US dollars, the model's own ``log_real_assets``). When that group is too
small to rank against, it widens one step at a time (sector alone, then size band alone, then every scored
company) and says so: a percentile among three companies would look more precise than it is.

Percentiles are mid-ranks among the other members (the company itself excluded): 0 = lowest value of the group,
100 = highest, ties counted half. Whether high is risky comes from the feature catalogue's monotone direction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_assets.core.field_features import FEATURE_BY_NAME, finite_or_none

#: Fewer other companies than this and the group widens (the figure a percentile needs to mean anything).
MIN_PEERS = 5

#: Size bands by total assets in millions of 2015 US dollars (lower bound inclusive), smallest first.
SIZE_BANDS: tuple[tuple[str, float], ...] = (
    ("under $1bn", 0.0),
    ("$1bn-$10bn", 1_000.0),
    ("$10bn-$100bn", 10_000.0),
    ("$100bn and over", 100_000.0),
)

#: The ratios compared, in the order an analyst reads them (leverage, profitability, liquidity, coverage, size).
PEER_METRICS: tuple[str, ...] = (
    "tl_ta",
    "ltd_ta",
    "mve_tl",
    "ni_ta",
    "ebit_ta",
    "re_ta",
    "ffo_tl",
    "wc_ta",
    "ca_cl",
    "quick_ratio",
    "cash_ta",
    "interest_cover",
    "gross_margin",
    "sales_growth",
    "log_real_assets",
)

#: The groups tried in turn, narrowest first: (name, columns that must match the company's).
GROUP_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sector and size band", ("sector", "size_band")),
    ("sector", ("sector",)),
    ("size band", ("size_band",)),
    ("all scored companies", ()),
)


def size_band(log_real_assets: float | None) -> str | None:
    """The size band of a company whose total assets are exp(``log_real_assets``) million 2015 US dollars."""
    if log_real_assets is None or not math.isfinite(log_real_assets):
        return None
    band = None
    for name, lower in SIZE_BANDS:
        # compared on the log scale (exp(log(1000)) is 999.99...: a boundary company stays in the upper band)
        if lower <= 0 or log_real_assets >= math.log(lower) - 1e-9:
            band = name
    return band


@dataclass(frozen=True)
class PeerGroup:
    basis: str  # one of GROUP_STEPS' names
    sector: str | None
    size_band: str | None
    members: tuple[str, ...]  # other companies' ids, the company itself excluded


def peer_group(population: pd.DataFrame, company_id: str, min_peers: int = MIN_PEERS) -> PeerGroup:
    """The narrowest group of ``GROUP_STEPS`` with at least ``min_peers`` other companies.

    ``population`` has one row per scored company: ``company_id``, ``sector``, ``size_band``. An unknown sector or
    size band matches nothing, so the group widens past the step that needs it.
    """
    if company_id not in set(population["company_id"]):
        raise KeyError(f"{company_id!r} is not in the scored population")
    own = population.loc[population["company_id"] == company_id].iloc[0]
    others = population[population["company_id"] != company_id]
    group = others
    basis = GROUP_STEPS[-1][0]
    for name, columns in GROUP_STEPS:
        if any(pd.isna(own[column]) for column in columns):
            continue
        mask = np.ones(len(others), dtype=bool)
        for column in columns:
            mask &= (others[column] == own[column]).to_numpy()
        if mask.sum() >= min_peers or not columns:
            group, basis = others[mask], name
            break
    return PeerGroup(
        basis=basis,
        sector=None if pd.isna(own["sector"]) else own["sector"],
        size_band=None if pd.isna(own["size_band"]) else own["size_band"],
        members=tuple(group["company_id"]),
    )


def midrank_percentile(value: float, others: Sequence[float]) -> float | None:
    """Share of ``others`` below ``value`` (ties counted half), 0-100; None without a finite value or peers."""
    values = np.asarray([v for v in others if v is not None and math.isfinite(v)], dtype=float)
    if value is None or not math.isfinite(value) or values.size == 0:
        return None
    below = float((values < value).sum())
    ties = float((values == value).sum())
    return 100.0 * (below + 0.5 * ties) / values.size


def _risk_direction(metric: str) -> str | None:
    if metric == "pd":
        return "higher"
    feature = FEATURE_BY_NAME.get(metric)
    if feature is None or feature.monotone == 0:
        return None
    return "higher" if feature.monotone > 0 else "lower"


def compare(
    population: pd.DataFrame, company_id: str, metrics: Sequence[str] = ("pd", *PEER_METRICS)
) -> dict[str, object]:
    """The company's peer group and, for each metric, its value, the group's median and its percentile.

    ``population``: one row per scored company with ``company_id``, ``sector``, ``size_band`` and a column per
    metric (NaN or None where the company has no reported value; a filled-in value is not a reported one).
    """
    group = peer_group(population, company_id)
    own = population.loc[population["company_id"] == company_id].iloc[0]
    peers = population[population["company_id"].isin(group.members)]
    rows = []
    for metric in metrics:
        if metric not in population.columns:
            continue
        peer_values = pd.to_numeric(peers[metric], errors="coerce").dropna().to_numpy(dtype=float)
        peer_values = peer_values[np.isfinite(peer_values)]
        value = finite_or_none(own[metric])
        rows.append(
            {
                "metric": metric,
                "value": value,
                "peer_median": float(np.median(peer_values)) if peer_values.size else None,
                "peers_with_value": int(peer_values.size),
                "percentile": midrank_percentile(value, peer_values) if value is not None else None,
                "riskier_when": _risk_direction(metric),
            }
        )
    return {
        "basis": group.basis,
        "sector": group.sector,
        "size_band": group.size_band,
        "peers": len(group.members),
        "peer_ids": list(group.members),
        "metrics": rows,
    }


def population_frame(snapshots: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """Scored companies as ``compare`` reads them, from current snapshots (``company_id``, ``sector``, ``pd``,
    ``status`` and the decoded ``feature_values`` the model scored). A company with insufficient data has no PD."""
    rows = []
    for snapshot in snapshots:
        features = snapshot.get("feature_values") or {}
        usable = snapshot.get("status") != "insufficient_data"
        row = {
            "company_id": snapshot["company_id"],
            "sector": None if snapshot.get("sector") in (None, "Unknown") else snapshot["sector"],
            "pd": finite_or_none(snapshot.get("pd")) if usable else None,
            **{metric: finite_or_none(features.get(metric)) for metric in PEER_METRICS},  # type: ignore[union-attr]
        }
        row["size_band"] = size_band(row["log_real_assets"])
        rows.append(row)
    columns = ["company_id", "sector", "size_band", "pd", *PEER_METRICS]
    return pd.DataFrame(rows, columns=columns)
