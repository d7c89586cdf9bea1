"""The gateway against the session's materialised graph.

`api_home` is one private copy of the session home for the API tests (keys are written into it; the session
home stays read-only). `keys` are created there once: one per scope, one with all scopes, one revoked.
`api` is a TestClient over an app on that copy, with a recording stand-in for Dagster (the real launch goes
through `dagster dev` in test_launch.py). Tests that change alerts or the watchlist use `fresh_api`, an app on
their own copy (`graph_copy`).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.dagster_runs import DagsterUnavailable, RunInfo, RunNotFound
from api.main import create_app
from risk_assets.settings import Settings
from risk_assets.storage.api_keys import create_key, revoke_key
from risk_assets.storage.warehouse import Warehouse
from tests.conftest import use_home

KEY_SCOPES = {
    "reader": "read",
    "scorer": "score",
    "admin": "admin",
    "full": "read,score,admin",
    "revoked": "read,score,admin",
}


@dataclass
class RecordingLauncher:
    """Stands in for Dagster's webserver: records launches, answers statuses, can be 'down'."""

    launches: list[tuple[str, str | None, dict]] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    down: bool = False

    def launch(self, job: str, partition_key: str | None, tags: dict[str, str]) -> str:
        if self.down:
            raise DagsterUnavailable("the Dagster webserver is unreachable")
        run_id = str(uuid.uuid4())
        self.launches.append((job, partition_key, tags))
        self.statuses[run_id] = "QUEUED"
        return run_id

    def status(self, run_id: str) -> RunInfo:
        if self.down:
            raise DagsterUnavailable("the Dagster webserver is unreachable")
        if run_id not in self.statuses:
            raise RunNotFound(run_id)
        return RunInfo(run_id, self.statuses[run_id])


def settings_for(home: Path, **overrides) -> Settings:
    """The embedded default's settings for ``home``, resolved now (not from the environment later)."""
    with pytest.MonkeyPatch.context() as patch:
        use_home(patch, home)
        settings = Settings.from_env()
    return settings.model_copy(update=overrides)


def make_keys(home: Path) -> dict[str, str]:
    warehouse = Warehouse(settings_for(home).warehouse_url)
    try:
        secrets = {
            name: create_key(warehouse, name, scopes, actor="test").secret
            for name, scopes in KEY_SCOPES.items()
        }
        revoke_key(warehouse, "revoked", actor="test")
    finally:
        warehouse.dispose()
    return secrets


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="session")
def api_home(graph_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("api") / "home"
    shutil.copytree(graph_home, home)
    return home


@pytest.fixture(scope="session")
def keys(api_home: Path) -> dict[str, str]:
    return make_keys(api_home)


@pytest.fixture(scope="session")
def launcher() -> RecordingLauncher:
    return RecordingLauncher()


@pytest.fixture(scope="session")
def api_app(api_home: Path, keys: dict[str, str], launcher: RecordingLauncher):
    return create_app(settings_for(api_home), launcher=launcher)


@pytest.fixture(scope="session")
def api(api_app) -> Iterator[TestClient]:
    with TestClient(api_app) as client:
        yield client


@pytest.fixture(scope="session")
def warehouse(api_home: Path) -> Iterator[Warehouse]:
    store = Warehouse(settings_for(api_home).warehouse_url)
    yield store
    store.dispose()


@dataclass
class FreshApi:
    client: TestClient
    keys: dict[str, str]
    launcher: RecordingLauncher
    warehouse: Warehouse
    home: Path


@pytest.fixture
def fresh_api(graph_copy: Path) -> Iterator[FreshApi]:
    """An app on this test's own copy of the materialised home (for tests that change state)."""
    secrets = make_keys(graph_copy)
    recorder = RecordingLauncher()
    settings = settings_for(graph_copy)
    store = Warehouse(settings.warehouse_url)
    with TestClient(create_app(settings, launcher=recorder)) as client:
        yield FreshApi(client, secrets, recorder, store, graph_copy)
    store.dispose()
