"""A batch deriver for the worker tests that must not import what a test module imports (Dagster, via the tests)."""

from __future__ import annotations

import datetime as dt
import os
import sys

import numpy as np
import pandas as pd

from risk_assets.storage.warehouse import Warehouse

#: What a worker process should never load: the orchestration and the model registry's client.
HEAVY = frozenset({"dagster", "dagster_aws", "dagster_mlflow", "mlflow"})


class HeavyImports:
    """Imports the product's batch derivations, as unpickling the assets' derivers does, and answers which of HEAVY
    the worker process has loaded."""

    def __call__(self, store: Warehouse, batch: list[str]) -> list[str]:
        import risk_assets.derive.features
        import risk_assets.derive.market
        import risk_assets.derive.scores  # noqa: F401

        return sorted(HEAVY & {name.split(".")[0] for name in sys.modules})


class MarketRowsOfBatch:
    """Three market_features rows per company of the batch, made from the company's number (no reads), and the
    process that made them in ``reason``: what a worker that writes its own batch writes."""

    def __call__(self, store: Warehouse, batch: list[str]) -> pd.DataFrame:
        number = np.array([int(company[1:]) for company in batch for _ in range(3)], dtype=float)
        periods = [dt.date(2020 + year, 12, 31) for _ in batch for year in range(3)]
        return pd.DataFrame(
            {
                "company_id": [company for company in batch for _ in range(3)],
                "period_end": periods,
                "accession": [f"a-{period.year}" for period in periods],
                "filed_at": [period + dt.timedelta(days=60) for period in periods],
                "close": number / 7.0,
                "merton_dd": np.where(number % 5 == 0, np.nan, number / 3.0),
                "reason": f"pid {os.getpid()}",
            }
        )


def market_rows_counts(frame: pd.DataFrame) -> dict[str, int]:
    """The rows with a distance to default (module level: a worker computes it)."""
    return {"merton_dd": int(frame["merton_dd"].notna().sum())}
