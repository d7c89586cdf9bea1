"""What a stored score was predicted from, as the tests read it back."""

from __future__ import annotations

import json

import pandas as pd


def scored_feature_frame(store, scores: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The feature values each score was predicted from, one column per name in scores' order: its own JSON where
    it keeps it, else its filing's features row (an older filing score keeps their digest only)."""
    key = ["company_id", "period_end", "accession"]
    feats = store.read("features", where={"company_id": sorted(set(scores["company_id"]))})
    rows = (
        scores[key]
        .assign(period_end=pd.to_datetime(scores["period_end"]))
        .merge(
            feats.assign(period_end=pd.to_datetime(feats["period_end"])),
            on=key,
            how="left",
            validate="many_to_one",
        )
    )
    frame = rows.reindex(columns=names).astype(float).set_axis(scores.index)
    kept = scores["feature_values"].notna().to_numpy()
    frame.loc[kept] = (
        pd.DataFrame(
            [json.loads(text) for text in scores.loc[kept, "feature_values"]], index=scores.index[kept]
        )
        .reindex(columns=names)
        .astype(float)
    )
    return frame
