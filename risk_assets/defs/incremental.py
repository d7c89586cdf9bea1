"""Skipping a recomputation whose inputs did not change (issue 11: a rescore with nothing new should be cheap).

Two forms. Per company (``company_work``): the derived assets of a company (market features, features, scores)
re-derive only the companies the writes since their last run marked stale (storage/stale.py), in batches, and
every company when something all of them share changed. Whole table (``unchanged``), described below, for the
assets that are not keyed by company.

An asset computes an input token (core/fingerprint.py over the tables it reads, plus the code version and
whatever else its output depends on), records it in its materialisation's metadata, and on the next run returns
early when the token is the one its latest materialisation recorded and its output table still holds what that
run wrote. The early return is still a materialisation (metadata ``unchanged``), so the run shows why nothing
was written.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import dagster as dg
import pandas as pd

from risk_assets.storage.warehouse import Warehouse, utc_now

T = TypeVar("T")

INPUT_TOKEN = "input_token"
OUTPUT_ROWS = "output_rows"


def previous_metadata_of(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, object]:
    """The plain metadata values of an asset's latest materialisation (empty when it has none)."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return {}
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def previous_metadata(context: dg.AssetExecutionContext, key: dg.AssetKey | None = None) -> dict[str, object]:
    """The plain metadata values of the asset's (or ``key``'s) latest materialisation (empty when it has none)."""
    return previous_metadata_of(context.instance, key or context.asset_key)


def unchanged(context: dg.AssetExecutionContext, token: str, output_rows: int) -> dg.MaterializeResult | None:
    """The early result when ``token`` equals the latest materialisation's and the output still has the rows it
    wrote then; None when the asset must recompute."""
    previous = previous_metadata(context)
    if previous.get(INPUT_TOKEN) != token or previous.get(OUTPUT_ROWS) != output_rows:
        return None
    context.log.info(
        f"{context.asset_key.to_user_string()}: inputs unchanged since the last run, nothing recomputed"
    )
    return dg.MaterializeResult(
        metadata={
            "unchanged": "inputs unchanged since the last materialisation: nothing recomputed",
            INPUT_TOKEN: token,
            OUTPUT_ROWS: output_rows,
        },
        data_version=dg.DataVersion(token[:16]),
    )


# --- per company: re-derive the companies whose inputs changed -------------------------------------------------

#: Run tag that makes the per-company assets re-derive every company (after rows were changed by hand in SQL,
#: which marks nothing): set it in the launchpad's tags, or `dagster job launch --tags`.
EVERY_COMPANY_TAG = "riskgraph/every_company"
#: Metadata key: whether the run re-derived every company (false: only the marked ones).
EVERY_COMPANY = "every_company"
#: Metadata key: the companies a run re-derived, listed when they are few (a day's filings); what a check of only
#: the rows that run wrote reads (recomputed_companies).
RECOMPUTED_COMPANIES = "recomputed_companies"
#: At most this many companies are listed under RECOMPUTED_COMPANIES; a larger run's checks read every row.
LISTED_COMPANIES = 100
#: Metadata key: the token of what every company's rows depend on (code version, champions, shared inputs).
SHARED_TOKEN = "shared_inputs_token"
#: Share of the scored companies a run must re-derive to count as a change of the population (a bulk import):
#: today's percentiles are ranked again, and the population-stability check measures again.
MATERIAL_SHARE = 0.10
#: Companies per batch: each batch is read, derived and written in one transaction, so memory stays flat with
#: the size of the market and a killed run keeps every finished batch.
COMPANY_BATCH = 1000


@dataclass(frozen=True)
class CompanyWork:
    """What a per-company asset re-derives in this run: the marked companies (storage/stale.py), or every
    company when what all of them share changed (``everything``)."""

    companies: list[str]
    marks: pd.DataFrame
    everything: bool
    reason: str

    def marks_of(self, batch: list[str]) -> pd.DataFrame:
        """The marks this run read for the companies of one batch (cleared with the batch's rows)."""
        return self.marks[self.marks["company_id"].isin(batch)]

    def unhandled_marks(self) -> pd.DataFrame:
        """Marks of companies this run did not visit (no rows to derive from): cleared at the end."""
        return self.marks[~self.marks["company_id"].isin(self.companies)]

    def metadata(self) -> dict[str, object]:
        """The run's scope for its materialisation: how many companies, whether every one, why, and the companies
        themselves when they are few (RECOMPUTED_COMPANIES)."""
        listed = not self.everything and len(self.companies) <= LISTED_COMPANIES
        return {
            "companies_recomputed": len(self.companies),
            EVERY_COMPANY: self.everything,
            "why": self.reason,
            **({RECOMPUTED_COMPANIES: dg.MetadataValue.json(self.companies)} if listed else {}),
        }

    def batches(self, size: int | None = None) -> list[list[str]]:
        """The companies in batches of ``size`` (COMPANY_BATCH, read when called)."""
        size = size or COMPANY_BATCH
        return [self.companies[start : start + size] for start in range(0, len(self.companies), size)]


def _run_tag(context: dg.AssetExecutionContext, key: str) -> str | None:
    try:
        return context.run.tags.get(key)
    except dg.DagsterError:  # an asset invoked directly (a test) has no run, so no tags
        return None


def company_work(
    context: dg.AssetExecutionContext,
    store: Warehouse,
    shared_token: str,
    every_company: Callable[[], Iterable[str]],
    output_table: str | None,
) -> CompanyWork:
    """The companies this asset must re-derive: every company on its first run, when ``shared_token`` (code
    version and the inputs all companies share) differs from its latest materialisation's, when its output
    table (``output_table``; None where empty is a normal outcome) is empty, or when the run carries EVERY_COMPANY_TAG; otherwise only the companies marked stale for it
    by the writes since."""
    consumer = context.asset_key.to_user_string()
    marks = store.stale_marks(consumer)
    previous = previous_metadata(context).get(SHARED_TOKEN)
    reason = None
    if (_run_tag(context, EVERY_COMPANY_TAG) or "").lower() == "true":
        reason = f"run tag {EVERY_COMPANY_TAG}=true: every company"
    elif previous is None:
        reason = "no earlier run of this kind: every company"
    elif previous != shared_token:
        reason = "code version or an input every company shares changed: every company"
    elif output_table is not None and store.is_empty(output_table):
        reason = f"{output_table} is empty: every company"
    if reason is not None:
        return CompanyWork(sorted({str(c) for c in every_company()}), marks, True, reason)
    companies = sorted(set(marks["company_id"]))
    return CompanyWork(companies, marks, False, f"{len(companies):,} companies with changed inputs")


def batch_progress(
    context: dg.AssetExecutionContext, work: CompanyWork, done: int, rows: int, started: float
) -> None:
    """One progress line per batch: companies done of all, rows written, rows/s so far."""
    seconds = max(time.perf_counter() - started, 1e-9)
    context.log.info(
        f"{context.asset_key.to_user_string()}: {done:,} of {len(work.companies):,} companies, "
        f"{rows:,} rows ({rows / seconds:,.0f} rows/s)"
    )


def no_company_work(
    context: dg.AssetExecutionContext, store: Warehouse, work: CompanyWork, shared_token: str
) -> dg.MaterializeResult:
    """The materialisation of a run with nothing to re-derive: it clears the marks of companies with nothing to
    derive from, says so, and keeps the shared token."""
    with store.transaction() as conn:
        store.clear_stale(conn, context.asset_key.to_user_string(), work.marks)
    context.log.info(f"{context.asset_key.to_user_string()}: no company's inputs changed, nothing recomputed")
    return dg.MaterializeResult(
        metadata={
            "unchanged": "no company's inputs changed since the last materialisation: nothing recomputed",
            "companies_recomputed": 0,
            EVERY_COMPANY: False,
            RECOMPUTED_COMPANIES: dg.MetadataValue.json([]),
            SHARED_TOKEN: shared_token,
        }
    )


def recomputed_companies(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[str] | None:
    """The companies the latest materialisation of ``key`` re-derived, or None when it re-derived every company or
    too many to list: a check of that materialisation reads only their rows, since a run replaces the rows of
    the companies it re-derives and no others."""
    listed = previous_metadata_of(instance, key).get(RECOMPUTED_COMPANIES)
    return None if listed is None else [str(company) for company in listed]


def one_batch_ahead(
    batches: Iterable[list[str]], derive: Callable[[list[str]], T]
) -> Iterator[tuple[list[str], T]]:
    """Each batch with ``derive(batch)``, the next batch's derive running in one background thread while the
    caller writes this one: reading and computing overlap the database's writing (the drivers and LightGBM
    release the GIL while they work). One batch ahead at most, so memory holds two batches; ``derive`` must only
    read (the caller's writes of earlier batches are committed before it needs them) and not log."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="derive-ahead") as pool:
        ahead: tuple[list[str], Future[T]] | None = None
        for batch in batches:
            future = pool.submit(derive, batch)
            if ahead is not None:
                yield ahead[0], ahead[1].result()
            ahead = (batch, future)
        if ahead is not None:
            yield ahead[0], ahead[1].result()


# --- processes: the batches of a large run derived on every core -------------------------------------------------


class BatchDeriver(Protocol[T]):
    """What a company-batched asset computes for one batch, reading only the warehouse: a module-level class
    (picklable, so a worker process can run it) whose call takes the process's warehouse and the batch."""

    def __call__(self, store: Warehouse, batch: list[str]) -> T: ...


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


def start_of_work(
    context: dg.AssetExecutionContext, store: Warehouse, work: CompanyWork, requested: int, batches: int
) -> int:
    """The worker processes a run of ``batches`` uses (worker_count), said in the run's first line with why it
    re-derives what it does."""
    processes = worker_count(store, requested, batches)
    context.log.info(
        f"{context.asset_key.to_user_string()}: {work.reason}"
        + (f"; {processes} worker processes" if processes else "")
    )
    return processes


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


def _derive_in_worker(derive: BatchDeriver[T], batch: list[str]) -> T:
    assert _worker_store is not None, "a worker derives only after _open_worker_store"
    try:
        return derive(_worker_store, batch)
    finally:
        # SQLite: a connection keeps the planner statistics it loaded, and the writer refreshes them after the
        # first batch (refresh_statistics); a new connection per batch plans with the current ones.
        _worker_store.release_connections()
        release_free_memory()


def derived_batches(
    store: Warehouse, batches: Sequence[list[str]], derive: BatchDeriver[T], workers: int
) -> Iterator[tuple[list[str], T]]:
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
    ahead: deque[tuple[list[str], Future[T]]] = deque()

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


def derive_by_company(
    context: dg.AssetExecutionContext,
    store: Warehouse,
    work: CompanyWork,
    table: str,
    derive: BatchDeriver[pd.DataFrame],
    *,
    workers: int,
    stale_after: Sequence[str] = (),
    track_changes: bool = True,
    observe: Callable[[pd.DataFrame], None] | None = None,
) -> int:
    """Re-derive the work's companies a batch at a time: ``derive(store, batch)`` gives the batch's rows (in
    ``workers`` processes when the run is large enough: derived_batches), which replace the batch's companies'
    rows of ``table`` (``computed_at`` set here), mark them stale for ``stale_after`` and clear the marks read for
    them, in one transaction a batch, with a progress line each; ``observe`` sees each batch's rows (the run's
    counts). Returns rows written."""
    consumer = context.asset_key.to_user_string()
    batches = work.batches()
    processes = start_of_work(context, store, work, workers, len(batches))
    started, done, written = time.perf_counter(), 0, 0
    for number, (batch, frame) in enumerate(derived_batches(store, batches, derive, processes), 1):
        if observe is not None:
            observe(frame)
        if len(frame):
            frame["computed_at"] = utc_now()
        with store.transaction() as conn:
            store.upsert(
                table, frame, replace={"company_id": batch}, connection=conn, track_changes=track_changes
            )
            if stale_after:
                store.mark_stale(conn, stale_after, batch)
            store.clear_stale(conn, consumer, work.marks_of(batch))
        done, written = done + len(batch), written + len(frame)
        del frame  # derived_batches frees the batch before the next one arrives
        batch_progress(context, work, done, written, started)
        statistics_after_batch(store, table, number, len(batches))
    with store.transaction() as conn:
        store.clear_stale(conn, consumer, work.unhandled_marks())
    return written


def statistics_after_batch(store: Warehouse, table: str, number: int, batches: int) -> None:
    """In a run of several batches, the written table's planner statistics are refreshed after the first batch
    (a first fill has none, and the next batches' reads must find their companies by key) and after the last
    (what the next run and readers plan with); ``number`` counts from 1."""
    if batches > 1 and number in (1, batches):
        store.refresh_statistics(table)
