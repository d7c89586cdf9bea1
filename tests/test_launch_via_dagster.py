"""`riskgraph serve --materialize` (what `make run` does) runs the main sequence through `dagster dev`'s GraphQL
API, so its runs carry their code location: Dagster's Overview and job pages list only such runs, and runs
executed in the CLI's own process (`riskgraph materialize`) have none. About two minutes on two cores."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

from risk_assets.commands._via_dagster import DagsterNotReady, run_main_sequence_via, wait_until_loaded
from risk_assets.commands.graph import LOCATION_NAME, PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from tests.api.test_launch import DagsterDev
from tests.conftest import use_home
from tests.support.servers import BIN, unavailable

_RUNS = (
    "query Runs($job: String!) { runsOrError(filter: {pipelineName: $job}) { ... on Runs { results { runId "
    "status repositoryOrigin { repositoryLocationName } tags { key value } } } } }"
)


@pytest.mark.integration
def test_runs_through_the_webserver_carry_their_code_location(graph_home, tmp_path, monkeypatch):
    if not (BIN / "dagster").exists():
        unavailable(f"no dagster executable beside {sys.executable}")
    home = tmp_path / "home"
    shutil.copytree(graph_home, home)
    use_home(monkeypatch, home)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    with DagsterDev(tmp_path / "dagster", home) as dagster:
        before = dagster.graphql(_RUNS, {"job": "rescore_all"})["data"]["runsOrError"]["results"]
        # the session's runs were executed in process: no origin, so the Overview cannot place them
        assert before and all(run["repositoryOrigin"] is None for run in before)

        out = io.StringIO()
        wait_until_loaded(dagster.base_url, LOCATION_NAME, out=out)
        assert run_main_sequence_via(
            dagster.base_url, LOCATION_NAME, ["ingest_filings", "rescore_all"], out=out
        ), out.getvalue() + dagster.log_tail()

        printed = out.getvalue()
        assert "ingest_filings ok (run " in printed and "rescore_all ok (run " in printed
        assert "rescore_all: risk_scores success" in printed  # each step as it finishes
        for job in ("ingest_filings", "rescore_all"):
            runs = dagster.graphql(_RUNS, {"job": job})["data"]["runsOrError"]["results"]
            launched = [run for run in runs if run["repositoryOrigin"] is not None]
            assert len(launched) == 1 and launched[0]["status"] == "SUCCESS"
            assert launched[0]["repositoryOrigin"]["repositoryLocationName"] == LOCATION_NAME
            assert launched[0]["runId"] in printed
        ingest = next(
            r
            for r in dagster.graphql(_RUNS, {"job": "ingest_filings"})["data"]["runsOrError"]["results"]
            if r["repositoryOrigin"] is not None
        )
        tags = {tag["key"]: tag["value"] for tag in ingest["tags"]}
        assert {PARTITION_RANGE_START_TAG, PARTITION_RANGE_END_TAG} <= set(tags)  # every company in one run


def test_an_unreachable_webserver_is_a_clear_error(tmp_path: Path):
    out = io.StringIO()
    with pytest.raises(DagsterNotReady, match="did not load 'risk_assets' within 2 s"):
        wait_until_loaded("http://127.0.0.1:9", LOCATION_NAME, timeout=2, out=out)
    assert "waiting for Dagster at http://127.0.0.1:9" in out.getvalue()
    with pytest.raises(DagsterNotReady, match="exited while starting"):
        wait_until_loaded("http://127.0.0.1:9", LOCATION_NAME, alive=lambda: False, out=out)


def test_materialize_through_an_unreachable_webserver_fails_plainly(capsys):
    from risk_assets.cli import main

    assert main(["materialize", "--dagster-url", "http://127.0.0.1:9/"]) == 1
    printed = capsys.readouterr().out
    assert (
        "materialize FAILED: Dagster at http://127.0.0.1:9 did not load 'risk_assets' within 30 s" in printed
    )
