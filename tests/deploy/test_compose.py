"""What the compose stack does, read from `docker-compose config` (tests/deploy/__init__.py): which secrets it
refuses to start without, what it publishes, the order it starts in, where data lives, what reaches each
container, and what the image build context leaves out. Every check runs on the one-box stack and, where the
override changes it, on the run-container stack (deploy/compose/docker-run-launcher.yaml).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pathspec
import pytest
import yaml

from tests.deploy import (
    DOCKER_GID,
    KUBERNETES_ONLY,
    REPO,
    SET_BY_THE_IMAGES,
    ComposeRefused,
    compose_config,
    env_example,
    scratch_database,
    settings_read,
)

LOOPBACK = {"127.0.0.1", "::1"}
PLACEHOLDER = "change-me"
#: The variables .env.example ships as the placeholder: the secrets an operator must choose.
SECRETS = sorted(name for name, value in env_example().items() if value == PLACEHOLDER)


def stacks() -> dict[str, dict[str, Any]]:
    return {
        "one box": compose_config(),
        "run containers": compose_config({**env_example(), **DOCKER_GID}, run_containers=True),
    }


def host_addresses(service: dict[str, Any]) -> list[str]:
    """The host address each published port binds ("" = every interface); config prints ip:host:container."""
    addresses = []
    for port in service.get("ports", []):
        parts = str(port).split("/")[0].rsplit(":", 2)
        addresses.append(parts[0].strip("[]") if len(parts) == 3 else "")
    return addresses


def waits_for(stack: dict[str, Any], name: str) -> set[str]:
    """Services `name` starts after, transitively, counting only waits that end in a ready state."""
    found: set[str] = set()
    pending = [name]
    while pending:
        for target, spec in (stack["services"][pending.pop()].get("depends_on") or {}).items():
            if (
                spec["condition"] in {"service_healthy", "service_completed_successfully"}
                and target not in found
            ):
                found.add(target)
                pending.append(target)
    return found


def talks_to(stack: dict[str, Any], name: str) -> set[str]:
    """Services whose name appears as the host of a URL (or DAGSTER_MYSQL_HOST) in this service's environment.
    RISKGRAPH_DAGSTER_URL counts for the api only: every container importing the settings receives it, and only
    the API launches runs through it."""
    hosts = set()
    for key, value in (stack["services"][name].get("environment") or {}).items():
        if key == "RISKGRAPH_DAGSTER_URL" and name != "api":
            continue
        if key == "DAGSTER_MYSQL_HOST":
            hosts.add(value)
        elif "://" in str(value):
            hosts.add(urlsplit(str(value)).hostname)
    return hosts & set(stack["services"])


# --- secrets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("value", ["unset", ""])
def test_compose_refuses_to_start_without_a_secret(secret, value):
    env = env_example()
    if value == "unset":
        del env[secret]
    else:
        env[secret] = value
    with pytest.raises(ComposeRefused, match=secret):
        compose_config(env)


def run_preflight(stack: dict[str, Any]) -> subprocess.CompletedProcess:
    """docker/preflight.sh, as the preflight service runs it: its mounted script, its environment, busybox sh."""
    preflight = stack["services"]["preflight"]
    [script] = [volume.split(":")[0] for volume in preflight["volumes"] if ":/preflight.sh:" in volume]
    return subprocess.run(
        ["sh", script], env=preflight["environment"], capture_output=True, text=True, timeout=30, check=False
    )


def test_the_stack_refuses_the_placeholders_before_any_data_is_stored():
    assert SECRETS, ".env.example marks its secrets change-me"
    for mode, stack in stacks().items():
        refused = run_preflight(stack)
        assert refused.returncode == 1, mode
        assert all(name in refused.stderr for name in SECRETS), refused.stderr
        # every service with a named volume stores data: it must not start before the check passed
        for name, service in stack["services"].items():
            if any(volume.split(":")[0] in stack["volumes"] for volume in service.get("volumes", [])):
                assert service["depends_on"]["preflight"]["condition"] == "service_completed_successfully", (
                    name
                )
    chosen = {**env_example(), **{name: f"s3cret-{n}-value" for n, name in enumerate(SECRETS)}}
    accepted = run_preflight(compose_config(chosen))
    assert accepted.returncode == 0, accepted.stderr


def test_env_example_ships_no_key():
    keys = [name for name in env_example() if name.endswith("_API_KEY")]
    assert keys and all(env_example()[name] == "" for name in keys)


# --- what the host sees -----------------------------------------------------------------------------------


def test_nothing_is_published_beyond_loopback_by_default():
    for mode, stack in stacks().items():
        for name, service in stack["services"].items():
            assert service.get("network_mode") != "host", name
            assert set(host_addresses(service)) <= LOOPBACK, f"{mode}: {name} publishes {service['ports']}"
        # the API and the two UIs are reachable from the host itself
        published = {name for name, service in stack["services"].items() if service.get("ports")}
        assert published == {"api", "dagster-webserver", "mlflow"}, mode


def test_only_the_api_opens_when_the_operator_asks():
    stack = compose_config({**env_example(), "RISKGRAPH_API_BIND": "0.0.0.0"})
    wide = {name for name, service in stack["services"].items() if set(host_addresses(service)) - LOOPBACK}
    assert wide == {"api"}
    assert host_addresses(stack["services"]["api"]) == ["0.0.0.0"]


# --- start order ------------------------------------------------------------------------------------------


def test_every_service_waits_for_what_it_talks_to():
    for mode, stack in stacks().items():
        services = stack["services"]
        workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
        code_servers = {location["grpc_server"]["host"] for location in workspace["load_from"]}
        for name in services:
            needed = talks_to(stack, name) - {name}
            if name in {"dagster-webserver", "dagster-daemon"}:
                needed |= code_servers  # through workspace.yaml
            assert needed <= waits_for(stack, name), (
                f"{mode}: {name} starts before {needed - waits_for(stack, name)}"
            )
        assert "mysql" in talks_to(stack, "api") and "dagster-code" in waits_for(stack, "dagster-daemon")


def test_every_wait_can_end():
    """A wait for `healthy` needs a healthcheck, one for `completed` a one-shot service, and nothing outside a
    profile may wait for a service that exists only under one."""
    for mode, stack in stacks().items():
        services = stack["services"]
        for name, service in services.items():
            for target, spec in (service.get("depends_on") or {}).items():
                other = services[target]
                if spec["condition"] == "service_healthy":
                    assert other.get("healthcheck"), (
                        f"{mode}: {name} waits for {target}, which has no healthcheck"
                    )
                if spec["condition"] == "service_completed_successfully":
                    assert other.get("restart", "no") == "no", f"{mode}: {target} restarts, never completes"
                assert not other.get("profiles") or service.get("profiles"), (
                    f"{name} needs profile-only {target}"
                )
            if (
                service.get("restart", "no") != "no" and name != "cloudflared"
            ):  # distroless: no shell to probe
                assert service.get("healthcheck"), f"{mode}: long-running {name} has no healthcheck"


# --- images, network, data --------------------------------------------------------------------------------


def test_every_image_is_pinned_and_every_build_exists():
    for name, service in compose_config()["services"].items():
        tag = service["image"].rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", f"{name}: {service['image']}"
        if "build" in service:
            assert (Path(service["build"]["context"]) / service["build"]["dockerfile"]).is_file(), name


def test_mysql_is_sized_for_a_market_and_the_operator_can_resize_it():
    def innodb(stack: dict[str, Any]) -> dict[str, str]:
        command = stack["services"]["mysql"]["command"]
        assert command[0] == "mysqld", command  # the image's entrypoint passes options after mysqld on
        return dict(option.removeprefix("--").split("=", 1) for option in command[1:])

    assert innodb(compose_config()) == {"innodb-buffer-pool-size": "2G", "innodb-redo-log-capacity": "1G"}
    resized = compose_config({**env_example(), "MYSQL_INNODB_BUFFER_POOL_SIZE": "8G"})
    assert innodb(resized)["innodb-buffer-pool-size"] == "8G"


def test_every_service_is_on_the_network_and_data_lives_in_named_volumes():
    for mode, stack in stacks().items():
        assert set(stack["networks"]) == {"risknet"}
        for name, service in stack["services"].items():
            assert set(service["networks"]) == {"risknet"}, f"{mode}: {name}"
    services = compose_config()["services"]
    minio_data = services["minio"]["command"][services["minio"]["command"].index("server") + 1]
    for name, data_dir in [("mysql", "/var/lib/mysql"), ("minio", minio_data)]:
        [source] = [v.split(":")[0] for v in services[name]["volumes"] if v.split(":")[1] == data_dir]
        assert source in compose_config()["volumes"], (
            f"{name} keeps {data_dir} in {source}, not a named volume"
        )


# --- what reaches the containers ----------------------------------------------------------------------------


#: The API fetches from no source (least privilege).
SOURCE_KEYS = {"RISKGRAPH_SEC_USER_AGENT", "OPENDART_API_KEY", "FRED_API_KEY", "ECOS_API_KEY"}


def test_every_setting_reaches_the_code_server_and_the_api():
    """A setting compose does not pass falls back to the embedded default (SQLite, a local folder) silently."""
    assert {
        "RISKGRAPH_WAREHOUSE_URL",
        "OPENDART_API_KEY",
        "RISKGRAPH_API_BODY_TIMEOUT_SECONDS",
    } <= settings_read()
    services = compose_config()["services"]
    missing = (
        settings_read() - SET_BY_THE_IMAGES - KUBERNETES_ONLY - set(services["dagster-code"]["environment"])
    )
    assert missing == set(), f"dagster-code does not receive {sorted(missing)}"
    missing = (
        settings_read()
        - SET_BY_THE_IMAGES
        - KUBERNETES_ONLY
        - SOURCE_KEYS
        - set(services["api"]["environment"])
    )
    assert missing == set(), f"api does not receive {sorted(missing)}"
    assert not SOURCE_KEYS & set(services["api"]["environment"])


def test_the_api_and_mlflow_reach_the_same_stores_as_the_code():
    services = compose_config()["services"]
    code, api, mlflow = (services[name]["environment"] for name in ("dagster-code", "api", "mlflow"))
    for key in ("RISKGRAPH_WAREHOUSE_URL", "RISKGRAPH_OBJECT_STORE_URL", "MLFLOW_TRACKING_URI"):
        assert api[key] == code[key], key
    destination = services["mlflow"]["command"][
        services["mlflow"]["command"].index("--artifacts-destination") + 1
    ]
    assert destination == code["RISKGRAPH_MLFLOW_ARTIFACT_ROOT"]
    assert mlflow["MLFLOW_S3_ENDPOINT_URL"] == code["RISKGRAPH_S3_ENDPOINT_URL"]
    webserver_port = services["dagster-webserver"]["command"][
        services["dagster-webserver"]["command"].index("-p") + 1
    ]
    assert urlsplit(api["RISKGRAPH_DAGSTER_URL"]).port == int(webserver_port)


# --- the image build context ---------------------------------------------------------------------------------


def dockerignored() -> pathspec.PathSpec:
    """.dockerignore with Docker's rule that a pattern is anchored at the context root: as gitignore patterns,
    each gets a leading "/" unless it starts with "**" (pathspec implements gitignore, not Docker)."""
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated, pattern = line.startswith("!"), line.lstrip("!")
            anchored = pattern if pattern.startswith(("/", "**")) else f"/{pattern}"
            patterns.append(("!" if negated else "") + anchored)
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def test_the_build_context_keeps_secrets_out_and_the_product_in():
    ignored = dockerignored()
    for secret in [
        ".env",
        ".git/config",
        ".venv/bin/python",
        "cloudflared/credentials.json",
        ".riskgraph/warehouse.db",
    ]:
        assert ignored.match_file(secret), secret
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    needed = [path for path in tracked if path.startswith(("risk_assets/", "api/", "db/migrations/"))]
    needed += ["pyproject.toml", "requirements.lock", "README.md", "dagster.yaml", "workspace.yaml"]
    assert [path for path in needed if ignored.match_file(path)] == []
    # anchored: a nested directory named like an ignored root one stays in
    assert not ignored.match_file("risk_assets/data/tests/x.json") and ignored.match_file("tests/x.py")


# --- db/init ------------------------------------------------------------------------------------------------


@pytest.mark.mysql
def test_init_script_runs_on_a_real_server():
    """00_databases.sql, with its names prefixed so it cannot touch real databases, as the image runs it."""
    import pymysql

    sql = (REPO / "db" / "init" / "00_databases.sql").read_text()
    mysql_env = compose_config()["services"]["mysql"]["environment"]
    with scratch_database() as server:
        prefix = server.database
        user = f"{prefix}_user"
        renamed = sql.replace(f"'{mysql_env['MYSQL_USER']}'@'%'", f"'{user}'@'%'")
        renamed = re.sub(r"\b(riskgraph|dagster|mlflow)\b(?=[.\s;])", lambda m: f"{prefix}_{m[1]}", renamed)
        statements = [s.strip() for s in re.sub(r"(?m)^\s*--.*$", "", renamed).split(";") if s.strip()]
        connection = pymysql.connect(
            host=server.host, port=server.port, user=server.user, password=server.password, autocommit=True
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'scratch'")  # what MYSQL_USER does
                for statement in statements:
                    cursor.execute(statement)
                cursor.execute(f"SHOW DATABASES LIKE '{prefix}\\_%'")
                databases = {row[0] for row in cursor.fetchall()}
                cursor.execute(f"SHOW GRANTS FOR '{user}'@'%'")
                grants = " ".join(row[0] for row in cursor.fetchall())
        finally:
            with connection.cursor() as cursor:
                for name in ("riskgraph", "dagster", "mlflow"):
                    cursor.execute(f"DROP DATABASE IF EXISTS `{prefix}_{name}`")
                cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            connection.close()
    # the three databases the services name: the warehouse, Dagster's instance, MLflow's store
    services = compose_config()["services"]
    mlflow_store = urlsplit(services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"]).path.strip("/")
    names = {
        mysql_env["MYSQL_DATABASE"],
        services["dagster-code"]["environment"]["DAGSTER_MYSQL_DB"],
        mlflow_store,
    }
    assert databases == {f"{prefix}_{name}" for name in names}
    for name in names:
        assert f"ON `{prefix}_{name}`.*" in grants
