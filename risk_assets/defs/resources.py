"""Dagster resources: the warehouse, the object store, MLflow, and the external sources.

Each field left empty falls back to the environment through ``Settings.from_env()`` when a run starts (never
at import time), so the embedded default needs no configuration and production sets variables only.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from risk_assets.settings import Settings
from risk_assets.storage.model_registry import ModelRegistry
from risk_assets.storage.objects import ObjectStore, open_object_store
from risk_assets.storage.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """Tables on SQLite (embedded default) or MySQL (production); one SQLAlchemy URL."""

    url: str = ""

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self.url or Settings.from_env().warehouse_url)
        return self._warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()


class ObjectStoreResource(dg.ConfigurableResource):
    """Raw filings and large frames: ``file://`` folder or ``s3://bucket/prefix`` (MinIO via endpoint_url)."""

    url: str = ""
    endpoint_url: str = ""
    region_name: str = ""

    def get(self) -> ObjectStore:
        settings = Settings.from_env()
        url = self.url or settings.object_store_url
        if not url.startswith("s3://"):
            return open_object_store(url)
        from dagster_aws.s3 import S3Resource

        s3 = S3Resource(
            endpoint_url=self.endpoint_url or settings.s3_endpoint_url,
            region_name=self.region_name or None,
        )
        return open_object_store(url, s3_client=s3.get_client())


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking + registry (a small resource rather than dagster-mlflow's legacy `mlflow_tracking`)."""

    tracking_uri: str = ""
    experiment: str = ""
    model_name: str = ""
    artifact_root: str = ""

    def get(self) -> ModelRegistry:
        settings = Settings.from_env()
        return ModelRegistry(
            tracking_uri=self.tracking_uri or settings.mlflow_tracking_uri,
            model_name=self.model_name or settings.model_name,
            experiment=self.experiment or settings.mlflow_experiment,
            artifact_root=self.artifact_root or settings.mlflow_artifact_root,
        )


class ModelSettingsResource(dg.ConfigurableResource):
    """Modelling choices an operator may change without code: the long-run default rate, gate tolerances."""

    long_run_default_rate: float = 0.0
    auc_floor: float = 0.75
    auc_tolerance: float = 0.01
    holdout_share: float = 0.2
    seed: int = 20240101

    def target_rate(self) -> float:
        return self.long_run_default_rate or Settings.from_env().long_run_default_rate


def default_resources() -> dict[str, Any]:
    return {
        "warehouse": WarehouseResource(),
        "object_store": ObjectStoreResource(),
        "mlflow_registry": MlflowResource(),
        "model_settings": ModelSettingsResource(),
    }


defs = dg.Definitions(resources=default_resources())
