"""Two real ingest_filings runs on the deployment's instance (dagster.yaml on MariaDB): while one run's raw_filings
step fetches, the other run's raw_filings step waits for the fetch pool's one slot, and fetches only after the first
has finished; the pool is shared by both sources (an OpenDART fetch holds back an SEC one).

No clock decides anything here. The first run is held inside its fetch by the data itself: one of the recorded
OpenDART documents the bundled source reads is a named pipe (FIFO), so reading it blocks until the test writes the
document's bytes into it. While it is held, the test waits (with a generous deadline, only against a hang) until
Dagster reports the second run's fetch as blocked by the pool, checks what the instance and the warehouse hold at
that moment, then writes the bytes and lets both runs finish.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from risk_assets.commands.graph import JobOutcome, run_job
from risk_assets.defs.partitions import FETCH_POOL
from risk_assets.storage.warehouse import Warehouse
from tests.integration.conftest import production_env
from tests.support.servers import MotoServer, scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

DATA = Path(__file__).resolve().parents[2] / "risk_assets" / "data"
HELD, WAITING = (
    "dart-00126380",
    "sec-0000320193",
)  # Samsung (OpenDART) is held in its fetch; Apple (SEC) waits
FETCH_STEP = "raw_filings"
#: Only against a hang: every wait ends as soon as its condition holds.
DEADLINE_SECONDS = 300


def _filers(folder: Path) -> tuple[Path, bytes]:
    """A bundled data folder with the two companies, one of the held company's documents a FIFO: (FIFO, bytes)."""
    folder.mkdir()
    rows = (DATA / "universe.csv").read_text().splitlines()
    kept = [rows[0]] + [row for row in rows[1:] if row.split(",", 1)[0] in (HELD, WAITING)]
    assert len(kept) == 3
    (folder / "universe.csv").write_text("\n".join(kept) + "\n")
    shutil.copytree(DATA / "sec", folder / "sec")
    shutil.copytree(DATA / "opendart", folder / "opendart")
    [document] = (folder / "opendart" / "fnlttSinglAcntAll").glob(f"{HELD.split('-')[1]}_*_CFS.*.json")
    body = document.read_bytes()
    document.unlink()
    os.mkfifo(document)
    return document, body


def _feed(fifo: Path, body: bytes) -> bool:
    """Write ``body`` into the FIFO if a reader is waiting on it (True), else leave it (False)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO when nobody has it open for reading
    except OSError:
        return False
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(body)
    return True


def _wait_for(condition: Callable[[], object], what: str):
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_SECONDS:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {DEADLINE_SECONDS} s: {what}")


def _run_of(instance: dg.DagsterInstance, company_id: str) -> str | None:
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name="ingest_filings", tags={"dagster/partition": company_id})
    )
    return runs[0].run_id if runs else None


def _step_events(instance: dg.DagsterInstance, run_id: str, event_type: DagsterEventType) -> list:
    return [entry for entry in instance.all_logs(run_id, of_type=event_type) if entry.step_key == FETCH_STEP]


def _in_thread(company_id: str, outcomes: dict[str, JobOutcome | BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            outcomes[company_id] = run_job("ingest_filings", partition_keys=[company_id])
        except BaseException as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            outcomes[company_id] = error

    thread = threading.Thread(target=run, name=f"ingest {company_id}", daemon=True)
    thread.start()
    return thread


def test_a_second_run_fetches_only_after_the_first_runs_fetch(tmp_path, monkeypatch, moto: MotoServer):
    fifo, body = _filers(tmp_path / "filers")
    outcomes: dict[str, JobOutcome | BaseException] = {}
    threads: list[threading.Thread] = []
    with scratch_database("riskgraph_test_dagster_") as database:
        production_env(
            monkeypatch,
            tmp_path / "home",
            moto=moto,
            prefix="fetch-pool-test",
            warehouse_url=f"sqlite:///{tmp_path / 'warehouse.db'}",
            dagster_database=database,
        )
        monkeypatch.setenv("RISKGRAPH_DATA_SOURCE", "bundled")
        monkeypatch.setenv("RISKGRAPH_BUNDLED_DATA", str(tmp_path / "filers"))
        assert run_job("refresh_universe").success  # registers the two partitions
        warehouse = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
        instance = dg.DagsterInstance.get()
        try:
            try:
                held, waiting = _hold_one_fetch_and_check_the_other_waits(
                    instance, warehouse, outcomes, threads
                )
                assert _feed(fifo, body), "the first run is not reading the held document"
                for thread in threads:
                    thread.join(DEADLINE_SECONDS)
                assert not any(thread.is_alive() for thread in threads), "a run did not finish"
            finally:
                if any(thread.is_alive() for thread in threads):
                    _feed(fifo, body)  # never leave a run blocked on the pipe
                    for thread in threads:
                        thread.join(DEADLINE_SECONDS)
            for company_id in (HELD, WAITING):
                outcome = outcomes.get(company_id)
                assert isinstance(outcome, JobOutcome) and outcome.success, (company_id, outcome)
            # the second fetch started after the first had finished; both companies were parsed
            [held_done] = _step_events(instance, held, DagsterEventType.STEP_SUCCESS)
            [waiting_start] = _step_events(instance, waiting, DagsterEventType.STEP_START)
            assert waiting_start.timestamp >= held_done.timestamp
            for company_id in (HELD, WAITING):
                assert not warehouse.read("statements", where={"company_id": company_id}).empty, company_id
            assert instance.event_log_storage.get_concurrency_info(FETCH_POOL).claimed_slots == []
        finally:
            instance.dispose()
            warehouse.dispose()


def _hold_one_fetch_and_check_the_other_waits(
    instance: dg.DagsterInstance,
    warehouse: Warehouse,
    outcomes: dict[str, JobOutcome | BaseException],
    threads: list[threading.Thread],
) -> tuple[str, str]:
    """Start the held run, then the other once the held one is fetching; check the other waits for the pool while
    the held one fetches. (held run id, waiting run id)."""
    threads.append(_in_thread(HELD, outcomes))
    held = _wait_for(lambda: _run_of(instance, HELD), "the first run is created")
    _wait_for(lambda: _step_events(instance, held, DagsterEventType.STEP_START), "its fetch starts")

    threads.append(_in_thread(WAITING, outcomes))
    waiting = _wait_for(lambda: _run_of(instance, WAITING), "the second run is created")
    _wait_for(
        lambda: [
            entry
            for entry in _step_events(instance, waiting, DagsterEventType.ENGINE_EVENT)
            if entry.message == f"Step blocked by limit for pool {FETCH_POOL}"
        ],
        "Dagster reports the second run's fetch as blocked by the pool",
    )
    # at this moment: the first run holds the pool's one slot and is still fetching; the second run's fetch has not
    # started and has stored nothing
    slots = instance.event_log_storage.get_concurrency_info(FETCH_POOL)
    assert slots.slot_count == 1
    assert [(slot.run_id, slot.step_key) for slot in slots.claimed_slots] == [(held, FETCH_STEP)]
    assert not _step_events(instance, held, DagsterEventType.STEP_SUCCESS)
    assert not _step_events(instance, waiting, DagsterEventType.STEP_START)
    assert warehouse.read("raw_filings", where={"company_id": WAITING}).empty
    return held, waiting
