"""Runtime settings, read from the environment when asked for (never at import time).

Every variable is documented in `.env.example`. The embedded default keeps everything under
``RISKGRAPH_HOME`` (default ``./.riskgraph``): warehouse.db, objects/, mlflow.db, mlartifacts/, dagster/.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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
    # The API: browser origins allowed by CORS (empty = CORS off), the largest request body accepted, and how
    # often the scoring endpoint re-reads the champion alias from MLflow.
    cors_origins: tuple[str, ...] = ()
    api_max_request_bytes: int = 1_048_576
    api_champion_recheck_seconds: float = 30.0
    # How long the API may reuse a read on a server database (SQLite needs no limit: it says when it changed).
    api_cache_seconds: float = 0.0
    # The served API (`python -m api.server`): seconds a request's head (request line and headers) and then its
    # body may take to arrive (408 after; 0 = no limit), seconds an idle keep-alive connection stays open, and
    # how many connections/requests it serves at once (more get 503 at once rather than queueing without bound).
    api_header_timeout_seconds: float = 10.0
    api_body_timeout_seconds: float = 30.0
    api_timeout_keep_alive_seconds: float = 5.0
    api_limit_concurrency: int = 100
    # The sources' credentials (never printed: left out of repr). Empty = not configured; the live sources refuse.
    sec_user_agent: str = field(default="", repr=False)
    opendart_api_key: str = field(default="", repr=False)
    fred_api_key: str = field(default="", repr=False)
    ecos_api_key: str = field(default="", repr=False)
    # Build facts: the git commit an image was built from (the source tree's own git when empty), and where an
    # image keeps the Alembic migrations if it moved them out of db/migrations.
    git_commit: str = ""
    migrations_dir: str = ""
    # What `riskgraph materialize` / `make run` print of each run's events: INFO (progress and results) by default,
    # DEBUG for every step event.
    log_level: str = "INFO"

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
            cors_origins=tuple(
                origin.strip() for origin in _env("RISKGRAPH_CORS_ORIGINS", "").split(",") if origin.strip()
            ),
            api_max_request_bytes=int(_env("RISKGRAPH_API_MAX_REQUEST_BYTES", "1048576")),
            api_champion_recheck_seconds=float(_env("RISKGRAPH_API_CHAMPION_RECHECK_SECONDS", "30")),
            api_cache_seconds=float(_env("RISKGRAPH_API_CACHE_SECONDS", "0")),
            api_header_timeout_seconds=float(_env("RISKGRAPH_API_HEADER_TIMEOUT_SECONDS", "10")),
            api_body_timeout_seconds=float(_env("RISKGRAPH_API_BODY_TIMEOUT_SECONDS", "30")),
            api_timeout_keep_alive_seconds=float(_env("RISKGRAPH_API_TIMEOUT_KEEP_ALIVE_SECONDS", "5")),
            api_limit_concurrency=int(_env("RISKGRAPH_API_LIMIT_CONCURRENCY", "100")),
            sec_user_agent=_env("RISKGRAPH_SEC_USER_AGENT", ""),
            opendart_api_key=_env("OPENDART_API_KEY", ""),
            fred_api_key=_env("FRED_API_KEY", ""),
            ecos_api_key=_env("ECOS_API_KEY", ""),
            git_commit=_env("RISKGRAPH_GIT_COMMIT", ""),
            migrations_dir=_env("RISKGRAPH_MIGRATIONS_DIR", ""),
            log_level=_env("RISKGRAPH_LOG_LEVEL", "INFO").upper(),
        )

    @property
    def dagster_home(self) -> Path:
        return Path(_env("DAGSTER_HOME", str(self.home / "dagster")))
