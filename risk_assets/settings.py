"""Runtime settings, read from the environment when asked for (never at import time).

Every variable is documented in `.env.example`. The embedded default keeps everything under
``RISKGRAPH_HOME`` (default ``./.riskgraph``): warehouse.db, objects/, mlflow.db, mlartifacts/, dagster/.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str
    object_store_url: str
    s3_endpoint_url: str | None
    mlflow_tracking_uri: str
    mlflow_artifact_root: str
    mlflow_experiment: str
    model_name: str
    long_run_default_rate: float
    data_source: str
    dagster_graphql_url: str

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("RISKGRAPH_HOME", ".riskgraph")).expanduser().resolve()
        return cls(
            home=home,
            warehouse_url=_env("RISKGRAPH_WAREHOUSE_URL", f"sqlite:///{home / 'warehouse.db'}"),
            object_store_url=_env("RISKGRAPH_OBJECT_STORE_URL", (home / "objects").as_uri()),
            s3_endpoint_url=os.environ.get("RISKGRAPH_S3_ENDPOINT_URL") or None,
            mlflow_tracking_uri=_env("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}"),
            mlflow_artifact_root=_env("RISKGRAPH_MLFLOW_ARTIFACT_ROOT", (home / "mlartifacts").as_uri()),
            mlflow_experiment=_env("RISKGRAPH_MLFLOW_EXPERIMENT", "corporate_pd"),
            model_name=_env("RISKGRAPH_MODEL_NAME", "corporate_pd"),
            long_run_default_rate=float(_env("RISKGRAPH_LONG_RUN_DEFAULT_RATE", "0.02")),
            data_source=_env("RISKGRAPH_DATA_SOURCE", "bundled"),
            dagster_graphql_url=_env("RISKGRAPH_DAGSTER_URL", "http://127.0.0.1:3000"),
        )

    @property
    def dagster_home(self) -> Path:
        return Path(_env("DAGSTER_HOME", str(self.home / "dagster")))
