"""Launching through Dagster for real: `dagster dev` (webserver + daemon, so the queued run coordinator runs the
run) on the project, with DAGSTER_HOME and RISKGRAPH_HOME in a temporary copy of the materialised home (its
instance already has the company partitions registered). The API launches a one-company refresh through
Dagster's GraphQL client and follows it to SUCCESS. About 100 s on two cores: most of it is `dagster dev`
starting and the run's processes importing the code."""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.dagster_runs import LOCATION_NAME
from api.main import create_app
from risk_assets.storage.api_keys import audit_rows
from tests.api.conftest import bearer, make_keys, settings_for
from tests.support.servers import BIN, ServerProcess, unavailable

REPO = Path(__file__).resolve().parents[2]

_LOCATIONS = (
    "{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus "
    "locationOrLoadError { __typename } } } } }"
)


class DagsterDev(ServerProcess):
    """`dagster dev` on a free port with its own DAGSTER_HOME; ready once the code location has loaded."""

    name = "dagster-dev"

    def __init__(self, workdir: Path, riskgraph_home: Path) -> None:
        super().__init__(workdir)
        self.riskgraph_home = riskgraph_home
        self.dagster_home = riskgraph_home / "dagster"
        self.workspace = workdir / "workspace.yaml"
        self.workspace.write_text(
            "load_from:\n  - python_module:\n      module_name: risk_assets.definitions\n"
            f"      location_name: {LOCATION_NAME}\n      working_directory: {REPO}\n"
        )

    def command(self) -> list[str]:
        return [
            str(BIN / "dagster"),
            "dev",
            "-w",
            str(self.workspace),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]

    def environment(self) -> dict[str, str]:
        return {
            "DAGSTER_HOME": str(self.dagster_home),
            "RISKGRAPH_HOME": str(self.riskgraph_home),
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def ready(self) -> bool:
        try:
            entries = self.graphql(_LOCATIONS)["data"]["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, OSError, KeyError, TypeError, ValueError):
            return False
        loaded = [e for e in entries if e["name"] == LOCATION_NAME and e["loadStatus"] == "LOADED"]
        if loaded and loaded[0]["locationOrLoadError"]["__typename"] != "RepositoryLocation":
            raise RuntimeError(f"the code location failed to load:\n{self.log_tail()}")
        return bool(loaded)


def wait_for_run(http: TestClient, run_id: str, headers: dict, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = http.get(f"/v1/runs/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        if response.json()["finished"]:
            return response.json()["status"]
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish within {timeout:.0f}s")


@pytest.mark.integration
def test_launch_through_dagster_dev_and_see_the_run_finish(graph_home, tmp_path):
    if not (BIN / "dagster").exists():
        unavailable(f"no dagster executable beside {sys.executable}")
    home = tmp_path / "home"
    shutil.copytree(graph_home, home)
    keys = make_keys(home)
    admin = bearer(keys["admin"])
    with DagsterDev(tmp_path / "dagster", home) as dagster:
        settings = settings_for(home, dagster_graphql_url=dagster.base_url)
        with TestClient(create_app(settings, preload_model=False)) as http:
            launched = http.post(
                "/v1/materializations",
                json={"job": "ingest_filings", "partition_key": "sec-0000320193"},
                headers=admin,
            )
            assert launched.status_code == 202, launched.text
            run_id = launched.json()["run_id"]
            assert wait_for_run(http, run_id, admin) == "SUCCESS", dagster.log_tail()

            run = dagster.graphql(
                "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { jobName tags { key "
                "value } } } }",
                {"id": run_id},
            )["data"]["runOrError"]
            assert run["jobName"] == "ingest_filings"
            assert {"key": "dagster/partition", "value": "sec-0000320193"} in run["tags"]
            assert {"key": "riskgraph/launched_by", "value": "admin"} in run["tags"]
            assert http.get("/v1/runs/00000000-0000-0000-0000-000000000000", headers=admin).status_code == 404
            (audit,) = audit_rows(http.app.state.warehouse, action="launch_run")
            assert (audit["actor"], audit["target"], audit["detail"]) == (
                "admin",
                "ingest_filings[sec-0000320193]",
                f"run_id={run_id}",
            )
    # with the webserver gone, a launch is a 503 problem, not a hang or a 500
    with TestClient(create_app(settings, preload_model=False)) as http:
        down = http.post("/v1/materializations", json={"job": "rescore_all"}, headers=admin)
    assert down.status_code == 503 and down.headers["content-type"] == "application/problem+json"
