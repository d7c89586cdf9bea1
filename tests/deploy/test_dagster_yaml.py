"""The compose deployment's Dagster instances (dagster.yaml: one box; deploy/compose/dagster.yaml: run containers)
and workspace.yaml, loaded by Dagster itself with the environment compose gives each Dagster process, and opened
on a scratch database of the test MariaDB/MySQL server.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._core.instance.config import PoolGranularity, dagster_instance_config
from dagster._core.workspace.config_schema import ensure_workspace_config
from dagster._serdes.config_class import ConfigurableClassData

from risk_assets.defs.partitions import FETCH_POOL, SOURCE_TAG, source_tags
from tests.deploy import DOCKER_GID, REPO, compose_config, env_example, instance_concurrency, scratch_database

INSTANCES = {
    "one box": (REPO / "dagster.yaml", False),
    "run containers": (REPO / "deploy" / "compose" / "dagster.yaml", True),
}
DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")


def env_names(node: Any) -> Iterator[str]:
    """Every `env: NAME` the file reads."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            yield node["env"]
        for value in node.values():
            yield from env_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from env_names(value)


def stack_for(run_containers: bool) -> dict[str, Any]:
    return compose_config({**env_example(), **DOCKER_GID}, run_containers=run_containers)


def rehydrate(path: Path, key: str):
    entry = yaml.safe_load(path.read_text())[key]
    return ConfigurableClassData(
        entry["module"], entry["class"], yaml.safe_dump(entry.get("config") or {})
    ).rehydrate()


@pytest.fixture(params=INSTANCES.values(), ids=INSTANCES.keys())
def instance_file(request, monkeypatch) -> Path:
    """One instance file, with the daemon's environment from compose set (it is the process that dequeues)."""
    path, run_containers = request.param
    for name, value in stack_for(run_containers)["services"]["dagster-daemon"]["environment"].items():
        monkeypatch.setenv(name, value)
    return path


def instance_dir(tmp_path: Path, instance_file: Path) -> str:
    directory = tmp_path / "dagster_home"
    directory.mkdir()
    shutil.copy(instance_file, directory / "dagster.yaml")
    return str(directory)


def test_every_dagster_process_receives_what_its_instance_reads():
    for mode, (path, run_containers) in INSTANCES.items():
        needed = set(env_names(yaml.safe_load(path.read_text())))
        assert "DAGSTER_MYSQL_PASSWORD" in needed
        services = stack_for(run_containers)["services"]
        for name in DAGSTER_SERVICES:
            assert needed <= set(services[name]["environment"]), f"{mode}: {name}"


def test_dagster_accepts_the_instance(tmp_path, instance_file):
    config, custom_class = dagster_instance_config(instance_dir(tmp_path, instance_file))
    assert custom_class is None
    assert config["telemetry"] == {"enabled": False}


def test_the_queue_runs_one_fetch_per_rate_limited_source(instance_file):
    concurrency = instance_concurrency(yaml.safe_load(instance_file.read_text()))
    queue = concurrency.run_queue_config
    assert queue.max_concurrent_runs == 4
    limits = {(limit["key"], limit["value"]): limit["limit"] for limit in queue.tag_concurrency_limits}
    # keyed by the tag the filings sensor puts on each company's run
    assert limits == {(SOURCE_TAG, "sec"): 1, (SOURCE_TAG, "dart"): 1}
    assert source_tags("sec-0000320193") == {SOURCE_TAG: "sec"}
    assert source_tags("dart-00126380") == {SOURCE_TAG: "dart"}
    assert source_tags("user-acme") == {}
    # One slot in the fetch pool, which has no limit of its own: the default limit is its limit. Held by the step
    # (op granularity), not the whole run, and a run whose fetch could not start is not started by the queue.
    pools = concurrency.pool_config
    assert pools.default_pool_limit == 1
    assert pools.pool_granularity == PoolGranularity.OP
    assert queue.should_block_op_concurrency_limited_runs
    assert queue.op_concurrency_slot_buffer == 0


def test_step_logs_go_to_the_compose_object_store(instance_file):
    manager = rehydrate(instance_file, "compute_logs")
    code_env = compose_config()["services"]["dagster-code"]["environment"]
    assert manager._s3_session.meta.endpoint_url == code_env["RISKGRAPH_S3_ENDPOINT_URL"]
    assert f"s3://{manager._s3_bucket}/objects" == code_env["RISKGRAPH_OBJECT_STORE_URL"]


@pytest.mark.mysql
def test_the_instance_opens_on_mysql(tmp_path, instance_file, monkeypatch):
    from dagster import DagsterInstance

    with scratch_database() as server:
        monkeypatch.setenv("DAGSTER_MYSQL_HOST", server.host)
        monkeypatch.setenv("DAGSTER_MYSQL_PORT", str(server.port))
        monkeypatch.setenv("DAGSTER_MYSQL_DB", server.database)
        monkeypatch.setenv("DAGSTER_MYSQL_USER", server.user)
        monkeypatch.setenv("DAGSTER_MYSQL_PASSWORD", server.password)
        instance = DagsterInstance.from_config(instance_dir(tmp_path, instance_file))
        try:
            assert type(instance.run_storage).__name__ == "MySQLRunStorage"
            assert type(instance.event_log_storage).__name__ == "MySQLEventLogStorage"
            assert type(instance.schedule_storage).__name__ == "MySQLScheduleStorage"
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            expected = yaml.safe_load(instance_file.read_text())["run_launcher"]["class"]
            assert type(instance.run_launcher).__name__ == expected
            assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
            assert instance.run_monitoring_enabled
            # the queue and pool settings the instance runs under are the ones checked above from the file
            assert instance.get_concurrency_config() == instance_concurrency(
                yaml.safe_load(instance_file.read_text())
            )
            # and its event-log storage on MySQL enforces pools: the fetch pool gets the default limit's one slot
            assert instance.event_log_storage.supports_global_concurrency_limits
            instance.event_log_storage.initialize_concurrency_limit_to_default(FETCH_POOL)
            assert instance.event_log_storage.get_concurrency_info(FETCH_POOL).slot_count == 1
            # A write and a read through the event-log storage, in the scratch database.
            instance.add_dynamic_partitions("deploy_test_companies", ["0000320193"])
            assert instance.get_dynamic_partitions("deploy_test_companies") == ["0000320193"]
        finally:
            instance.dispose()


def test_the_workspace_points_at_the_code_server():
    workspace_file = REPO / "workspace.yaml"
    workspace = ensure_workspace_config(yaml.safe_load(workspace_file.read_text()), str(workspace_file))
    [location] = workspace["load_from"]
    services = compose_config()["services"]
    command = services[location["grpc_server"]["host"]]["command"]
    assert command[:3] == ["dagster", "api", "grpc"]
    assert str(location["grpc_server"]["port"]) == command[command.index("-p") + 1]
    for name in ("dagster-webserver", "dagster-daemon"):
        served = services[name]["command"]
        assert served[served.index("-w") + 1] == "/opt/riskgraph/app/workspace.yaml"
