"""ModelRegistry.close_stale_runs: MLflow runs left RUNNING by a killed materialisation are closed as FAILED by
the next training run, on a real local MLflow store (sqlite), with the kill a real SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow

from risk_assets.storage.model_registry import STALE_RUN_TAG, ModelRegistry

_KILLED_TRAINING = """
import sys, time, mlflow
from risk_assets.storage.model_registry import ModelRegistry
registry = ModelRegistry(tracking_uri=sys.argv[1], model_name="corporate_pd", experiment="corporate_pd",
                         artifact_root=sys.argv[2])
registry.activate()
run = mlflow.start_run(run_name="killed")
print(run.info.run_id, flush=True)
time.sleep(600)
"""


def _registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        model_name="corporate_pd",
        experiment="corporate_pd",
        artifact_root=(tmp_path / "mlartifacts").as_uri(),
    )


def _killed_run(registry: ModelRegistry) -> str:
    """A training process that starts a run and is killed with SIGKILL before it can end it."""
    repo = str(Path(__file__).resolve().parents[2])
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_TRAINING, registry.tracking_uri, registry.artifact_root],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": repo},
    )
    try:
        run_id = process.stdout.readline().strip()
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL and run_id, "the training process did not start its run"
    return run_id


def test_runs_left_running_by_a_killed_materialisation_are_closed_as_failed(tmp_path):
    registry = _registry(tmp_path)
    stale = _killed_run(registry)
    assert registry.client.get_run(stale).info.status == "RUNNING"  # what the kill leaves behind

    experiment_id = registry.activate()
    time.sleep(0.01)  # start times are in milliseconds
    with mlflow.start_run(run_name="current") as current:
        time.sleep(0.01)
        newer = registry.client.create_run(
            experiment_id, run_name="started after the current run"
        ).info.run_id
        closed = registry.close_stale_runs()
        assert closed == [stale]
        killed = registry.client.get_run(stale)
        assert killed.info.status == "FAILED" and killed.info.end_time is not None
        assert "interrupted" in killed.data.tags[STALE_RUN_TAG]
        assert registry.client.get_run(current.info.run_id).info.status == "RUNNING"  # the active run
        assert registry.client.get_run(newer).info.status == "RUNNING"  # younger than the active run
        assert registry.close_stale_runs() == []  # nothing left to close
    assert registry.client.get_run(current.info.run_id).info.status == "FINISHED"


def test_without_an_active_run_only_runs_started_before_the_call_are_closed(tmp_path):
    registry = _registry(tmp_path)
    stale = _killed_run(registry)
    other_experiment = registry.client.create_experiment("someone_else")
    foreign = registry.client.create_run(other_experiment).info.run_id
    assert registry.close_stale_runs() == [stale]
    assert registry.client.get_run(foreign).info.status == "RUNNING"  # another experiment: not ours to close


def test_registries_of_one_tracking_uri_share_one_client(tmp_path: Path) -> None:
    """Building an MLflow client opens its store (a schema check on a database URI), which scoring did per
    segment for every batch: one client per tracking URI and process."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    listed = ModelRegistry(uri, "corporate_pd_listed", "corporate_pd")
    sme = ModelRegistry(uri, "corporate_pd_sme", "corporate_pd")
    assert listed.client is sme.client
    assert listed.model_name != sme.model_name  # the registry's own state stays its own
    elsewhere = ModelRegistry(f"sqlite:///{tmp_path / 'other.db'}", "corporate_pd_listed", "corporate_pd")
    assert elsewhere.client is not listed.client
    assert elsewhere.client.tracking_uri.endswith("other.db")
