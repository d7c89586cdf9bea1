"""Shared fixtures. `graph_home` materialises the whole asset graph once per session on the bundled data
(SQLite warehouse, local objects, local MLflow store, Dagster instance, all in a temporary RISKGRAPH_HOME);
tests that change state work on `graph_copy`, a private copy of it."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

_ENV = (
    "RISKGRAPH_HOME",
    "DAGSTER_HOME",
    "RISKGRAPH_WAREHOUSE_URL",
    "RISKGRAPH_OBJECT_STORE_URL",
    "MLFLOW_TRACKING_URI",
    "RISKGRAPH_MLFLOW_ARTIFACT_ROOT",
)


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Point every setting at ``home`` (the embedded default's layout)."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RISKGRAPH_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))


@pytest.fixture(scope="session")
def graph_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from risk_assets.commands.graph import run_main_sequence

    home = tmp_path_factory.mktemp("graph") / "home"
    patch = pytest.MonkeyPatch()
    use_home(patch, home)
    log = io.StringIO()
    ok = run_main_sequence(out=log)
    patch.undo()
    assert ok, log.getvalue()
    yield home


@pytest.fixture
def graph_env(graph_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The session's materialised home, read-only by convention."""
    use_home(monkeypatch, graph_home)
    return graph_home


@pytest.fixture
def graph_copy(graph_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the materialised home for tests that write (alerts, champion, re-materialising).

    The MLflow store records absolute artifact paths, so versions registered from a copy put their artifacts
    beside the session home's: harmless, every run id is new."""
    home = tmp_path / "home"
    shutil.copytree(graph_home, home)
    use_home(monkeypatch, home)
    return home
