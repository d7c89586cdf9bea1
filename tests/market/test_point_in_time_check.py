"""The blocking point-in-time check on market_features counts, in the database, every row that used a price or a
risk-free rate published after its balance-sheet date, or a balance sheet dated after its filing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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


def test_rows_dated_after_their_balance_sheet_fail_the_check(tmp_path: Path) -> None:
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'w.db'}")
    store = warehouse.get()
    store.upsert("market_features", [_row("good"), _row("no-value", market_value_equity=None)])
    result = market_features_point_in_time(warehouse=warehouse)
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
    result = market_features_point_in_time(warehouse=warehouse)
    assert (
        not result.passed and result.metadata["violations"].value == 3 and result.metadata["rows"].value == 5
    )
