"""The blocking point-in-time check on market_features counts, in the database, every row that used a price or a
risk-free rate published after its balance-sheet date, or a balance sheet dated after its filing: every row, or
only the rows of the companies the latest materialisation re-derived when it listed them (a new filing)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from risk_assets.defs.incremental import RECOMPUTED_COMPANIES
from risk_assets.defs.market.assets import market_features
from risk_assets.defs.market.checks import market_features_point_in_time
from risk_assets.defs.resources import WarehouseResource

END, FILED = dt.date(2023, 12, 31), dt.date(2024, 2, 20)


def _row(company: str, **dates: dt.date) -> dict:
    row = {
        "company_id": company,
        "period_end": END,
        "accession": f"acc-{company}",
        "filed_at": FILED,
        "price_date": END,
        "risk_free_released_at": END - dt.timedelta(days=3),
        "market_value_equity": 1e9,
        "computed_at": dt.datetime(2026, 1, 1),
    }
    return row | dates


def _check(warehouse: WarehouseResource, instance: dg.DagsterInstance | None = None) -> dg.AssetCheckResult:
    context = dg.build_asset_check_context(instance=instance or dg.DagsterInstance.ephemeral())
    return market_features_point_in_time(context=context, warehouse=warehouse)


def test_rows_dated_after_their_balance_sheet_fail_the_check(tmp_path: Path) -> None:
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'w.db'}")
    store = warehouse.get()
    store.upsert("market_features", [_row("good"), _row("no-value", market_value_equity=None)])
    result = _check(warehouse)
    assert result.passed and result.metadata["rows"].value == 2
    assert result.metadata["violations"].value == 0 and result.metadata["with_market_value"].value == 1

    store.upsert(
        "market_features",
        [
            _row("late-price", price_date=END + dt.timedelta(days=1)),
            _row("late-rate", risk_free_released_at=END + dt.timedelta(days=5)),
            _row("filed-before-end", filed_at=END - dt.timedelta(days=1)),
        ],
    )
    result = _check(warehouse)
    assert (
        not result.passed and result.metadata["violations"].value == 3 and result.metadata["rows"].value == 5
    )


def test_a_materialisation_that_lists_its_companies_is_checked_on_their_rows_alone(tmp_path: Path) -> None:
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.get().upsert(
        "market_features", [_row("good"), _row("late-price", price_date=END + dt.timedelta(days=1))]
    )
    instance = dg.DagsterInstance.ephemeral()

    def materialised(metadata: dict) -> dg.AssetCheckResult:
        instance.report_runless_asset_event(dg.AssetMaterialization(market_features.key, metadata=metadata))
        return _check(warehouse, instance)

    one = materialised({RECOMPUTED_COMPANIES: dg.MetadataValue.json(["good"])})
    assert one.passed and one.metadata["rows"].value == 1
    assert one.metadata["companies_checked"].value == 1
    both = materialised({RECOMPUTED_COMPANIES: dg.MetadataValue.json(["good", "late-price"])})
    assert not both.passed and both.metadata["violations"].value == 1
    none = materialised({RECOMPUTED_COMPANIES: dg.MetadataValue.json([])})
    assert none.passed and none.metadata["rows"].value == 0
    every = materialised({"companies_recomputed": 2})  # every company, or too many to list
    assert (
        not every.passed
        and every.metadata["rows"].value == 2
        and every.metadata["scope"].value == "every row"
    )
