"""Per-step pods for `retrain` on Kubernetes (dagster-k8s's k8s_job_executor), checked without a cluster: the
executor follows the setting, its per-step sizes are valid config for that executor, only `pd_model` is large,
and the Helm values turn it on."""

from __future__ import annotations

import importlib.metadata

import dagster as dg
import pytest
import yaml

from risk_assets.defs.jobs import TRAINING_STEP_RESOURCES
from tests.deploy import REPO


def _jobs(monkeypatch, step_pods: str | None) -> dg.Definitions:
    from risk_assets.definitions import defs

    if step_pods is None:
        monkeypatch.delenv("RISKGRAPH_TRAINING_STEP_PODS", raising=False)
    else:
        monkeypatch.setenv("RISKGRAPH_TRAINING_STEP_PODS", step_pods)
    return defs()


def _memory(quantity: str) -> int:
    units = {"Mi": 2**20, "Gi": 2**30}
    return int(quantity[:-2]) * units[quantity[-2:]]


def test_retrain_runs_its_steps_in_pods_only_when_asked(monkeypatch) -> None:
    default = _jobs(monkeypatch, None)
    assert default.resolve_job_def("retrain").executor_def.name != "k8s"
    pods = _jobs(monkeypatch, "true")
    assert pods.resolve_job_def("retrain").executor_def.name == "k8s"
    # the other jobs keep steps in the run's process: pods would add start-up time and no parallelism
    for name in ("ingest_filings", "rescore_all", "refresh_market"):
        assert pods.resolve_job_def(name).executor_def.name != "k8s", name


def test_the_step_sizes_are_valid_executor_config_and_only_training_is_large(monkeypatch) -> None:
    job = _jobs(monkeypatch, "true").resolve_job_def("retrain")
    resolved = dg.validate_run_config(job, {"execution": {"config": TRAINING_STEP_RESOURCES}})["execution"][
        "k8s"
    ]
    training = resolved["per_step_k8s_config"]["pd_model"]["container_config"]["resources"]
    others = resolved["step_k8s_config"]["container_config"]["resources"]
    assert _memory(training["requests"]["memory"]) >= 4 * _memory(others["requests"]["memory"])
    step_keys = {node.name for node in job.graph.node_defs}
    assert set(resolved["per_step_k8s_config"]) <= step_keys  # a misspelt step would be sized by nothing
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(
            job, {"execution": {"config": {"step_k8s_config": {"container_config": "large"}}}}
        )


def test_the_helm_values_turn_step_pods_on_and_the_image_carries_dagster_k8s() -> None:
    values = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text())
    [code] = values["dagster-user-deployments"]["deployments"]
    assert code["env"]["RISKGRAPH_TRAINING_STEP_PODS"] == "true"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"  # the executor takes its image and env from it
    # a runtime requirement of the package (not a dev extra), so the image installs it
    runtime = [r for r in importlib.metadata.requires("riskgraph") or [] if "extra ==" not in r]
    assert any(r.replace(" ", "").startswith("dagster-k8s==") for r in runtime)
