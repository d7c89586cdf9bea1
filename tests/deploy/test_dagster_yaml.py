"""dagster.yaml and workspace.yaml, checked with Dagster's own config schemas and against a real server.

Three levels: the instance schema (`dagster_instance_config`, what every Dagster process runs first);
each configurable class rehydrated from the file with the environment compose gives it (the run
coordinator, launcher and S3 compute-log manager, which the schema treats as opaque); and the whole
instance opened with `DagsterInstance.from_config` on a scratch database of the test MariaDB/MySQL
server. Broken copies must fail the level that is meant to catch them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.workspace.config_schema import ensure_workspace_config
from dagster._serdes.config_class import ConfigurableClassData
from dagster_shared.check import CheckError

from tests.deploy import REPO, scratch_database
from tests.deploy.test_compose import environment_of, resolved

DAGSTER_YAML = REPO / "dagster.yaml"
WORKSPACE_YAML = REPO / "workspace.yaml"
DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")
# What docker-compose.yaml sets, with the database pointed elsewhere by the tests that open it.
COMPOSE_LIKE_ENV = {
    "DAGSTER_MYSQL_HOST": "mysql",
    "DAGSTER_MYSQL_PORT": "3306",
    "DAGSTER_MYSQL_DB": "dagster",
    "DAGSTER_MYSQL_USER": "riskgraph",
    "DAGSTER_MYSQL_PASSWORD": "change-me",
    "DAGSTER_COMPUTE_LOG_BUCKET": "riskgraph",
    "RISKGRAPH_S3_ENDPOINT_URL": "http://minio:9000",
    "AWS_REGION": "us-east-1",
}


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


def instance_dir(tmp_path: Path, text: str | None = None) -> str:
    directory = tmp_path / "dagster_home"
    directory.mkdir()
    if text is None:
        shutil.copy(DAGSTER_YAML, directory / "dagster.yaml")
    else:
        (directory / "dagster.yaml").write_text(text)
    return str(directory)


def rehydrate(config: dict[str, Any], key: str):
    entry = config[key]
    return ConfigurableClassData(
        entry["module"], entry["class"], yaml.safe_dump(entry.get("config") or {})
    ).rehydrate()


@pytest.fixture
def compose_env(monkeypatch):
    for name, value in COMPOSE_LIKE_ENV.items():
        monkeypatch.setenv(name, value)


# --- the instance schema ----------------------------------------------------------------------------------


def test_dagster_accepts_the_instance_config(tmp_path, compose_env):
    config, custom_class = dagster_instance_config(instance_dir(tmp_path))
    assert custom_class is None
    assert config["storage"]["mysql"]["mysql_db"]["password"] == {"env": "DAGSTER_MYSQL_PASSWORD"}
    assert (config["run_coordinator"]["module"], config["run_coordinator"]["class"]) == (
        "dagster",
        "QueuedRunCoordinator",
    )
    assert config["compute_logs"]["class"] == "S3ComputeLogManager"
    assert config["telemetry"] == {"enabled": False}


def test_no_secret_is_written_in_the_file():
    mysql_db = yaml.safe_load(DAGSTER_YAML.read_text())["storage"]["mysql"]["mysql_db"]
    assert all(isinstance(value, dict) and set(value) == {"env"} for value in mysql_db.values())


def _edit(edit) -> str:
    config = yaml.safe_load(DAGSTER_YAML.read_text())
    edit(config)
    return yaml.safe_dump(config)


SCHEMA_BREAKS = {
    "telemetry flag not a bool": lambda c: c["telemetry"].update(enabled="nope"),
    "mysql storage without hostname": lambda c: c["storage"]["mysql"]["mysql_db"].pop("hostname"),
    "unknown top-level key": lambda c: c.update(run_cordinator=c["run_coordinator"]),
    "storage next to run_storage": lambda c: c.update(run_storage=c["compute_logs"]),
}


@pytest.mark.parametrize("edit", SCHEMA_BREAKS.values(), ids=SCHEMA_BREAKS.keys())
def test_dagster_rejects_a_broken_instance_config(tmp_path, compose_env, edit):
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(instance_dir(tmp_path, _edit(edit)))


# --- configurable classes, with compose's environment -------------------------------------------------------


def test_the_run_coordinator_queues_and_limits_runs(compose_env):
    coordinator = rehydrate(yaml.safe_load(DAGSTER_YAML.read_text()), "run_coordinator")
    assert type(coordinator).__name__ == "QueuedRunCoordinator"
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 4
    # one fetching run per rate-limited source, keyed by the tag the sensor and partitions set
    from risk_assets.defs.partitions import SOURCE_TAG, source_tags

    limits = {(limit["key"], limit["value"]): limit["limit"] for limit in queue.tag_concurrency_limits}
    assert limits == {(SOURCE_TAG, "sec"): 1, (SOURCE_TAG, "dart"): 1}
    assert source_tags("sec-0000320193") == {SOURCE_TAG: "sec"} and source_tags("dart-00126380") == {
        SOURCE_TAG: "dart"
    }
    assert source_tags("user-acme") == {}


def test_the_compute_log_manager_writes_to_minio(compose_env):
    manager = rehydrate(yaml.safe_load(DAGSTER_YAML.read_text()), "compute_logs")
    assert type(manager).__name__ == "S3ComputeLogManager"
    assert manager._s3_session.meta.endpoint_url == "http://minio:9000"
    assert manager._s3_bucket == "riskgraph"
    assert manager._s3_prefix == "dagster/compute-logs"


CLASS_BREAKS = {
    "misspelt compute-log key": (
        "compute_logs",
        lambda c: c["compute_logs"]["config"].update(bukket="x"),
        DagsterInvalidConfigError,
        "bukket",
    ),
    "coordinator from a missing module": (
        "run_coordinator",
        lambda c: c["run_coordinator"].update(module="nope"),
        CheckError,
        "Couldn't import module nope",
    ),
    "launcher class that does not exist": (
        "run_launcher",
        lambda c: c["run_launcher"].update({"class": "Nope"}),
        CheckError,
        "Couldn't find class Nope",
    ),
}


@pytest.mark.parametrize(("key", "edit", "error", "message"), CLASS_BREAKS.values(), ids=CLASS_BREAKS.keys())
def test_a_broken_class_config_does_not_load(compose_env, key, edit, error, message):
    with pytest.raises(error) as raised:
        rehydrate(yaml.safe_load(_edit(edit)), key)
    assert message in str(raised.value) + "".join(str(e) for e in getattr(raised.value, "errors", []))


def test_an_unset_variable_stops_the_load(compose_env, monkeypatch):
    monkeypatch.delenv("DAGSTER_COMPUTE_LOG_BUCKET")
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_COMPUTE_LOG_BUCKET"):
        rehydrate(yaml.safe_load(DAGSTER_YAML.read_text()), "compute_logs")


def test_compose_gives_every_dagster_process_what_the_file_reads():
    needed = set(env_names(yaml.safe_load(DAGSTER_YAML.read_text())))
    assert needed == set(COMPOSE_LIKE_ENV)
    compose = resolved()
    for name in DAGSTER_SERVICES:
        assert needed <= set(environment_of(compose["services"][name])), name


# --- the whole instance on a real server --------------------------------------------------------------------


@pytest.mark.mysql
def test_the_instance_opens_on_mysql(tmp_path, compose_env, monkeypatch):
    from dagster import DagsterInstance

    with scratch_database() as server:
        monkeypatch.setenv("DAGSTER_MYSQL_HOST", server.host)
        monkeypatch.setenv("DAGSTER_MYSQL_PORT", str(server.port))
        monkeypatch.setenv("DAGSTER_MYSQL_DB", server.database)
        monkeypatch.setenv("DAGSTER_MYSQL_USER", server.user)
        monkeypatch.setenv("DAGSTER_MYSQL_PASSWORD", server.password)
        instance = DagsterInstance.from_config(instance_dir(tmp_path))
        try:
            assert type(instance.run_storage).__name__ == "MySQLRunStorage"
            assert type(instance.event_log_storage).__name__ == "MySQLEventLogStorage"
            assert type(instance.schedule_storage).__name__ == "MySQLScheduleStorage"
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
            assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
            assert instance.run_monitoring_enabled
            # A write and a read through the event-log storage, in the scratch database.
            instance.add_dynamic_partitions("deploy_test_companies", ["0000320193"])
            assert instance.get_dynamic_partitions("deploy_test_companies") == ["0000320193"]
            assert instance.get_runs() == []
        finally:
            instance.dispose()


# --- workspace.yaml ---------------------------------------------------------------------------------------------


def test_the_workspace_points_at_the_code_server():
    workspace = ensure_workspace_config(yaml.safe_load(WORKSPACE_YAML.read_text()), str(WORKSPACE_YAML))
    [location] = workspace["load_from"]
    server = location["grpc_server"]
    command = resolved()["services"]["dagster-code"]["command"]
    assert server["host"] == "dagster-code"
    assert str(server["port"]) == command[command.index("-p") + 1]
    assert server["location_name"] == "risk_assets"


def test_dagster_rejects_a_broken_workspace():
    broken = {"load_from": [{"grpc_server": {"host": "dagster-code", "port": "four thousand"}}]}
    with pytest.raises(DagsterInvalidConfigError):
        ensure_workspace_config(broken, "workspace.yaml")
