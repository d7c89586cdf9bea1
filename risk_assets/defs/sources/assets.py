"""Sources: the company universe, raw filings (stored before parsing), default events and early-warning signals.

Where the companies and documents come from is the ``filings`` resource (``BundledFilings`` or ``LiveFilings``,
chosen in Definitions from ``RISKGRAPH_DATA_SOURCE``; defs/sources/providers.py): one code path after the fetch.
"""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from risk_assets.core import early_warning
from risk_assets.core import events as event_parsers
from risk_assets.defs.incremental import SHARED_TOKEN, company_work
from risk_assets.defs.partitions import COMPANY_BACKFILL_POLICY, FETCH_POOL, company_partitions
from risk_assets.defs.resources import FilingsSource, ObjectStoreResource, WarehouseResource
from risk_assets.defs.sources import bundled
from risk_assets.storage.objects import sha256_hex
from risk_assets.storage.schema import TABLES
from risk_assets.storage.warehouse import utc_now
from risk_assets.version import code_version

#: Downstream assets of partitioned ones follow new data by declarative automation. Without the
#: any_deps_missing clause removed, an unpartitioned asset downstream of a dynamic partition set would wait
#: forever for partitions that never materialise (docs/traps.md, "Dagster"). The sensor that evaluates these
#: conditions is off by default (definitions in sensors.py), so `dagster dev` starts nothing on its own.
FOLLOW_UPSTREAM = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


@dg.asset(
    group_name="sources",
    kinds={"python", "sql"},
    pool=FETCH_POOL,  # live mode enriches the watchlist from SEC and OpenDART
    description="Companies to cover, with identifiers (CIK, DART corp code), sector and the financial-firm flag. "
    "Bundled mode: data/universe.csv; live mode: the watchlist, enriched from SEC submissions and OpenDART "
    "company.json. Registers one `companies` partition per company.",
)
def company_universe(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    filings: FilingsSource,
) -> dg.MaterializeResult:
    store = warehouse.get()
    rows = filings.universe(store, object_store.get(), context.log)
    store.upsert("companies", rows)
    keys = [row["company_id"] for row in rows]
    existing = set(context.instance.get_dynamic_partitions(company_partitions.name))
    new_keys = [key for key in keys if key not in existing]
    if new_keys:
        context.instance.add_dynamic_partitions(company_partitions.name, new_keys)
    frame = pd.DataFrame(rows, columns=["company_id", "name", "ticker", "country", "sector", "is_financial"])
    return dg.MaterializeResult(
        metadata={
            "companies": len(rows),
            "new_partitions": len(new_keys),
            "mode": filings.mode,
            "preview": dg.MetadataValue.md(frame.to_markdown(index=False) if rows else "none"),
        }
    )


@dg.asset(
    group_name="sources",
    kinds={"s3", "sql"},
    partitions_def=company_partitions,
    backfill_policy=COMPANY_BACKFILL_POLICY,
    # one fetching step at a time across runs: each run paces itself at the source's limit (statements, the
    # parsing, has no pool and runs in every run at once)
    pool=FETCH_POOL,
    deps=[company_universe],
    description="Raw source documents per company: SEC submissions (every page) and companyfacts; OpenDART "
    "company overview, periodic-report list, statements (annual and quarterly), distress events and audit "
    "opinion. Stored byte-for-byte in the object store under their sha256 before anything parses them.",
)
def raw_filings(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    filings: FilingsSource,
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    companies = filings.companies(store, objects, list(context.partition_keys), context.log)
    stored, total_bytes, failed = filings.store_documents(store, objects, companies, context.log)
    return dg.MaterializeResult(
        metadata={
            "documents": stored,
            "bytes": total_bytes,
            "companies": len(companies),
            "failed": ", ".join(failed) or "none",
            "mode": filings.mode,
            "object_store": objects.url,
        }
    )


def latest_document_rows(store, company_id: str) -> pd.DataFrame:
    """The raw_filings row of the most recently fetched document of each (source, kind) of a company."""
    frame = store.read("raw_filings", where={"company_id": company_id}, order_by=["fetched_at"])
    return frame.drop_duplicates(subset=["source", "kind"], keep="last")


def latest_document_rows_by_company(store, companies: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """``latest_document_rows`` of every company (or of ``companies``) from one read of raw_filings (a whole
    market's companies cost one query, not one each); a company with no documents is absent."""
    frame = store.read(
        "raw_filings",
        where={"company_id": companies} if companies is not None else None,
        order_by=["fetched_at"],
    )
    latest = frame.drop_duplicates(subset=["company_id", "source", "kind"], keep="last")
    return {company_id: rows for company_id, rows in latest.groupby("company_id", sort=False)}


def latest_documents(
    store, objects, company_id: str, prefixes: tuple[str, ...] = (), rows: pd.DataFrame | None = None
) -> dict[str, bytes]:
    """The most recently fetched document of each kind for a company, read back from the object store: only
    those whose "source:kind" starts with one of ``prefixes`` (all when empty), so a reader of filing indexes
    does not download companyfacts. ``rows``: ``latest_document_rows`` when the caller already has them."""
    latest = latest_document_rows(store, company_id) if rows is None else rows
    documents = {}
    for row in latest.itertuples():
        name = f"{row.source}:{row.kind}"
        if not prefixes or name.startswith(prefixes):
            documents[name] = objects.get(row.object_key)
    return documents


def _json_documents(documents: dict[str, bytes], prefix: str) -> list[tuple[str, dict]]:
    """(name, parsed JSON) of the documents whose name starts with ``prefix``, in name order."""
    out = []
    for name in sorted(documents):
        if name.startswith(prefix):
            try:
                out.append((name, json.loads(documents[name])))
            except ValueError:
                continue
    return out


@dg.asset(
    group_name="sources",
    kinds={"sql"},
    deps=[raw_filings],
    automation_condition=FOLLOW_UPSTREAM,
    description="Default events, the labels' source: SEC 8-K item 1.03 (bankruptcy), OpenDART major-event "
    "reports (dfOcr default, ctrcvsBgrq rehabilitation filing, bnkMngtPcbg creditor-bank management) and the "
    "bundled events CSV.",
)
def default_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    bundled_events = bundled.bundled_default_events()
    shared = sha256_hex(json.dumps([code_version(), bundled_events], sort_keys=True).encode())
    work = company_work(context, store, shared, lambda: store.distinct("companies", "company_id"), None)
    events: list[dict] = []
    prefixes = ("sec:submissions", *(f"dart:{endpoint}" for endpoint in event_parsers.DART_EVENT_KINDS))
    fetched_of = latest_document_rows_by_company(store, work.companies)
    for company_id in work.companies:
        if company_id not in fetched_of:
            continue  # no documents (imported statements only): no events to parse
        documents = latest_documents(store, objects, company_id, prefixes, rows=fetched_of[company_id])
        for _name, submissions in _json_documents(documents, "sec:submissions"):
            events += event_parsers.sec_default_events(submissions, company_id)
        for endpoint in event_parsers.DART_EVENT_KINDS:
            for name, payload in _json_documents(documents, f"dart:{endpoint}"):
                try:
                    events += event_parsers.dart_default_events(payload, endpoint, company_id)
                except ValueError as error:
                    context.log.warning(f"{company_id} {name}: {error}")
    known = set(work.companies)
    for row in bundled_events:
        if row["company_id"] in known:
            events.append(
                {
                    "company_id": row["company_id"],
                    "event_date": dt.date.fromisoformat(row["event_date"]),
                    "kind": row["kind"],
                    "source": row["source"],
                    "reference": row["reference"][:64],
                }
            )
    now = utc_now()
    rows = [{**event, "loaded_at": now} for event in events if event["event_date"] is not None]
    with (
        store.transaction() as conn
    ):  # the write marks risk_scores stale for the companies whose events changed
        store.upsert("default_events", rows, connection=conn)
        store.clear_stale(conn, "default_events", work.marks)
    stored = store.read("default_events")
    frame = pd.DataFrame(rows)
    preview = (
        frame[["company_id", "event_date", "kind", "source"]].to_markdown(index=False) if rows else "none"
    )
    # The events as data (not when they were loaded): the same events are the same version, so training_set,
    # which they label, stays in sync when rescore_all derives them again after retrain.
    content = sorted(
        zip(
            stored["company_id"].astype(str),
            stored["event_date"].astype(str),
            stored["kind"],
            stored["source"],
            stored["reference"],
            strict=True,
        )
    )
    return dg.MaterializeResult(
        metadata={
            "events": len(stored),
            "events_derived": len(rows),
            **work.metadata(),
            "preview": dg.MetadataValue.md(preview),
            SHARED_TOKEN: shared,
        },
        data_version=dg.DataVersion(sha256_hex(json.dumps([list(c) for c in content]).encode())[:16]),
    )


_NO_DOCUMENTS = pd.DataFrame(columns=[c.name for c in TABLES["raw_filings"].columns])
# The documents company_signals reads.
SIGNAL_DOCUMENTS = ("sec:submissions", "dart:auditOpinion", "dart:list:A")


def company_signals(
    company_id: str, documents: dict[str, bytes], fetched: pd.DataFrame, filings: FilingsSource, log
) -> list[dict]:
    """Every early-warning signal of one company from its stored documents."""
    signals: list[dict] = []
    submissions = [payload for _name, payload in _json_documents(documents, "sec:submissions")]
    for payload in submissions:
        signals += early_warning.sec_late_filing_signals(payload, company_id)
    if submissions:
        signals += early_warning.sec_overdue_signals(
            submissions, company_id, filings.complete_until(fetched, "sec", "submissions", submissions)
        )
    for name, payload in _json_documents(documents, "dart:auditOpinion"):
        try:
            signals += early_warning.dart_audit_opinion_signals(payload, company_id)
        except ValueError as error:
            log.warning(f"{company_id} {name}: {error}")
    lists = [payload for _name, payload in _json_documents(documents, "dart:list:A")]
    rows = [row for payload in lists for row in payload.get("list") or []]
    if rows:
        signals += early_warning.dart_overdue_signals(
            rows, company_id, filings.complete_until(fetched, "dart", "list:A", lists)
        )
    return signals


@dg.asset(
    group_name="sources",
    kinds={"sql"},
    deps=[raw_filings],
    automation_condition=FOLLOW_UPSTREAM,
    description="Early-warning signals from the same feeds: late-filing notices (NT 10-K / NT 10-Q), non-clean "
    "audit opinions on OpenDART, and reports overdue against the company's own filing calendar. New signals "
    "are marked alert_pending for risk_alerts.",
)
def warning_signals(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    filings: FilingsSource,
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    # Overdue reports are judged against today's date: a new day re-derives every company's signals.
    shared = sha256_hex(json.dumps([code_version(), dt.date.today().isoformat()]).encode())
    work = company_work(context, store, shared, lambda: store.distinct("companies", "company_id"), None)
    existing = store.read("warning_signals", where={"company_id": work.companies})
    pending = {(r.company_id, r.kind, r.reference): bool(r.alert_pending) for r in existing.itertuples()}
    now, total, new = utc_now(), 0, 0
    counts: dict[str, int] = {}
    fetched_of = latest_document_rows_by_company(store, work.companies)
    stored_companies = set(existing["company_id"])
    for company_id in work.companies:
        fetched = fetched_of.get(company_id, _NO_DOCUMENTS)
        if fetched.empty and company_id not in stored_companies:
            continue  # no documents and no stored signals: nothing to derive, nothing to replace
        documents = latest_documents(store, objects, company_id, SIGNAL_DOCUMENTS, rows=fetched)
        signals = company_signals(company_id, documents, fetched, filings, context.log)
        rows = {}
        for signal in signals:
            key = (company_id, signal["kind"], signal["reference"])
            is_new = key not in pending
            new += is_new
            rows[key] = {**signal, "alert_pending": pending.get(key, True), "loaded_at": now}
            counts[signal["kind"]] = counts.get(signal["kind"], 0) + 1
        # One transaction per company: its signals as the documents now say (a flag already handled stays so).
        store.upsert("warning_signals", list(rows.values()), replace={"company_id": company_id})
        total += len(rows)
    with store.transaction() as conn:
        store.clear_stale(conn, "warning_signals", work.marks)
    frame = store.read("warning_signals").sort_values("signal_date").tail(10)
    preview = (
        frame[["company_id", "kind", "signal_date", "detail"]].to_markdown(index=False)
        if len(frame)
        else "none"
    )
    return dg.MaterializeResult(
        metadata={
            "signals": total,
            "new_signals": new,
            **work.metadata(),
            SHARED_TOKEN: shared,
            **{f"{k}": v for k, v in counts.items()},
            "latest": dg.MetadataValue.md(preview),
        }
    )
