"""The run-container mode (deploy/compose/docker-run-launcher.yaml): Dagster's DockerRunLauncher, configured by
deploy/compose/dagster.yaml and driven by the environment compose gives the daemon, launches a run against a
stand-in Docker Engine API (a local HTTP server answering the four calls the launcher makes), and the test reads
the container it asked for: image, environment, network, command.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.launcher.base import LaunchRunContext
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.test_utils import create_run_for_test, instance_for_test

from tests.deploy import DOCKER_GID, REPO, compose_config, env_example
from tests.support.stub_server import StubResponse, StubServer

ONE_BOX_INSTANCE = REPO / "dagster.yaml"
RUN_CONTAINERS_INSTANCE = REPO / "deploy" / "compose" / "dagster.yaml"
DOCKER_SOCKET = "/var/run/docker.sock"
ENGINE_API = "/v1.44"


@pytest.fixture
def stack():
    return compose_config({**env_example(), **DOCKER_GID}, run_containers=True)


def test_the_two_instances_differ_only_in_the_launcher():
    one_box = yaml.safe_load(ONE_BOX_INSTANCE.read_text())
    run_containers = yaml.safe_load(RUN_CONTAINERS_INSTANCE.read_text())
    assert one_box.pop("run_launcher")["class"] == "DefaultRunLauncher"
    assert run_containers.pop("run_launcher")["class"] == "DockerRunLauncher"
    assert one_box == run_containers


def test_the_webserver_and_the_daemon_open_the_run_container_instance(stack):
    dockerfile = (REPO / "docker" / "dagster.Dockerfile").read_text()
    dagster_home = re.search(r"DAGSTER_HOME=(\S+)", dockerfile)[1]
    for name in ("dagster-webserver", "dagster-daemon"):
        service = stack["services"][name]
        mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"]}
        assert mounts[f"{dagster_home}/dagster.yaml"] == str(RUN_CONTAINERS_INSTANCE), name
        assert mounts[DOCKER_SOCKET] == DOCKER_SOCKET, name
        assert service["group_add"] == [DOCKER_GID["DOCKER_GID"]], name
    # nothing else, and nothing in the one-box stack, holds the Docker socket
    holders = {
        n for n, s in stack["services"].items() if any(DOCKER_SOCKET in v for v in s.get("volumes", []))
    }
    assert holders == {"dagster-webserver", "dagster-daemon"}
    assert not any(DOCKER_SOCKET in str(s.get("volumes")) for s in compose_config()["services"].values())


@pytest.mark.parametrize("image", [None, "registry.example.com/riskgraph-dagster:2.0.1"])
def test_runs_start_from_the_code_servers_image(image):
    env = {**env_example(), **DOCKER_GID, **({"RISKGRAPH_DAGSTER_IMAGE": image} if image else {})}
    services = compose_config(env, run_containers=True)["services"]
    code = services["dagster-code"]
    assert code["environment"]["DAGSTER_CURRENT_IMAGE"] == code["image"] == (image or code["image"])
    assert services["dagster-webserver"]["image"] == services["dagster-daemon"]["image"] == code["image"]


def test_a_run_starts_in_a_container_of_the_code_image_with_the_code_servers_environment(stack, monkeypatch):
    code, daemon = stack["services"]["dagster-code"], stack["services"]["dagster-daemon"]
    for name, value in daemon["environment"].items():  # the launcher reads the names from its own process
        monkeypatch.setenv(name, value)
    launcher = yaml.safe_load(RUN_CONTAINERS_INSTANCE.read_text())["run_launcher"]
    with StubServer() as engine:
        engine.route(
            "GET", "/version", StubResponse.json({"ApiVersion": ENGINE_API[2:], "Version": "27.0.0"})
        )
        engine.route(
            "POST", f"{ENGINE_API}/containers/create", StubResponse.json({"Id": "c0ffee", "Warnings": []})
        )
        engine.route("GET", f"{ENGINE_API}/containers/c0ffee/json", StubResponse.json({"Id": "c0ffee"}))
        engine.route("POST", f"{ENGINE_API}/containers/c0ffee/start", StubResponse(status=204))
        monkeypatch.setenv("DOCKER_HOST", engine.url.replace("http://", "tcp://"))
        with instance_for_test(overrides={"run_launcher": launcher}) as instance:
            # what dagster-code reports for its jobs: its module and DAGSTER_CURRENT_IMAGE
            repository = RepositoryPythonOrigin(
                "/opt/venv/bin/python",  # the image's interpreter (docker/dagster.Dockerfile VIRTUAL_ENV)
                ModuleCodePointer("risk_assets.definitions", "defs", None),
                container_image=code["environment"]["DAGSTER_CURRENT_IMAGE"],
            )
            run = create_run_for_test(
                instance,
                job_name="ingest_filings",
                job_code_origin=JobPythonOrigin("ingest_filings", repository),
            )
            instance.run_launcher.launch_run(LaunchRunContext(run, workspace=None))
            tags = instance.get_run_by_id(run.run_id).tags
        [create] = engine.requests_to(f"{ENGINE_API}/containers/create", "POST")
        started = engine.requests_to(f"{ENGINE_API}/containers/c0ffee/start", "POST")
    container = json.loads(create.body)
    assert container["Image"] == code["image"]
    assert container["HostConfig"]["NetworkMode"] == stack["networks"]["risknet"]["name"]
    assert container["Cmd"][:5] == ["/opt/venv/bin/python", "-m", "dagster", "api", "execute_run"]
    received = dict(item.split("=", 1) for item in container["Env"])
    expected = {key: value for key, value in code["environment"].items() if key != "DAGSTER_CURRENT_IMAGE"}
    assert {key: received.get(key) for key in expected} == expected
    assert started and tags["docker/container_id"] == "c0ffee"
