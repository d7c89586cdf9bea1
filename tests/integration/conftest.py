"""The production path in miniature, against real processes: the warehouse on MariaDB/MySQL, objects on an S3
API server (`moto_server`), MLflow as an `mlflow server` (MySQL backend store, artifacts on S3) and Dagster's
instance from the deployment dagster.yaml on MySQL.

The S3 server is started once per session here and stopped at the end; tests that kill a server start
their own, and the production-stack module its MLflow server (~40 s to start, so it comes up while the graph
fetches the filings). Every database is a scratch database dropped afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import use_home
from tests.support.servers import DUMMY_AWS_ENV, MotoServer, MySqlServer

REPO = Path(__file__).resolve().parents[2]
BUCKET = "riskgraph"


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One S3 API server for the session, with the deployment's bucket."""
    with MotoServer(tmp_path_factory.mktemp("moto"), journal=False) as server:
        server.create_bucket(BUCKET)
        yield server


@dataclass(frozen=True)
class Production:
    """Where one test's production-like stack keeps things."""

    home: Path
    warehouse_url: str
    object_store_url: str
    dagster_database: MySqlServer | None


def s3_env(monkeypatch: pytest.MonkeyPatch, moto: MotoServer) -> None:
    for name, value in DUMMY_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RISKGRAPH_S3_ENDPOINT_URL", moto.endpoint_url)
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", moto.endpoint_url)


def deployment_dagster_home(
    monkeypatch: pytest.MonkeyPatch, home: Path, database: MySqlServer, moto: MotoServer
) -> Path:
    """DAGSTER_HOME holding the deployment dagster.yaml, its variables pointed at ``database`` and moto."""
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    for name, value in {
        "DAGSTER_MYSQL_HOST": database.host,
        "DAGSTER_MYSQL_PORT": str(database.port),
        "DAGSTER_MYSQL_DB": database.database,
        "DAGSTER_MYSQL_USER": database.user,
        "DAGSTER_MYSQL_PASSWORD": database.password,
        "DAGSTER_COMPUTE_LOG_BUCKET": BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    return dagster_home


def production_env(
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
    *,
    moto: MotoServer,
    warehouse_url: str,
    prefix: str,
    mlflow_url: str | None = None,
    dagster_database: MySqlServer | None = None,
) -> Production:
    """Point every setting at the servers (what docker-compose.yaml gives the dagster-code container)."""
    use_home(monkeypatch, home)
    s3_env(monkeypatch, moto)
    object_store_url = f"s3://{BUCKET}/{prefix}"
    monkeypatch.setenv("RISKGRAPH_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("RISKGRAPH_OBJECT_STORE_URL", object_store_url)
    if mlflow_url:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)
    if dagster_database is not None:
        deployment_dagster_home(monkeypatch, home, dagster_database, moto)
    return Production(home, warehouse_url, object_store_url, dagster_database)
