"""Features: one typed row per statement version (annual and TTM), derived per company by derive/features.py (the
point-in-time rules are there), re-derived for the companies whose inputs changed."""

import time

import dagster as dg
import pandas as pd

from risk_assets.core.fingerprint import combined_fingerprint, table_fingerprint
from risk_assets.core.macro import MacroBook
from risk_assets.core.ratios import MODEL_RATIOS
from risk_assets.core.ttm import PERIOD_TYPE_ANNUAL
from risk_assets.defs.incremental import (
    SHARED_TOKEN,
    company_work,
    derive_by_company,
    no_company_work,
)
from risk_assets.defs.market.assets import macro_indicators, market_features
from risk_assets.defs.resources import MacroSeriesResource, WarehouseResource
from risk_assets.defs.sources.assets import FOLLOW_UPSTREAM, warning_signals
from risk_assets.defs.statements.assets import statements
from risk_assets.derive.features import FeatureBatch
from risk_assets.version import code_version

CLASSIC_COLUMNS = {
    "altman_z": "altman_z",
    "altman_z_double_prime": "altman_z_double_prime",
    "ohlson_o": "ohlson_o",
    "zmijewski": "zmijewski",
}


#: Score inputs whose availability a features run reports (rows where each could be computed).
AVAILABILITY_COLUMNS = (*CLASSIC_COLUMNS, "merton_dd")


def feature_counts(frame: pd.DataFrame) -> dict[str, int]:
    """A batch's TTM rows and the rows where each classic score and Merton DD could be computed."""
    return {
        "ttm_rows": int((frame["period_type"] != PERIOD_TYPE_ANNUAL).sum()),
        **{column: int(frame[column].notna().sum()) for column in AVAILABILITY_COLUMNS},
    }


@dg.asset(
    group_name="features",
    kinds={"pandas", "sql"},
    deps=[statements, market_features, macro_indicators, warning_signals],
    automation_condition=FOLLOW_UPSTREAM,
    description="Per statement version (annual and TTM), re-derived for the companies whose inputs changed: the "
    "Polish-data ratios computable from canonical items "
    "(prior years taken point in time), Altman Z (where a market value exists), Z'', Ohlson O, Zmijewski and "
    "Merton DD, each null with a reason when an input is missing; macro values released by filed_at and "
    "early-warning flags known by then.",
)
def features(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, macro_series: MacroSeriesResource
) -> dg.MaterializeResult:
    store = warehouse.get()
    indicators, specs = store.read("indicators"), macro_series.specs()
    shared = combined_fingerprint([table_fingerprint(indicators), repr(tuple(specs)), code_version()])
    work = company_work(
        context, store, shared, lambda: store.distinct("statements", "company_id"), "features"
    )
    if not work.companies:
        return no_company_work(context, store, work, shared)
    started = time.perf_counter()
    # Derived entirely from the batch's statements: replaced per company, so removed versions disappear; the
    # batch's scores are stale whatever changed (no read-back of what was stored).
    written, counted = derive_by_company(
        context,
        store,
        work,
        "features",
        FeatureBatch(MacroBook(indicators), tuple(specs)),
        workers=warehouse.derive_workers,
        stale_after=["risk_scores"],
        track_changes=False,
        counts=feature_counts,
    )
    return dg.MaterializeResult(
        metadata={
            "rows": written,
            **work.metadata(),
            "ttm_rows": counted["ttm_rows"],
            "ratios": len(MODEL_RATIOS),
            **{f"{c}_available": counted[c] for c in AVAILABILITY_COLUMNS},
            "rows_per_second": round(written / max(time.perf_counter() - started, 1e-9)),
            SHARED_TOKEN: shared,
        }
    )
