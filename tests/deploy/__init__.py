"""Tests of the deployment files (compose, the Dagster instances, the Helm values, the tunnel), run without a
Docker engine, a cluster or a cloudflared binary.

The compose file is read the way Compose reads it: Debian's docker-compose 1.29 (`docker-compose config`, no
engine needed) interpolates .env-style variables, merges the override files and validates against the compose
specification; the tests assert on what it prints. CI installs it (`.ci/run`); without it these tests skip on a
developer's machine and fail in CI (`unavailable`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

# Moved to tests/support/servers.py (shared with the storage and integration tests); importable here as before.
from tests.support.servers import MySqlServer, scratch_database, unavailable

__all__ = [
    "REPO",
    "SET_BY_THE_IMAGES",
    "ComposeRefused",
    "MySqlServer",
    "compose_config",
    "env_example",
    "instance_concurrency",
    "scratch_database",
    "settings_read",
    "KUBERNETES_ONLY",
    "unavailable",
]

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
RUN_CONTAINERS_FILE = REPO / "deploy" / "compose" / "docker-run-launcher.yaml"
ENV_EXAMPLE = REPO / ".env.example"
#: What an operator sets for the run-container mode (.env.example leaves it empty on purpose).
DOCKER_GID = {"DOCKER_GID": "999"}


class ComposeRefused(Exception):
    """docker-compose exited non-zero; the message is its stderr."""


def env_example() -> dict[str, str]:
    """.env.example as Compose's .env parser sees it (python-dotenv follows the same KEY=VALUE rules)."""
    return {key: value or "" for key, value in dotenv_values(ENV_EXAMPLE).items()}


def compose_config(env: Mapping[str, str] | None = None, *, run_containers: bool = False) -> dict[str, Any]:
    """`docker-compose config` of the stack with `env` as its .env file (default: .env.example), with the
    run-container override (deploy/compose/docker-run-launcher.yaml) when asked."""
    return _cached_config(tuple(sorted((env_example() if env is None else env).items())), run_containers)


@functools.lru_cache(maxsize=64)
def _cached_config(env: tuple[tuple[str, str], ...], run_containers: bool) -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable(
            "docker-compose is not installed (apt-get install -y --no-install-recommends docker-compose)"
        )
    files = ["-f", str(COMPOSE_FILE)] + (["-f", str(RUN_CONTAINERS_FILE)] if run_containers else [])
    with tempfile.NamedTemporaryFile("w", suffix=".env") as env_file:
        env_file.write("".join(f"{key}={value}\n" for key, value in env))
        env_file.flush()
        result = subprocess.run(
            [binary, "--project-directory", str(REPO), "--env-file", env_file.name, *files, "config"],
            # Only what the binary itself needs: the caller's variables would win over the .env file.
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        raise ComposeRefused(result.stderr)
    return yaml.safe_load(result.stdout)


def instance_concurrency(config: Mapping[str, Any]):
    """The run queue and pool settings of an instance whose dagster.yaml holds ``config`` (its run coordinator and
    `concurrency` sections), as Dagster derives them (DagsterInstance.get_concurrency_config: the coordinator's
    queue, overridden by `concurrency`), after Dagster has loaded and validated them the way it loads an instance
    (schema, and the conflict between queue limits in both places). A ConcurrencyConfig."""
    from dagster._core.instance.config import ConcurrencyConfig, dagster_instance_config
    from dagster._serdes.config_class import ConfigurableClassData

    sections = {key: config[key] for key in ("run_coordinator", "concurrency") if key in config}
    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text(yaml.safe_dump(sections))
        loaded, _custom_class = dagster_instance_config(home)
    coordinator = loaded["run_coordinator"]
    queue = (
        ConfigurableClassData(
            coordinator["module"], coordinator["class"], yaml.safe_dump(coordinator.get("config") or {})
        )
        .rehydrate()
        .get_run_queue_config()
    )
    return ConcurrencyConfig.from_concurrency_settings(loaded.get("concurrency") or {}, queue)


def settings_read() -> set[str]:
    """The variables risk_assets/settings.py reads: the alias of each field of its pydantic-settings model."""
    from risk_assets.settings import Settings

    return {name for field in Settings.model_fields.values() for name in field.validation_alias.choices}


#: Settings of the Kubernetes deployment alone (compose runs steps in the run's process).
KUBERNETES_ONLY = {"RISKGRAPH_TRAINING_STEP_PODS"}

SET_BY_THE_IMAGES = {
    "DAGSTER_HOME",
    "RISKGRAPH_GIT_COMMIT",
    "RISKGRAPH_API_HEADER_TIMEOUT_SECONDS",
    "RISKGRAPH_API_BODY_TIMEOUT_SECONDS",
    "RISKGRAPH_API_TIMEOUT_KEEP_ALIVE_SECONDS",
    "RISKGRAPH_API_LIMIT_CONCURRENCY",
}
