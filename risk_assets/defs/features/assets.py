"""Features: the training data's ratios computed from canonical items, plus the classic scores as published."""

import datetime as dt
import json

import dagster as dg
import numpy as np
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS
from risk_assets.core.classic import classic_scores
from risk_assets.core.pit import prior_year_versions
from risk_assets.core.price_index import price_level_index
from risk_assets.core.ratios import MODEL_RATIOS, compute_ratio_frame
from risk_assets.defs.resources import WarehouseResource
from risk_assets.defs.statements.assets import statements

CLASSIC_COLUMNS = {
    "altman_z": "altman_z",
    "altman_z_double_prime": "altman_z_double_prime",
    "ohlson_o": "ohlson_o",
    "zmijewski": "zmijewski",
}


def _items(row: pd.Series) -> dict[str, float | None]:
    out = {}
    for item in CANONICAL_ITEMS:
        value = row.get(item)
        out[item] = None if value is None or pd.isna(value) else float(value)
    return out


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def build_features(frame: pd.DataFrame) -> pd.DataFrame:
    """One feature row per statement version: ratios (JSON) and classic scores with their reasons."""
    frame = frame.reset_index(drop=True)
    ratios = compute_ratio_frame(frame)
    prior = prior_year_versions(frame)
    rows = []
    for i, row in frame.iterrows():
        items, prior_items = _items(row), (_items(prior.loc[i]) if prior.loc[i].notna().any() else None)
        usd = 1.0 if row["currency"] == "USD" else None
        index, _note = price_level_index(int(row["fiscal_year"]))
        scores = classic_scores(items, prior_items, usd_per_unit=usd, price_index=index)
        classic = {name: {"value": _finite_or_none(s.value), "reason": s.reason, "zone": s.zone}
                   for name, s in scores.items()}
        rows.append(
            {
                "company_id": row["company_id"],
                "period_end": row["period_end"],
                "accession": row["accession"],
                "fiscal_year": int(row["fiscal_year"]),
                "filed_at": row["filed_at"],
                "currency": row["currency"],
                "ratios": json.dumps({k: _finite_or_none(v) for k, v in ratios.loc[i, list(MODEL_RATIOS)].items()}),
                "classic": json.dumps(classic, sort_keys=True),
                **{column: classic.get(name, {}).get("value") for column, name in CLASSIC_COLUMNS.items()},
            }
        )
    return pd.DataFrame(rows)


@dg.asset(
    group_name="features",
    kinds={"pandas", "sql"},
    deps=[statements],
    description="Per statement version: the Polish-data ratios computable from canonical items (prior years "
    "taken point in time) and Altman Z, Z'', Ohlson O and Zmijewski as published, each null with a reason "
    "when an input is missing.",
)
def features(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    frame = build_features(store.read("statements"))
    frame["computed_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    with store.transaction() as conn:
        # Derived entirely from statements: replace the table so removed versions disappear with them.
        store.upsert("features", frame, replace={}, connection=conn)
    available = {c: int(frame[c].notna().sum()) for c in CLASSIC_COLUMNS}
    return dg.MaterializeResult(
        metadata={"rows": len(frame), "companies": int(frame["company_id"].nunique()),
                  "ratios": len(MODEL_RATIOS), **{f"{c}_available": n for c, n in available.items()}}
    )
