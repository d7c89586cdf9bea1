"""Runtime settings, read from the environment when asked for (never at import time).

Every variable is documented in `.env.example`. The embedded default keeps everything under
``RISKGRAPH_HOME`` (default ``./.riskgraph``): warehouse.db, objects/, mlflow.db, mlartifacts/, dagster/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Derived from RISKGRAPH_HOME when their own variable is unset or empty.
_UNDER_HOME = {
    "warehouse_url": lambda home: f"sqlite:///{home / 'warehouse.db'}",
    "object_store_url": lambda home: (home / "objects").as_uri(),
    "mlflow_tracking_uri": lambda home: f"sqlite:///{home / 'mlflow.db'}",
    "mlflow_artifact_root": lambda home: (home / "mlartifacts").as_uri(),
}


def _variable(name: str, default: Any = None, **kwargs: Any) -> Any:
    """A setting read from the variable ``name`` (also the keyword to pass it to the constructor)."""
    return Field(default, validation_alias=AliasChoices(name), **kwargs)


class Settings(BaseSettings):
    """Every runtime setting, from the environment (pydantic-settings): an unset or empty variable is the default,
    a malformed one a validation error naming the variable. ``.env.example`` documents each."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    home: Path = _variable("RISKGRAPH_HOME", Path(".riskgraph"))
    warehouse_url: str = _variable("RISKGRAPH_WAREHOUSE_URL", "")
    object_store_url: str = _variable("RISKGRAPH_OBJECT_STORE_URL", "")
    s3_endpoint_url: str | None = _variable("RISKGRAPH_S3_ENDPOINT_URL")
    mlflow_tracking_uri: str = _variable("MLFLOW_TRACKING_URI", "")
    mlflow_artifact_root: str = _variable("RISKGRAPH_MLFLOW_ARTIFACT_ROOT", "")
    mlflow_experiment: str = _variable("RISKGRAPH_MLFLOW_EXPERIMENT", "corporate_pd")
    model_name: str = _variable("RISKGRAPH_MODEL_NAME", "corporate_pd")
    # Processes that derive a large run's company batches (features, scores) beside the one that writes them:
    # -1 one per CPU, 0 none (RISKGRAPH_DERIVE_WORKERS).
    derive_workers: int = _variable("RISKGRAPH_DERIVE_WORKERS", -1, ge=-1)
    long_run_default_rate: float = _variable("RISKGRAPH_LONG_RUN_DEFAULT_RATE", 0.02, gt=0, lt=1)
    data_source: str = _variable("RISKGRAPH_DATA_SOURCE", "bundled")
    dagster_graphql_url: str = _variable("RISKGRAPH_DAGSTER_URL", "http://127.0.0.1:3000")
    # The API: browser origins allowed by CORS (comma-separated; empty = CORS off), the largest request body
    # accepted, and how often the scoring endpoint re-reads the champion alias from MLflow.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = _variable("RISKGRAPH_CORS_ORIGINS", ())
    api_max_request_bytes: int = _variable("RISKGRAPH_API_MAX_REQUEST_BYTES", 1_048_576, gt=0)
    api_champion_recheck_seconds: float = _variable("RISKGRAPH_API_CHAMPION_RECHECK_SECONDS", 30.0, ge=0)
    # How long the API may reuse a read on a server database (SQLite needs no limit: it says when it changed).
    api_cache_seconds: float = _variable("RISKGRAPH_API_CACHE_SECONDS", 0.0, ge=0)
    # The served API (`python -m api.server`): seconds a request's head (request line and headers) and then its
    # body may take to arrive (408 after; 0 = no limit), seconds an idle keep-alive connection stays open, and
    # how many connections/requests it serves at once (more get 503 at once rather than queueing without bound).
    api_header_timeout_seconds: float = _variable("RISKGRAPH_API_HEADER_TIMEOUT_SECONDS", 10.0, ge=0)
    api_body_timeout_seconds: float = _variable("RISKGRAPH_API_BODY_TIMEOUT_SECONDS", 30.0, ge=0)
    api_timeout_keep_alive_seconds: float = _variable("RISKGRAPH_API_TIMEOUT_KEEP_ALIVE_SECONDS", 5.0, ge=0)
    api_limit_concurrency: int = _variable("RISKGRAPH_API_LIMIT_CONCURRENCY", 100, gt=0)
    # The sources' credentials (never printed: left out of repr). Empty = not configured; the live sources refuse.
    sec_user_agent: str = _variable("RISKGRAPH_SEC_USER_AGENT", "", repr=False)
    opendart_api_key: str = _variable("OPENDART_API_KEY", "", repr=False)
    fred_api_key: str = _variable("FRED_API_KEY", "", repr=False)
    ecos_api_key: str = _variable("ECOS_API_KEY", "", repr=False)
    # Build facts: the git commit an image was built from (the source tree's own git when empty), and where an
    # image keeps the Alembic migrations if it moved them out of db/migrations.
    git_commit: str = _variable("RISKGRAPH_GIT_COMMIT", "")
    migrations_dir: str = _variable("RISKGRAPH_MIGRATIONS_DIR", "")
    # What `riskgraph materialize` / `make run` print of each run's events: INFO (progress and results) by default,
    # DEBUG for every step event.
    log_level: str = _variable("RISKGRAPH_LOG_LEVEL", "INFO")
    # Bundled mode: a folder laid out like risk_assets/data to read companies and documents from (empty: packaged).
    bundled_data_folder: str = _variable("RISKGRAPH_BUNDLED_DATA", "")
    # Kubernetes (the Helm chart): run each step of `retrain` in a pod of its own, sized per step
    # (risk_assets/defs/jobs.py); off everywhere else, where steps run in the run's own process.
    training_step_pods: bool = _variable("RISKGRAPH_TRAINING_STEP_PODS", False)
    # Dagster's own home (its instance): under RISKGRAPH_HOME unless DAGSTER_HOME says otherwise.
    dagster_home_dir: Path | None = _variable("DAGSTER_HOME")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """A variable set to nothing or spaces is the default (as ``X= make run`` means); origins split on
        commas."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        origins = data.get("RISKGRAPH_CORS_ORIGINS")
        if isinstance(origins, str):
            data["RISKGRAPH_CORS_ORIGINS"] = tuple(o.strip() for o in origins.split(",") if o.strip())
        return data

    @model_validator(mode="after")
    def _under_home(self) -> Settings:
        """Absolute home; the stores left unset live under it; the log level in capitals."""
        home = self.home.expanduser().resolve()
        object.__setattr__(self, "home", home)
        for name, default in _UNDER_HOME.items():
            if not getattr(self, name):
                object.__setattr__(self, name, default(home))
        object.__setattr__(self, "log_level", self.log_level.upper())
        return self

    @classmethod
    def from_env(cls) -> Settings:
        """The settings as the environment says now (read on each call, never at import)."""
        return cls()

    @property
    def dagster_home(self) -> Path:
        return self.dagster_home_dir or self.home / "dagster"


def child_environment(**defaults: str) -> dict[str, str]:
    """The environment for a child process (`riskgraph serve` starts Dagster and the API): this process's, with
    ``defaults`` for the variables it does not set."""
    return {**defaults, **os.environ}
