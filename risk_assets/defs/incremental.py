"""Skipping a recomputation whose inputs did not change (issue 11: a rescore with nothing new should be cheap).

An asset computes an input token (core/fingerprint.py over the tables it reads, plus the code version and
whatever else its output depends on), records it in its materialisation's metadata, and on the next run returns
early when the token is the one its latest materialisation recorded and its output table still holds what that
run wrote. The early return is still a materialisation (metadata ``unchanged``), so the run shows why nothing
was written.
"""

from __future__ import annotations

import dagster as dg

INPUT_TOKEN = "input_token"
OUTPUT_ROWS = "output_rows"


def previous_metadata(context: dg.AssetExecutionContext, key: dg.AssetKey | None = None) -> dict[str, object]:
    """The plain metadata values of the asset's latest materialisation (empty when it has none)."""
    event = context.instance.get_latest_materialization_event(key or context.asset_key)
    if event is None or event.asset_materialization is None:
        return {}
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def unchanged(context: dg.AssetExecutionContext, token: str, output_rows: int) -> dg.MaterializeResult | None:
    """The early result when ``token`` equals the latest materialisation's and the output still has the rows it
    wrote then; None when the asset must recompute."""
    previous = previous_metadata(context)
    if previous.get(INPUT_TOKEN) != token or previous.get(OUTPUT_ROWS) != output_rows:
        return None
    context.log.info(
        f"{context.asset_key.to_user_string()}: inputs unchanged since the last run, nothing recomputed"
    )
    return dg.MaterializeResult(
        metadata={
            "unchanged": "inputs unchanged since the last materialisation: nothing recomputed",
            INPUT_TOKEN: token,
            OUTPUT_ROWS: output_rows,
        },
        data_version=dg.DataVersion(token[:16]),
    )
