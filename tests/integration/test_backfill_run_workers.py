"""A backfill of 1,000 company partitions spread over concurrent run workers by Dagster's daemon, on the
deployment's MySQL-backed instance, writes exactly what one single-process run writes.

The companies are synthetic SEC filers made from the bundled real ones (tests/support/synthetic_filers.py), served
by the bundled filings source from a folder (RISKGRAPH_BUNDLED_DATA). The same 1,000 partitions are ingested
twice, each into its own scratch MariaDB warehouse:

- once as `riskgraph materialize` does it: ONE in-process run of ingest_filings over the whole range;
- once through `dagster dev` (webserver + daemon) on a scratch MariaDB Dagster database, with the deployment
  dagster.yaml's storage, queue (max_concurrent_runs, tag limits), fetch pool and run launcher: an asset
  backfill of ingest_filings' assets over every partition (GraphQL `launchPartitionBackfill`, what the UI's
  "Materialize all" sends), cut into runs by the assets' backfill policy, each run its own worker process.

Then from Dagster's run storage: the backfill's runs all succeeded, at least two ran at the same time and never
more than the coordinator allows, while no two of their fetch steps (raw_filings, the fetch pool's one slot) ever
did; each run covered at most the policy's partitions, and every partition of both assets was materialised exactly
once; and the two warehouses hold the same rows. 9 minutes on a 2-core machine
shared with other work (load average 8-10), most of it CPU: the 1,000 companies are parsed twice.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml
from dagster._core.events import DagsterEventType

from risk_assets.commands._via_dagster import run_main_sequence_via
from risk_assets.commands.graph import LOCATION_NAME
from risk_assets.defs.partitions import COMPANY_BACKFILL_POLICY
from risk_assets.storage.warehouse import Warehouse
from tests.api.test_launch import DagsterDev
from tests.conftest import use_home
from tests.integration.conftest import REPO
from tests.support.servers import BIN, MySqlServer, scratch_database, unavailable
from tests.support.synthetic_filers import write_synthetic_filers

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

#: How many company partitions the backfill covers: the issue's 1,000 (RISKGRAPH_TEST_BACKFILL_COMPANIES: fewer, to
#: try a change quickly; the test's figures scale with it).
COMPANIES = int(os.environ.get("RISKGRAPH_TEST_BACKFILL_COMPANIES") or 1000)

#: Columns that say when a row was written, not what it says: the only ones left out of the comparison.
RUN_DEPENDENT_COLUMNS = {
    "companies": ["updated_at"],
    "raw_filings": ["fetched_at"],
    "statements": [],
    "rejected_records": ["detected_at"],
}
PRIMARY_KEYS = {
    "companies": ["company_id"],
    "raw_filings": ["company_id", "source", "kind", "sha256"],
    "statements": ["company_id", "period_end", "accession"],
    "rejected_records": ["stage", "company_id", "record_key"],
}
INGESTED_ASSETS = ("raw_filings", "statements")
REFERENCE_JOBS = ("refresh_universe", "ingest_filings")

_LAUNCH_BACKFILL = (
    "mutation Launch($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) { "
    "__typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } "
    "... on UnauthorizedError { message } ... on InvalidSubsetError { message } } }"
)
_BACKFILL = (
    "query Backfill($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename "
    "... on PartitionBackfill { status numPartitions error { message } } ... on PythonError { message } } }"
)
_BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def _deployment_instance_home(home: Path, database: MySqlServer, monkeypatch: pytest.MonkeyPatch) -> int:
    """DAGSTER_HOME with the deployment dagster.yaml on ``database`` (step logs stay local: no bucket here);
    its queue's max_concurrent_runs."""
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config.pop("compute_logs")
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    for name, value in {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_MYSQL_HOST": database.host,
        "DAGSTER_MYSQL_PORT": str(database.port),
        "DAGSTER_MYSQL_DB": database.database,
        "DAGSTER_MYSQL_USER": database.user,
        "DAGSTER_MYSQL_PASSWORD": database.password,
    }.items():
        monkeypatch.setenv(name, value)
    return config["concurrency"]["runs"]["max_concurrent_runs"]


def _point_at(monkeypatch: pytest.MonkeyPatch, home: Path, warehouse: MySqlServer, filers: Path) -> None:
    use_home(monkeypatch, home)
    monkeypatch.setenv("RISKGRAPH_WAREHOUSE_URL", warehouse.url())
    monkeypatch.setenv("RISKGRAPH_OBJECT_STORE_URL", (home / "objects").as_uri())
    monkeypatch.setenv("RISKGRAPH_BUNDLED_DATA", str(filers))
    monkeypatch.setenv("RISKGRAPH_DATA_SOURCE", "bundled")


def _wait_for_backfill(dagster: DagsterDev, backfill_id: str, instance: dg.DagsterInstance) -> str:
    """Poll the backfill until it is done, printing its runs' statuses every 10 s."""
    started = last = time.monotonic()
    while time.monotonic() - started < 900:
        found = dagster.graphql(_BACKFILL, {"id": backfill_id})["data"]["partitionBackfillOrError"]
        assert found["__typename"] == "PartitionBackfill", found
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        if found["status"] in _BACKFILL_DONE and all(run.is_finished for run in runs):
            return found["status"]
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            counts = Counter(run.status.value.lower() for run in runs)
            print(
                f"  backfill {found['status'].lower()} after {last - started:.0f} s: {dict(sorted(counts.items()))}",
                flush=True,
            )
        time.sleep(2)
    raise AssertionError(f"backfill {backfill_id} did not finish within 15 min:\n{dagster.log_tail()}")


def _fetch_interval(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """(start, end) of the run's raw_filings step, from its step events."""
    [start] = [
        e.timestamp
        for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
        if e.step_key == "raw_filings"
    ]
    [end] = [
        e.timestamp
        for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_SUCCESS)
        if e.step_key == "raw_filings"
    ]
    return start, end


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of the (start, end) intervals that overlap at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in edges:  # an end sorts before a start at the same instant: touching is not overlapping
        running += step
        most = max(most, running)
    return most


def _table(url: str, name: str) -> pd.DataFrame:
    warehouse = Warehouse(url)
    try:
        frame = warehouse.read(name).drop(columns=RUN_DEPENDENT_COLUMNS[name])
    finally:
        warehouse.dispose()
    return frame.sort_values(PRIMARY_KEYS[name]).reset_index(drop=True)


def test_a_backfill_over_concurrent_run_workers_writes_what_one_run_writes(tmp_path, monkeypatch):
    if not (BIN / "dagster").exists():
        unavailable(f"no dagster executable beside {sys.executable}")
    began = time.monotonic()
    filers = tmp_path / "filers"
    company_ids = write_synthetic_filers(filers, COMPANIES)
    print(f"{COMPANIES} synthetic filers written in {time.monotonic() - began:.0f} s", flush=True)

    with (
        scratch_database("riskgraph_test_dagster_") as dagster_database,
        scratch_database("riskgraph_test_backfill_") as backfilled,
        scratch_database("riskgraph_test_one_run_") as one_run,
    ):
        # The reference, `riskgraph materialize`: ONE in-process run over every company, in a process of its own
        # that works while dagster dev starts and its daemon waits between ticks.
        reference_home = tmp_path / "one-run"
        reference_home.mkdir()
        reference_log = reference_home / "materialize.log"
        reference_env = {
            **os.environ,
            "RISKGRAPH_HOME": str(reference_home),
            "DAGSTER_HOME": str(reference_home / "dagster"),
            "RISKGRAPH_WAREHOUSE_URL": one_run.url(),
            "RISKGRAPH_OBJECT_STORE_URL": (reference_home / "objects").as_uri(),
            "RISKGRAPH_BUNDLED_DATA": str(filers),
            "RISKGRAPH_DATA_SOURCE": "bundled",
        }
        with open(reference_log, "wb") as log:
            reference = subprocess.Popen(
                [str(BIN / "riskgraph"), "materialize", "--jobs", *REFERENCE_JOBS, "--top", "1"],
                env=reference_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        reference_started = time.monotonic()
        try:
            _backfill_and_compare(tmp_path, filers, company_ids, dagster_database, backfilled, monkeypatch)
            reference.wait(timeout=600)
            printed = reference_log.read_text(errors="replace")
            assert reference.returncode == 0, printed[-3000:]
            assert all(f"{job} ok (run " in printed for job in REFERENCE_JOBS), printed[-3000:]
            print(
                f"riskgraph materialize (one run): {time.monotonic() - reference_started:.0f} s", flush=True
            )
            _assert_same_rows(one_run, backfilled, company_ids)
        finally:
            if reference.poll() is None:
                reference.kill()
                reference.wait()
    print(f"whole test: {time.monotonic() - began:.0f} s", flush=True)


def _backfill_and_compare(
    tmp_path: Path,
    filers: Path,
    company_ids: list[str],
    dagster_database: MySqlServer,
    backfilled: MySqlServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Backfill every partition through dagster dev and check its runs in Dagster's run storage."""
    # The backfill: dagster dev on the deployment instance; its run workers inherit this environment.
    home = tmp_path / "backfill"
    _point_at(monkeypatch, home, backfilled, filers)
    max_concurrent_runs = _deployment_instance_home(home, dagster_database, monkeypatch)
    dagster = DagsterDev(tmp_path / "dagster-dev", home)
    dagster.start(timeout=300)
    try:
        assert run_main_sequence_via(dagster.base_url, LOCATION_NAME, ["refresh_universe"], out=sys.stdout)
        assets = [{"path": [name]} for name in INGESTED_ASSETS]
        clock = time.monotonic()
        launched = dagster.graphql(
            _LAUNCH_BACKFILL,
            {
                "params": {
                    "assetSelection": assets,
                    "partitionNames": company_ids,
                    "title": "test backfill",
                }
            },
        )["data"]["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]
        print(f"backfill {backfill_id} of {COMPANIES} partitions launched", flush=True)
        with dg.DagsterInstance.get() as instance:
            status = _wait_for_backfill(dagster, backfill_id, instance)
            backfill_seconds = time.monotonic() - clock
            records = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            fetches = [_fetch_interval(instance, record.dagster_run.run_id) for record in records]
            materialised = {
                name: [
                    (record.partition_key, record.run_id)
                    for record in instance.fetch_materializations(
                        dg.AssetKey(name), limit=COMPANIES * 2
                    ).records
                ]
                for name in INGESTED_ASSETS
            }
    finally:
        dagster.stop()

    # The runs, from Dagster's run storage on MariaDB.
    assert status == "COMPLETED_SUCCESS", dagster.log_tail()
    runs = [record.dagster_run for record in records]
    assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * len(runs)
    per_run = COMPANY_BACKFILL_POLICY.max_partitions_per_run
    assert len(runs) == math.ceil(COMPANIES / per_run)
    intervals = [(record.start_time, record.end_time) for record in records]
    assert all(start and end for start, end in intervals)
    at_once = _most_at_once(intervals)
    assert 2 <= at_once <= max_concurrent_runs  # concurrent workers, within the coordinator's limit
    assert _most_at_once(fetches) == 1  # but one fetch at a time: the fetch pool's one slot
    backfill_runs = {run.run_id for run in runs}
    for name in INGESTED_ASSETS:
        mine = [key for key, run_id in materialised[name] if run_id in backfill_runs]
        assert Counter(mine) == Counter(company_ids), f"{name}: not every partition exactly once"
        by_run = Counter(run_id for _key, run_id in materialised[name] if run_id in backfill_runs)
        assert max(by_run.values()) <= per_run and len(by_run) == len(runs)
    print(
        f"backfill: {len(runs)} runs of <= {per_run} partitions, at most {at_once} at once "
        f"(limit {max_concurrent_runs}), {backfill_seconds:.0f} s from launch to done; their fetch steps one at a "
        f"time, {sum(end - start for start, end in fetches):.0f} s of fetching in all",
        flush=True,
    )


def _assert_same_rows(one_run: MySqlServer, backfilled: MySqlServer, company_ids: list[str]) -> None:
    """The two warehouses hold the same rows, but for the columns that say when a row was written."""
    for name in PRIMARY_KEYS:
        expected, got = _table(one_run.url(), name), _table(backfilled.url(), name)
        pd.testing.assert_frame_equal(got, expected, obj=name)
    statements = _table(backfilled.url(), "statements")
    assert set(statements["company_id"]) == set(company_ids)  # every company has statements
    assert len(statements) > 10 * COMPANIES
