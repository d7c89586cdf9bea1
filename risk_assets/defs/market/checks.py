"""Checks on market data: nothing is used before it was published."""

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from risk_assets.defs.incremental import recomputed_companies
from risk_assets.defs.market.assets import macro_indicators, market_features
from risk_assets.defs.resources import WarehouseResource
from risk_assets.storage.schema import TABLES


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
def market_features_point_in_time(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    # Counted in the database: the whole market's rows are never read into the run. A materialisation that
    # re-derived a few companies (a new filing) wrote only their rows, and only those are checked.
    table = TABLES["market_features"]
    companies = recomputed_companies(context.instance, market_features.key)
    late = sa.or_(
        table.c.price_date > table.c.period_end,
        table.c.risk_free_released_at > table.c.period_end,
        table.c.period_end > table.c.filed_at,
    )
    counts = warehouse.get().query(
        sa.select(
            sa.func.count().label("rows"),
            sa.func.coalesce(sa.func.sum(sa.case((late, 1), else_=0)), 0).label("violations"),
            sa.func.count(table.c.market_value_equity).label("with_market_value"),
        ).where(sa.true() if companies is None else table.c.company_id.in_(companies))
    )
    rows, violations, with_value = (int(counts.iloc[0][name]) for name in counts.columns)
    return dg.AssetCheckResult(
        passed=violations == 0,
        metadata={
            "rows": rows,
            "violations": violations,
            "with_market_value": with_value,
            "scope": "every row" if companies is None else "the rows of the companies re-derived",
            **({} if companies is None else {"companies_checked": len(companies)}),
        },
    )
