"""MLflow tracking and the `corporate_pd` registry: log a trained PDModel, move the `champion` alias, load it.

The model is logged as a custom pyfunc (not skops: MLflow 3.17 refuses LightGBM and our preprocessing as
"untrusted types") whose ``predict`` returns PD, raw log-odds and the domain flag; consumers that need drivers
unwrap it to the PDModel. Every consumer loads the version the `champion` alias names; a scoring run finds it
without this module where it can (storage/champion_lookup.py: the alias over a tracking server's REST API, the
model kept in the object store after its first load here).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import joblib
import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from packaging.requirements import InvalidRequirement, Requirement

from risk_assets.core.model import PDModel
from risk_assets.storage.champion_lookup import CHAMPION_ALIAS

# Set on a run that close_stale_runs() marked FAILED: why, and when.
STALE_RUN_TAG = "riskgraph.closed_as_stale"
_LOG = logging.getLogger(__name__)
_PIP_REQUIREMENTS = ["riskgraph", "scikit-learn==1.9.1", "lightgbm==4.7.0", "pandas==2.3.3", "numpy==2.4.6"]


class PDPyfunc(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: predict() -> DataFrame(pd, log_odds, out_of_domain)."""

    def load_context(self, context: Any) -> None:
        self.model: PDModel = joblib.load(context.artifacts["pd_model"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        frame = model_input.reindex(columns=self.model.feature_names).astype(float)
        raw = self.model.raw_log_odds(frame)
        flags, _notes = self.model.check_domain(frame)
        return pd.DataFrame({"pd": self.model.calibration.pd(raw), "log_odds": raw, "out_of_domain": flags})


@dataclass
class LoggedModel:
    run_id: str
    version: str
    model_uri: str


class ModelRegistry:
    """A thin, explicit layer over MLflow: one tracking URI, one experiment, one registered model."""

    def __init__(self, tracking_uri: str, model_name: str, experiment: str, artifact_root: str | None = None):
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.experiment = experiment
        self.artifact_root = artifact_root
        self.client = _client(tracking_uri)

    def activate(self) -> str:
        """Point the fluent API at this store and make sure the experiment exists; returns its id."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            experiment_id = found.experiment_id
        else:
            experiment_id = self.client.create_experiment(
                self.experiment, artifact_location=self.experiment_artifact_location()
            )
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    def close_stale_runs(self) -> list[str]:
        """Mark FAILED (tagged with why) the runs of this experiment still RUNNING that started before the active
        run, or before now without one: a materialisation killed mid-training (SIGKILL, OOM, a stopped container)
        never ends its run. Runs started after the active one are left alone (another process may own them).
        Returns the ids closed, oldest first. Call it at the start of training, in or before its run."""
        from mlflow.entities import RunStatus, ViewType

        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            return []
        active = mlflow.active_run()
        cutoff = active.info.start_time if active is not None else int(time.time() * 1000)
        running = self.client.search_runs(
            [found.experiment_id],
            filter_string="attributes.status = 'RUNNING'",
            run_view_type=ViewType.ALL,
            order_by=["attributes.start_time ASC"],
        )
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        closed = []
        for run in running:
            if active is not None and run.info.run_id == active.info.run_id:
                continue
            if run.info.start_time is None or run.info.start_time >= cutoff:
                continue
            self.client.set_tag(
                run.info.run_id,
                STALE_RUN_TAG,
                f"left RUNNING by an interrupted materialisation; closed as FAILED at {now}",
            )
            self.client.set_terminated(run.info.run_id, status=RunStatus.to_string(RunStatus.FAILED))
            closed.append(run.info.run_id)
        return closed

    def experiment_artifact_location(self) -> str | None:
        """Where a new experiment keeps its artifacts. A tracking server (http/https) is left to choose
        (its proxied --artifacts-destination, e.g. s3://riskgraph/mlartifacts) unless given a remote root
        such as s3://: a folder on this machine means nothing to the server or to the other clients."""
        root = self.artifact_root or None
        remote_server = self.tracking_uri.startswith(("http://", "https://"))
        if root and remote_server and urlparse(root).scheme in ("", "file"):
            return None
        return root

    def log_model(self, model: PDModel, example: pd.DataFrame) -> LoggedModel:
        """Log ``model`` in the active run, with its signature and an input example, and register it as a new
        version."""
        from mlflow.models import infer_signature

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pd_model.joblib"
            joblib.dump(model, path)
            sample = example[model.feature_names].head(20).astype(float)
            output = PDPyfunc()
            output.model = model
            signature = infer_signature(sample, output.predict(None, sample))
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=PDPyfunc(),
                artifacts={"pd_model": str(path)},
                signature=signature,
                input_example=sample.head(3),  # shown in the MLflow UI; also what a serving client sends
                registered_model_name=self.model_name,
                pip_requirements=_PIP_REQUIREMENTS,
            )
        run_id = mlflow.active_run().info.run_id
        return LoggedModel(run_id, str(info.registered_model_version), info.model_uri)

    def champion_version(self) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self.model_name, CHAMPION_ALIAS).version)
        except mlflow.exceptions.MlflowException:
            return None

    def set_champion(self, version: str) -> None:
        self.client.set_registered_model_alias(self.model_name, CHAMPION_ALIAS, version)

    def tag_version(self, version: str, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, version, key, str(value))

    def version_info(self, version: str) -> Any:
        return self.client.get_model_version(self.model_name, version)

    def versions(self) -> list[Any]:
        found = self.client.search_model_versions(f"name='{self.model_name}'")
        return sorted(found, key=lambda v: int(v.version), reverse=True)

    def load(self, version: str) -> PDModel:
        return _load_pd_model(self.tracking_uri, f"models:/{self.model_name}/{version}")

    def load_champion(self) -> tuple[str, PDModel]:
        version = self.champion_version()
        if version is None:
            raise LookupError(f"no '{CHAMPION_ALIAS}' alias on registered model {self.model_name!r}")
        return version, self.load(version)


@lru_cache(maxsize=8)
def _client(tracking_uri: str) -> MlflowClient:
    """One client per tracking URI and process: building one opens its store (on a database URI a schema check,
    about 0.35 s here), which scoring did per segment for every batch and every new filing's run."""
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def requirement_mismatches(requirements: list[str]) -> list[str]:
    """The lines of a model's requirements.txt that this environment does not satisfy, each with what is installed.

    MLflow's own check (``load_model`` without ``suppress_warnings``) maps every installed distribution's files to
    its modules first: ~0.8 s of every champion load here, a tenth of a new filing's budget. The model's pins are
    plain ``name==version`` lines, which one metadata lookup each answers."""
    mismatches = []
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue  # a path or URL: nothing to compare
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            mismatches.append(f"{line} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            mismatches.append(f"{line} (installed {installed})")
    return mismatches


@lru_cache(maxsize=8)
def _load_pd_model(tracking_uri: str, model_uri: str) -> PDModel:
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="riskgraph-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
        requirements = Path(local) / "requirements.txt"
        lines = requirements.read_text().splitlines() if requirements.exists() else []
        mismatches = requirement_mismatches([line.strip() for line in lines if line.strip()])
        if mismatches:
            _LOG.warning(
                "%s was logged with requirements this environment does not meet: %s; its scores may differ from "
                "the ones it was validated with",
                model_uri,
                "; ".join(mismatches),
            )
        loaded = mlflow.pyfunc.load_model(local, suppress_warnings=True)
        return loaded.unwrap_python_model().model
