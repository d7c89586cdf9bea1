"""ModelRegistry on a real local MLflow store (sqlite): runs left RUNNING by a killed materialisation (a real
SIGKILL) are closed as FAILED by the next training run; a model whose pinned requirements this environment does not
meet loads with a warning that names them."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from risk_assets.core.model import PDModel
from risk_assets.storage import model_registry
from risk_assets.storage.model_registry import STALE_RUN_TAG, ModelRegistry, requirement_mismatches

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


def _logged_version(registry: ModelRegistry) -> str:
    """A small logistic PDModel on synthetic rows, logged and registered as a new version."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"leverage": rng.normal(size=400), "margin": rng.normal(size=400)})
    target = (frame["leverage"] - frame["margin"] + rng.normal(size=400) > 1.5).astype(int).to_numpy()
    model = PDModel("logistic", ["leverage", "margin"], {"C": 1.0}).fit(
        frame, target, target_rate=0.05, calibration_folds=3
    )
    registry.activate()
    with mlflow.start_run(run_name="requirements"):
        return registry.log_model(model, frame).version


def test_a_model_logged_under_other_pins_loads_with_a_warning_naming_them(tmp_path, caplog):
    registry = _registry(tmp_path)
    version = _logged_version(registry)
    # As if trained where another LightGBM was installed: the pin in the stored model's requirements.txt.
    (stored,) = (tmp_path / "mlartifacts").rglob("requirements.txt")
    pins = stored.read_text()
    assert f"lightgbm=={metadata.version('lightgbm')}" in pins
    stored.write_text(pins.replace(f"lightgbm=={metadata.version('lightgbm')}", "lightgbm==0.0.1"))
    with caplog.at_level(logging.WARNING, logger=model_registry.__name__):
        model = registry.load(version)
    assert model.feature_names == ["leverage", "margin"]
    warned = [r.getMessage() for r in caplog.records if r.name == model_registry.__name__]
    assert len(warned) == 1
    assert f"lightgbm==0.0.1 (installed {metadata.version('lightgbm')})" in warned[0]
    assert "scikit-learn" not in warned[0]  # the pins this environment meets are not named


def test_a_model_logged_under_this_environments_pins_loads_without_a_warning(tmp_path, caplog):
    registry = _registry(tmp_path)
    version = _logged_version(registry)
    with caplog.at_level(logging.WARNING, logger=model_registry.__name__):
        registry.load(version)
    assert [r for r in caplog.records if r.name == model_registry.__name__] == []


def test_requirement_mismatches_compares_each_pin_with_what_is_installed():
    numpy_version = metadata.version("numpy")
    assert requirement_mismatches(
        [
            f"numpy=={numpy_version}",
            "numpy<1",
            "riskgraph",
            "no-such-distribution-here==1.0",
            "./wheels/local.whl",
            'lightgbm==0.0.1; python_version < "3"',
        ]
    ) == [f"numpy<1 (installed {numpy_version})", "no-such-distribution-here==1.0 (not installed)"]
