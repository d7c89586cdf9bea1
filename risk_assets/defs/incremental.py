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

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from risk_assets.derive.workers import (
    BatchCounts,
    BatchDeriver,
    CompanyBatch,
    worker_count,
    writes_in_workers,
    written_batches,
)
from risk_assets.storage.warehouse import Warehouse

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
        return company_batches(self.companies, size)


def company_batches(companies: list[str], size: int | None = None) -> list[list[str]]:
    """``companies`` in batches of ``size`` (COMPANY_BATCH, read when called)."""
    size = size or COMPANY_BATCH
    return [companies[start : start + size] for start in range(0, len(companies), size)]


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


# --- batches: derived in worker processes (derive/workers.py) while the run writes them ------------------------


def start_of_work(
    context: dg.AssetExecutionContext, store: Warehouse, work: CompanyWork, requested: int, batches: int
) -> int:
    """The worker processes a run of ``batches`` uses (worker_count), said in the run's first line with why it
    re-derives what it does."""
    processes = worker_count(store, requested, batches)
    context.log.info(
        f"{context.asset_key.to_user_string()}: {work.reason}"
        + (f"; {processes} worker processes" if processes else "")
        + (", each writing the batches it derives" if writes_in_workers(store, processes) else "")
    )
    return processes


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
    counts: BatchCounts | None = None,
) -> tuple[int, Counter[str]]:
    """Re-derive the work's companies a batch at a time: ``derive(store, batch)`` gives the batch's rows, which
    replace the batch's companies' rows of ``table`` (``computed_at`` set here), mark them stale for
    ``stale_after`` and clear the marks read for them, in one transaction a batch (CompanyBatch), with a progress
    line each. In ``workers`` processes when the run is large enough (derived_batches), which also write their
    batches on a server warehouse (writes_in_workers); otherwise this process writes. Returns rows written and
    the sums of ``counts`` over the batches."""
    task = CompanyBatch(
        derive, table, context.asset_key.to_user_string(), tuple(stale_after), track_changes, counts
    )
    batches = [(companies, work.marks_of(companies)) for companies in work.batches()]
    processes = start_of_work(context, store, work, workers, len(batches))
    started, done, written, totals = time.perf_counter(), 0, 0, Counter[str]()
    results = written_batches(store, batches, task, processes)
    for number, ((companies, _), (rows, counted)) in enumerate(results, 1):
        done, written = done + len(companies), written + rows
        totals.update(counted)
        batch_progress(context, work, done, written, started)
        statistics_after_batch(store, table, number, len(batches))
    with store.transaction() as conn:
        store.clear_stale(conn, task.consumer, work.unhandled_marks())
    return written, totals


def statistics_after_batch(store: Warehouse, table: str, number: int, batches: int) -> None:
    """In a run of several batches, the written table's planner statistics are refreshed after the first batch
    (a first fill has none, and the next batches' reads must find their companies by key) and after the last
    (what the next run and readers plan with); ``number`` counts from 1."""
    if batches > 1 and number in (1, batches):
        store.refresh_statistics(table)
