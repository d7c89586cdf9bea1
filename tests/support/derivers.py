"""A batch deriver for the worker tests that must not import what a test module imports (Dagster, via the tests)."""

from __future__ import annotations

import sys

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
