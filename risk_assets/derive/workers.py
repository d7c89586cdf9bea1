"""The batches of a large run derived in worker processes, which also write them on a server warehouse (the run's
process writes them on SQLite), or one batch ahead in a thread when the run is small (defs/incremental.py's
company_work decides what the batches are)."""

from __future__ import annotations

import atexit
import ctypes
import functools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import pandas as pd
from sqlalchemy.engine import Connection

from risk_assets.storage.warehouse import Warehouse, utc_now

T = TypeVar("T")
B = TypeVar("B")
R = TypeVar("R")
B_contra = TypeVar("B_contra", contravariant=True)
T_co = TypeVar("T_co", covariant=True)
D = TypeVar("D")
R_co = TypeVar("R_co", covariant=True)


def one_batch_ahead(batches: Iterable[B], derive: Callable[[B], T]) -> Iterator[tuple[B, T]]:
    """Each batch with ``derive(batch)``, the next batch's derive running in one background thread while the
    caller writes this one: reading and computing overlap the database's writing (the drivers and LightGBM
    release the GIL while they work). One batch ahead at most, so memory holds two batches; ``derive`` must only
    read (the caller's writes of earlier batches are committed before it needs them) and not log."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="derive-ahead") as pool:
        ahead: tuple[B, Future[T]] | None = None
        for batch in batches:
            future = pool.submit(derive, batch)
            if ahead is not None:
                yield ahead[0], ahead[1].result()
            ahead = (batch, future)
        if ahead is not None:
            yield ahead[0], ahead[1].result()


class BatchTask(Protocol[B_contra, T_co]):
    """Work on one batch in the process's warehouse, a worker's or the run's: a module-level class (picklable, so
    a worker process can run it) whose call takes the process's warehouse and the batch."""

    def __call__(self, store: Warehouse, batch: B_contra) -> T_co: ...


#: What a company-batched asset computes for one batch of companies, reading only the warehouse.
BatchDeriver = BatchTask[list[str], T]


class WritingTask(Protocol[B_contra, D, R_co]):
    """A task that derives a batch (reading only) and writes what it derived: called whole in a worker that
    writes its own batches, or split so that the run's process writes what the workers derived (written_batches)."""

    def __call__(self, store: Warehouse, batch: B_contra) -> R_co: ...

    def derived(self, store: Warehouse, batch: B_contra) -> D: ...

    def write(self, store: Warehouse, batch: B_contra, derived: D) -> R_co: ...


#: Counts of a batch's rows that a company-batched asset reports (a module-level function: a worker that writes
#: its own batch computes them and sends back only the counts).
BatchCounts = Callable[[pd.DataFrame], Mapping[str, int]]


def writes_in_workers(store: Warehouse, processes: int) -> bool:
    """Whether the worker processes of a run write the batches they derive, each in its own transaction: on a
    server warehouse, where writers run side by side (the run's process writing every batch was what bounded a
    MariaDB pass, docs/production.md); SQLite has one writer at a time, so there the run's process writes."""
    return processes > 0 and store.dialect != "sqlite"


@dataclass(frozen=True)
class CompanyBatch:
    """One batch of a per-company asset: derive the companies' rows (``derive``) and replace theirs in ``table``
    with them, marking them stale for ``stale_after`` and clearing the marks the run read for them, in one
    transaction (run again from its start after a lock conflict with another batch's writer). Picklable, so that
    a worker process can do both; the batch is its companies with their marks."""

    derive: BatchDeriver[pd.DataFrame]
    table: str
    consumer: str
    stale_after: tuple[str, ...] = ()
    track_changes: bool = True
    counts: BatchCounts | None = None

    def __call__(self, store: Warehouse, batch: tuple[list[str], pd.DataFrame]) -> tuple[int, dict[str, int]]:
        return self.write(store, batch, self.derived(store, batch))

    def derived(self, store: Warehouse, batch: tuple[list[str], pd.DataFrame]) -> pd.DataFrame:
        """The batch's rows, derived (read only)."""
        return self.derive(store, batch[0])

    def write(
        self, store: Warehouse, batch: tuple[list[str], pd.DataFrame], frame: pd.DataFrame
    ) -> tuple[int, dict[str, int]]:
        """Write the batch's rows; returns how many, and their counts."""
        companies, marks = batch
        counted = dict(self.counts(frame)) if self.counts is not None and len(frame) else {}
        if len(frame):
            frame["computed_at"] = utc_now()

        def replace(conn: Connection) -> None:
            store.upsert(
                self.table,
                frame,
                replace={"company_id": companies},
                connection=conn,
                track_changes=self.track_changes,
            )
            if self.stale_after:
                store.mark_stale(conn, self.stale_after, companies)
            store.clear_stale(conn, self.consumer, marks)

        store.retried_transaction(replace)
        return len(frame), counted


#: Fewest batches a run must have before worker processes derive them: starting a worker (a fresh interpreter
#: importing pandas, LightGBM and the graph, a few seconds) only pays off over several batches, and the run of a
#: new filing (one batch) stays in its own process.
MIN_BATCHES_FOR_WORKERS = 3


_worker_store: Warehouse | None = None


def available_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: those it may run on, fewer where a container's CPU quota says so (cgroup v2
    ``cpu.max`` or v1 ``cpu.cfs_quota_us``; ``os.cpu_count()`` counts the host's, in a pod as anywhere)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quotas = [
        (cgroup / "cpu.max", None),
        (cgroup / "cpu" / "cpu.cfs_quota_us", cgroup / "cpu" / "cpu.cfs_period_us"),
    ]
    for quota_file, period_file in quotas:
        try:
            fields = quota_file.read_text().split()
            quota = fields[0]
            period = fields[1] if period_file is None else period_file.read_text().strip()
        except (OSError, IndexError):
            continue
        if quota not in ("max", "-1"):
            cpus = min(cpus, max(1, int(int(quota) / int(period))))
        break
    return max(1, cpus)


def worker_count(store: Warehouse, requested: int, batches: int) -> int:
    """Worker processes for a run of ``batches``: ``requested`` (-1: one per available CPU), none below
    MIN_BATCHES_FOR_WORKERS batches or on an in-memory database (no other process can see it), never more
    than the batches."""
    if requested < 0:
        requested = available_cpus()
    if batches < MIN_BATCHES_FOR_WORKERS or store.in_memory:
        return 0
    return min(requested, batches)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc
    except (OSError, AttributeError):  # another C library: nothing to call
        return None


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system after a batch (glibc ``malloc_trim``). A freed batch's memory
    otherwise stays resident in the process, so a run's writer and each worker would each hold their largest batch
    until the run ends, and the run would hold the sum of those peaks at once (bench/scale.py measures it)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _open_worker_store(url: str) -> None:
    global _worker_store
    _worker_store = Warehouse(url)


def _derive_in_worker(derive: BatchTask[B, T], batch: B) -> T:
    assert _worker_store is not None, "a worker derives only after _open_worker_store"
    try:
        return derive(_worker_store, batch)
    finally:
        # SQLite: a connection keeps the planner statistics it loaded, and the writer refreshes them after the
        # first batch (refresh_statistics); a new connection per batch plans with the current ones.
        _worker_store.release_connections()
        release_free_memory()


def derived_batches(
    store: Warehouse, batches: Sequence[B], derive: BatchTask[B, T], workers: int
) -> Iterator[tuple[B, T]]:
    """Each batch with ``derive(store, batch)``, in order. With ``workers`` processes (worker_count), the batches
    are derived in those processes, up to one more than there are workers ahead of the caller, while this
    process writes: the writer and the derivers use every core, which threads cannot (pandas holds the GIL).
    Between batches the freed memory is handed back (release_free_memory): a caller should drop its references
    to a batch when done with it. Without workers, one batch ahead in a thread. ``derive`` must only read, and
    what it reads must not depend on the writes of other batches."""
    if workers < 1:
        yield from one_batch_ahead(batches, lambda batch: derive(store, batch))
        return
    pool = _worker_pool(store.url, workers)
    remaining = iter(batches)
    ahead: deque[tuple[B, Future[T]]] = deque()

    def submit_next() -> None:
        batch = next(remaining, None)
        if batch is not None:
            ahead.append((batch, pool.submit(_derive_in_worker, derive, batch)))

    try:
        for _ in range(workers + 1):
            submit_next()
        while ahead:
            batch, future = ahead.popleft()
            result = future.result()
            del future
            submit_next()
            yield batch, result
            # the caller is done with the batch (and drops its own references to it): its pages go back to the
            # system before the next batch arrives
            del result
            release_free_memory()
    except BrokenProcessPool:
        _close_worker_pool()  # a worker died (killed for memory?): the next run starts new ones
        raise
    finally:
        for _, future in ahead:  # the caller stopped early (its write failed): nothing more is derived
            future.cancel()


def written_batches(
    store: Warehouse, batches: Sequence[B], task: WritingTask[B, D, R], processes: int
) -> Iterator[tuple[B, R]]:
    """Each batch with what writing it returned, in order. On a server warehouse the ``processes`` workers derive
    and write their batches side by side (writes_in_workers); otherwise (SQLite, or no workers) they derive, or a
    thread derives one batch ahead, and this process writes each batch as it arrives."""
    if writes_in_workers(store, processes):
        yield from derived_batches(store, batches, task, processes)
        return
    for batch, derived in derived_batches(store, batches, task.derived, processes):
        result = task.write(store, batch, derived)
        del derived  # derived_batches frees the batch's memory before the next one arrives
        yield batch, result


#: The worker pool of this process: kept between the steps of a run (the in-process executor runs them in one
#: process), so the workers' start-up (a fresh interpreter importing pandas, LightGBM and the graph) is paid once
#: a run; one pool at most, closed when another warehouse or size is asked for and when the process exits.
_pool: tuple[tuple[str, int], ProcessPoolExecutor] | None = None


def _worker_pool(url: str, workers: int) -> ProcessPoolExecutor:
    global _pool
    if _pool is not None and _pool[0] == (url, workers):
        return _pool[1]
    _close_worker_pool()
    # spawn, not fork: a run's process has threads (Dagster's, the pools'), and a forked child of a threaded
    # process can inherit a lock held forever.
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_open_worker_store,
        initargs=(url,),
    )
    _pool = ((url, workers), executor)
    return executor


def _close_worker_pool() -> None:
    global _pool
    if _pool is not None:
        _pool[1].shutdown(wait=True, cancel_futures=True)
        _pool = None


atexit.register(_close_worker_pool)
