"""deploy/helm/values.yaml for Dagster's chart dagster/dagster, checked without helm or a cluster.

The chart's schema is vendored: tests/deploy/dagster-helm-values.schema.json is helm/dagster/values.schema.json of
github.com/dagster-io/dagster at commit bdb8547fab497826eeec292bc160b549a0a329ef, unchanged (Apache-2.0,
Dagster Labs). It is the only version of that file the build machines can reach; it predates Dagster 1.13.27
(it has no defsStateStorage key yet), so a key added to the chart since then would be refused here, not missed.

Helm validates the chart's default values merged with ours. Those defaults are not vendored, so the values file
is checked as an overlay: every key it sets must exist with the right type and enum value (the schema forbids
unknown keys on most of the chart's objects), while `required` is dropped where the chart's defaults fill in,
kept where a type's config must follow the type (if/then), and kept whole for list items, which a values file
replaces rather than merges. Kubernetes' own objects (resources, probes) point at kubernetesjsonschema.dev; the
API server validates those on apply, here they are opaque.

additionalInstanceConfig is raw instance YAML the chart writes into the dagster.yaml it generates (the schema leaves
it open): the run queue and the pools live there, so the instance sections the chart would write are loaded and
validated by Dagster itself, and compared with the compose deployment's.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dagster._core.errors import DagsterInvalidConfigError

from tests.deploy import REPO, SET_BY_THE_IMAGES, instance_concurrency, settings_read

VALUES = REPO / "deploy" / "helm" / "values.yaml"
SECRETS = REPO / "deploy" / "helm" / "secrets.example.yaml"
SCHEMA = json.loads(Path(__file__).with_name("dagster-helm-values.schema.json").read_text())
KUBERNETES = "https://kubernetesjsonschema.dev/"
#: Lists in our values and the schema definition of their items.
LISTS = {("dagster-user-deployments", "deployments"): "UserDeployment"}


def offline(node: Any, *, keep_required: bool = True) -> Any:
    """The schema without its references to Kubernetes' schemas (what sits beside them still applies) and, for the
    overlay, without `required` except under if/then."""
    if isinstance(node, dict):
        return {
            key: offline(value, keep_required=keep_required or key == "then")
            for key, value in node.items()
            if not (key == "$ref" and value.startswith(KUBERNETES)) and (keep_required or key != "required")
        }
    if isinstance(node, list):
        return [offline(value, keep_required=keep_required) for value in node]
    return node


def problems(values: dict[str, Any]) -> list[str]:
    overlay = jsonschema.Draft7Validator(offline(SCHEMA, keep_required=False))
    found = [f"{list(e.absolute_path)}: {e.message}" for e in overlay.iter_errors(values)]
    for path, definition in LISTS.items():
        items = values
        for key in path:
            items = items.get(key, {})
        strict = jsonschema.Draft7Validator(
            {"$ref": f"#/definitions/{definition}", **offline({"definitions": SCHEMA["definitions"]})}
        )
        found += [
            f"{[*path, n, *e.absolute_path]}: {e.message}"
            for n, item in enumerate(items or [])
            for e in strict.iter_errors(item)
        ]
    # What the schema leaves open (additionalInstanceConfig is raw instance YAML), Dagster checks as it loads the
    # instance the chart writes.
    try:
        instance_concurrency(rendered_instance(values))
    except DagsterInvalidConfigError as error:
        found.append(f"instance: {error}")
    return found


def rendered_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The run coordinator and `concurrency` sections of the dagster.yaml the chart generates from ``values``: the
    chart's run-coordinator template (helm/dagster/templates/helpers/instance/_run-coordinator.tpl: the queue
    values it maps, when set) followed by additionalInstanceConfig, which the chart writes as it is."""
    daemon = values.get("dagsterDaemon", {}).get("runCoordinator", {})
    queued = (daemon.get("config") or {}).get("queuedRunCoordinator") or {}
    config = {
        name: queued[key]
        for key, name in (
            ("maxConcurrentRuns", "max_concurrent_runs"),
            ("tagConcurrencyLimits", "tag_concurrency_limits"),
            ("dequeueIntervalSeconds", "dequeue_interval_seconds"),
        )
        if queued.get(key)
    }
    coordinator = {"module": "dagster._core.run_coordinator", "class": daemon.get("type")}
    return {
        "run_coordinator": {**coordinator, **({"config": config} if config else {})},
        **(values.get("additionalInstanceConfig") or {}),
    }


def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def secrets() -> dict[str, dict[str, str]]:
    return {doc["metadata"]["name"]: doc["stringData"] for doc in yaml.safe_load_all(SECRETS.read_text())}


def test_the_values_fit_the_charts_schema():
    assert problems(values()) == []


def _set(path: str, value: Any):
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if isinstance(doc, list) else doc[key]
        doc[last] = value

    return edit


def _drop(path: str):
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if isinstance(doc, list) else doc[key]
        del doc[last]

    return edit


BREAKS = {
    "misspelt daemon key": _set("dagsterDaemon.runCordinator", {}),
    "unknown launcher": _set("runLauncher.type", "K8sRunLaunchr"),
    "queue size not a number": _set("additionalInstanceConfig.concurrency.runs.max_concurrent_runs", "4"),
    "tag limit without a limit": _drop(
        "additionalInstanceConfig.concurrency.runs.tag_concurrency_limits.0.limit"
    ),
    "pool granularity misspelt": _set("additionalInstanceConfig.concurrency.pools.granularity", "step"),
    "queue limits in the run coordinator too": _set(
        "dagsterDaemon.runCoordinator.config", {"queuedRunCoordinator": {"maxConcurrentRuns": 4}}
    ),
    "code location without a port": _drop("dagster-user-deployments.deployments.0.port"),
    "code location image without repository": _drop(
        "dagster-user-deployments.deployments.0.image.repository"
    ),
    "S3 logs without their config": _drop("computeLogManager.config.s3ComputeLogManager"),
}


@pytest.mark.parametrize("edit", BREAKS.values(), ids=BREAKS.keys())
def test_the_check_refuses_a_broken_copy(edit):
    broken = copy.deepcopy(values())
    edit(broken)
    assert problems(broken) != []


def test_the_queue_is_the_compose_queue():
    """The instance the chart writes runs under the compose deployment's run queue and pools (dagster.yaml), as
    Dagster reads both: 4 runs at once, one filings-sensor run per source, one slot in the fetch pool."""
    compose = yaml.safe_load((REPO / "dagster.yaml").read_text())
    chart = instance_concurrency(rendered_instance(values()))
    assert chart == instance_concurrency(compose)
    assert chart.pool_config.default_pool_limit == 1
    assert values()["dagsterDaemon"]["runCoordinator"]["type"] == compose["run_coordinator"]["class"]


def test_runs_receive_every_setting_and_secrets_only_by_name():
    [code] = values()["dagster-user-deployments"]["deployments"]
    assert code["includeConfigInLaunchedRuns"]["enabled"], (
        "run Jobs would not get the code location's settings"
    )
    named = [ref["name"] for ref in code["envSecrets"]]
    provided = set(code["env"]) | {key for name in named for key in secrets()[name]}
    # the API's own settings and the S3 endpoint (none on AWS S3) aside, what the code reads must be there
    api_only = {"RISKGRAPH_DAGSTER_URL", "RISKGRAPH_CORS_ORIGINS"} | {
        n for n in settings_read() if n.startswith("RISKGRAPH_API_")
    }
    needed = settings_read() - SET_BY_THE_IMAGES - api_only - {"RISKGRAPH_S3_ENDPOINT_URL"}
    needed |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
    assert needed - provided == set()
    # nothing secret is written in the values file itself
    secret_names = {key for stored in secrets().values() for key in stored}
    assert not secret_names & set(code["env"]), "a secret's value is written in values.yaml"
    assert (
        "postgresqlPassword" not in values()["postgresql"]
        and values()["generatePostgresqlPasswordSecret"] is False
    )


def test_every_secret_named_is_described_and_ships_no_value():
    chart = values()
    referenced = {chart["global"]["postgresqlSecretName"]: {"postgresql-password"}}
    for section in (chart["dagsterWebserver"], *chart["dagster-user-deployments"]["deployments"]):
        for ref in section["envSecrets"]:
            referenced.setdefault(ref["name"], set())
    described = secrets()
    assert set(referenced) == set(described)
    for name, keys in referenced.items():
        assert keys <= set(described[name]), name
    for name, stored in described.items():
        for key, value in stored.items():
            assert value == "" or "change-me" in value, f"{name}.{key} holds a value"
    # the webserver reads step logs from the bucket the runs write objects to
    logs = chart["computeLogManager"]["config"]["s3ComputeLogManager"]
    [code] = chart["dagster-user-deployments"]["deployments"]
    assert code["env"]["RISKGRAPH_OBJECT_STORE_URL"].startswith(f"s3://{logs['bucket']}/")
    [webserver_secret] = chart["dagsterWebserver"]["envSecrets"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(described[webserver_secret["name"]])
