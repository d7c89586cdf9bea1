"""Checks on market data: nothing is used before it was published."""

import dagster as dg
import pandas as pd

from risk_assets.defs.market.assets import macro_indicators, market_features
from risk_assets.defs.resources import WarehouseResource


@dg.asset_check(
    asset=macro_indicators,
    blocking=True,
    description="Every observation has a release date on or after its observation date.",
)
def indicators_released_after_observed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().read("indicators")
    early = frame[pd.to_datetime(frame["released_at"]) < pd.to_datetime(frame["observation_date"])]
    return dg.AssetCheckResult(
        passed=early.empty,
        metadata={
            "observations": len(frame),
            "released_before_observed": len(early),
            "series": int(frame["series_id"].nunique()) if len(frame) else 0,
        },
    )


@dg.asset_check(
    asset=market_features,
    blocking=True,
    description="Point in time: prices and the risk-free rate of a row are dated on or before its "
    "balance-sheet date, which is on or before its filing date.",
)
def market_features_point_in_time(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    frame = warehouse.get().read("market_features")
    end, filed = pd.to_datetime(frame["period_end"]), pd.to_datetime(frame["filed_at"])
    late = (
        (pd.to_datetime(frame["price_date"]) > end)
        | (pd.to_datetime(frame["risk_free_released_at"]) > end)
        | (end > filed)
    )
    return dg.AssetCheckResult(
        passed=not bool(late.any()),
        metadata={
            "rows": len(frame),
            "violations": int(late.sum()),
            "with_market_value": int(frame["market_value_equity"].notna().sum()) if len(frame) else 0,
        },
    )
