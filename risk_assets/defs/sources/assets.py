"""Sources: the company universe, raw filings (stored before parsing), default events and early-warning signals.

Two modes, one code path after the fetch (``RISKGRAPH_DATA_SOURCE``):
- ``bundled`` (the embedded default): the universe is data/universe.csv and the documents are the bundled
  recorded responses (bundled.py), stored in the object store exactly as a fetch would store them;
- ``live``: the universe is the watchlist, enriched from SEC submissions / OpenDART company.json, and the
  documents are fetched through the source clients, every body stored (RawCapture) before anything parses it.
"""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from risk_assets.clients import SourceError
from risk_assets.core import early_warning
from risk_assets.core import events as event_parsers
from risk_assets.core.sectors import is_financial_ksic, is_financial_sic, sector_from_ksic, sector_from_sic
from risk_assets.defs.partitions import company_partitions
from risk_assets.defs.resources import (
    ObjectStoreResource,
    OpenDartResource,
    SecEdgarResource,
    WarehouseResource,
)
from risk_assets.defs.sources import bundled, fetch
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import utc_now
from risk_assets.storage.watchlist import list_watchlist

#: Downstream assets of partitioned ones follow new data by declarative automation. Without the
#: any_deps_missing clause removed, an unpartitioned asset downstream of a dynamic partition set would wait
#: forever for partitions that never materialise (DESIGN.md, "Sensors"). The sensor that evaluates these
#: conditions is off by default (definitions in sensors.py), so `dagster dev` starts nothing on its own.
FOLLOW_UPSTREAM = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())



def _live(settings: Settings | None = None) -> bool:
    mode = (settings or Settings.from_env()).data_source.strip().lower()
    if mode not in ("bundled", "live"):
        raise dg.Failure(f"RISKGRAPH_DATA_SOURCE must be 'bundled' or 'live', got {mode!r}")
    return mode == "live"


def _company_row(row: dict[str, str], updated_at: dt.datetime) -> dict:
    sic, ksic = row.get("sic") or None, row.get("induty_code") or None
    return {
        "company_id": row["company_id"],
        "name": row["name"],
        "ticker": row.get("ticker") or None,
        "cik": row.get("cik") or None,
        "dart_corp_code": row.get("dart_corp_code") or None,
        "country": row["country"],
        "currency": row.get("currency") or None,
        "sic": sic,
        "induty_code": ksic,
        "sector": sector_from_sic(sic) if sic else sector_from_ksic(ksic),
        "is_financial": is_financial_sic(sic) or is_financial_ksic(ksic),
        "fiscal_year_end": row.get("fiscal_year_end") or None,
        "source": "sec" if row.get("cik") else "dart",
        "updated_at": updated_at,
    }


def enrich_companies(entries: pd.DataFrame, sec: SecEdgarResource, dart: OpenDartResource, capture: fetch.RawCapture,
                     log) -> list[dict]:
    """companies rows for watchlist entries: SEC submissions (name, SIC, fiscal year end, ticker) for a CIK,
    OpenDART company.json (name, KSIC, fiscal month) for a corp code. Entries that cannot be resolved are
    skipped with a warning (a wrong identifier must not stop the others)."""
    rows, now = [], utc_now()
    sec_client = sec.client(raw_sink=capture) if sec.is_configured() else None
    dart_client = dart.client(raw_sink=capture) if dart.is_configured() else None
    try:
        for entry in entries.to_dict("records"):
            company_id, capture.company_id = entry["company_id"], entry["company_id"]
            try:
                if entry.get("cik"):
                    if sec_client is None:
                        raise dg.Failure("live mode needs RISKGRAPH_SEC_USER_AGENT ('Name contact@example.com')")
                    submissions = sec_client.submissions(entry["cik"], include_older_pages=False)
                    rows.append(fetch.company_row_from_sec(submissions, company_id, entry["cik"], now))
                elif entry.get("dart_corp_code"):
                    if dart_client is None:
                        raise dg.Failure("live mode needs OPENDART_API_KEY for DART companies")
                    overview = dart_client.company(entry["dart_corp_code"])
                    if overview is None:
                        log.warning(f"OpenDART has no company {entry['dart_corp_code']} ({company_id}): skipped")
                        continue
                    rows.append(fetch.company_row_from_dart(overview, company_id, entry["dart_corp_code"], now))
            except SourceError as error:
                log.warning(f"{company_id}: not added to the universe: {error}")
    finally:
        for client in (sec_client, dart_client):
            if client is not None:
                client.close()
    return rows


@dg.asset(
    group_name="sources",
    kinds={"python", "sql"},
    description="Companies to cover, with identifiers (CIK, DART corp code), sector and the financial-firm flag. "
    "Bundled mode: data/universe.csv; live mode: the watchlist, enriched from SEC submissions and OpenDART "
    "company.json. Registers one `companies` partition per company.",
)
def company_universe(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    sec: SecEdgarResource,
    dart: OpenDartResource,
) -> dg.MaterializeResult:
    store = warehouse.get()
    store.create_schema()
    if _live():
        capture = fetch.RawCapture(object_store.get())
        watched = list_watchlist(store)
        rows = enrich_companies(watched, sec, dart, capture, context.log)
        store.upsert("raw_filings", capture.take_rows())
        if watched.empty:
            context.log.warning("live mode and an empty watchlist: add companies with `riskgraph watchlist add`")
    else:
        now = utc_now()
        rows = [_company_row(row, now) for row in bundled.universe_rows()]
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
            "mode": "live" if _live() else "bundled",
            "preview": dg.MetadataValue.md(frame.to_markdown(index=False) if rows else "none"),
        }
    )


def _documents_for(company: pd.Series) -> list[bundled.RawDocument]:
    if company["cik"]:
        return bundled.sec_documents(company["cik"])
    if company["dart_corp_code"]:
        return bundled.dart_documents(company["dart_corp_code"])
    return []


def _store_bundled(objects, company: pd.Series) -> list[dict]:
    """The bundled documents of a company, stored exactly as a live fetch stores them."""
    capture = fetch.RawCapture(objects, company_id=company["company_id"])
    for document in _documents_for(company):
        capture.store(document.source, document.kind, document.body, document.content_type)
    return capture.take_rows()


def _stored_rcept(store, objects, company_id: str):
    """kind prefix ("fnlttSinglAcntAll:2023:11011") -> the newest rcept_no already stored for it."""
    frame = latest_document_rows(store, company_id)
    frame = frame[frame["kind"].str.startswith("fnlttSinglAcntAll:")]

    def stored(prefix: str) -> str | None:
        found = [fetch.rcept_no_of(objects.get(row.object_key)) for row in frame.itertuples()
                 if row.kind.rsplit(":", 1)[0] == prefix]
        found = [r for r in found if r]
        return max(found) if found else None

    return stored


def _fetch_live(context, store, objects, companies: pd.DataFrame, sec: SecEdgarResource,
                dart: OpenDartResource) -> tuple[int, int, list[str]]:
    """Fetch every company's documents; a company whose source fails is logged and listed, the others land
    (what a failing company had stored before stays: each company is its own transaction)."""
    capture = fetch.RawCapture(objects)
    sec_client = sec.client(raw_sink=capture) if sec.is_configured() else None
    dart_client = dart.client(raw_sink=capture) if dart.is_configured() else None
    stored = total_bytes = 0
    failed: list[str] = []
    try:
        for _, company in companies.iterrows():
            company_id = capture.company_id = company["company_id"]
            try:
                if company["cik"]:
                    if sec_client is None:
                        raise dg.Failure("live mode needs RISKGRAPH_SEC_USER_AGENT ('Name contact@example.com')")
                    fetch.fetch_sec_documents(sec_client, company["cik"], log=context.log.warning)
                elif company["dart_corp_code"]:
                    if dart_client is None:
                        raise dg.Failure("live mode needs OPENDART_API_KEY for DART companies")
                    counts = fetch.fetch_dart_documents(
                        dart_client, company["dart_corp_code"], today=dt.date.today(),
                        stored_rcept=_stored_rcept(store, objects, company_id), log=context.log.warning,
                    )
                    context.log.info(f"{company_id}: OpenDART requests {counts}")
            except SourceError as error:
                context.log.warning(f"{company_id}: fetch failed, its stored documents are unchanged: {error}")
                failed.append(company_id)
            # Whatever arrived before a failure was stored by the capture: index it too.
            rows = capture.take_rows()
            total_bytes += sum(r["size_bytes"] for r in rows)
            store.upsert("raw_filings", rows)  # one transaction per company
            stored += len(rows)
    finally:
        for client in (sec_client, dart_client):
            if client is not None:
                client.close()
    if failed and len(failed) == len(companies):
        raise dg.Failure(f"every fetch failed: {', '.join(failed)} (see the warnings above)")
    return stored, total_bytes, failed


def _ensure_companies(context, store, objects, keys: list[str], sec, dart) -> pd.DataFrame:
    """companies rows of the partitions; live partitions registered by the sensor before the universe ran
    are enriched here from the watchlist, so an ingest run never depends on the order of runs."""
    companies = store.read("companies", where={"company_id": keys})
    missing = sorted(set(keys) - set(companies["company_id"]))
    if missing and _live():
        watched = list_watchlist(store)
        entries = watched[watched["company_id"].isin(missing)]
        capture = fetch.RawCapture(objects)
        rows = enrich_companies(entries, sec, dart, capture, context.log)
        store.upsert("companies", rows)
        store.upsert("raw_filings", capture.take_rows())
        companies = store.read("companies", where={"company_id": keys})
    for key in sorted(set(keys) - set(companies["company_id"])):
        context.log.warning(f"{key}: no companies row (not in the universe or the watchlist): nothing fetched")
    return companies


@dg.asset(
    group_name="sources",
    kinds={"s3", "sql"},
    partitions_def=company_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[company_universe],
    description="Raw source documents per company: SEC submissions (every page) and companyfacts; OpenDART "
    "company overview, periodic-report list, statements (annual and quarterly), distress events and audit "
    "opinion. Stored byte-for-byte in the object store under their sha256 before anything parses them.",
)
def raw_filings(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    sec: SecEdgarResource,
    dart: OpenDartResource,
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    keys = list(context.partition_keys)
    if _live():
        companies = _ensure_companies(context, store, objects, keys, sec, dart)
        stored, total_bytes, failed = _fetch_live(context, store, objects, companies, sec, dart)
    else:
        companies = store.read("companies", where={"company_id": keys})
        stored = total_bytes = 0
        failed = []
        for _, company in companies.iterrows():
            rows = _store_bundled(objects, company)
            if not rows:
                context.log.warning(f"no source documents for {company['company_id']}")
            # One transaction per partition; same bytes -> same key, so a re-run updates fetched_at only.
            store.upsert("raw_filings", rows)
            stored += len(rows)
            total_bytes += sum(r["size_bytes"] for r in rows)
    return dg.MaterializeResult(
        metadata={"documents": stored, "bytes": total_bytes, "companies": len(companies),
                  "failed": ", ".join(failed) or "none", "mode": "live" if _live() else "bundled",
                  "object_store": objects.url}
    )


def latest_document_rows(store, company_id: str) -> pd.DataFrame:
    """The raw_filings row of the most recently fetched document of each (source, kind) of a company."""
    frame = store.read("raw_filings", where={"company_id": company_id}, order_by=["fetched_at"])
    return frame.drop_duplicates(subset=["source", "kind"], keep="last")


def latest_documents(store, objects, company_id: str, prefixes: tuple[str, ...] = (),
                     rows: pd.DataFrame | None = None) -> dict[str, bytes]:
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
    companies = store.read("companies")
    events: list[dict] = []
    prefixes = ("sec:submissions", *(f"dart:{endpoint}" for endpoint in event_parsers.DART_EVENT_KINDS))
    for company_id in companies["company_id"]:
        documents = latest_documents(store, objects, company_id, prefixes)
        for _name, submissions in _json_documents(documents, "sec:submissions"):
            events += event_parsers.sec_default_events(submissions, company_id)
        for endpoint in event_parsers.DART_EVENT_KINDS:
            for name, payload in _json_documents(documents, f"dart:{endpoint}"):
                try:
                    events += event_parsers.dart_default_events(payload, endpoint, company_id)
                except ValueError as error:
                    context.log.warning(f"{company_id} {name}: {error}")
    known = set(companies["company_id"])
    for row in bundled.bundled_default_events():
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
    store.upsert("default_events", rows)
    frame = pd.DataFrame(rows)
    preview = frame[["company_id", "event_date", "kind", "source"]].to_markdown(index=False) if rows else "none"
    return dg.MaterializeResult(metadata={"events": len(rows), "preview": dg.MetadataValue.md(preview)})


# The documents company_signals reads.
SIGNAL_DOCUMENTS = ("sec:submissions", "dart:auditOpinion", "dart:list:A")


def company_signals(company_id: str, documents: dict[str, bytes], fetched: pd.DataFrame, live: bool,
                    log) -> list[dict]:
    """Every early-warning signal of one company from its stored documents."""
    signals: list[dict] = []
    submissions = [payload for _name, payload in _json_documents(documents, "sec:submissions")]
    for payload in submissions:
        signals += early_warning.sec_late_filing_signals(payload, company_id)
    if submissions:
        signals += early_warning.sec_overdue_signals(
            submissions, company_id, _horizon(fetched, "sec", "submissions", submissions, live))
    for name, payload in _json_documents(documents, "dart:auditOpinion"):
        try:
            signals += early_warning.dart_audit_opinion_signals(payload, company_id)
        except ValueError as error:
            log.warning(f"{company_id} {name}: {error}")
    lists = [payload for _name, payload in _json_documents(documents, "dart:list:A")]
    rows = [row for payload in lists for row in payload.get("list") or []]
    if rows:
        signals += early_warning.dart_overdue_signals(rows, company_id, _horizon(fetched, "dart", "list:A", lists,
                                                                                  live))
    return signals


def _horizon(fetched: pd.DataFrame, source: str, kind_prefix: str, payloads: list[dict], live: bool) -> dt.date:
    """Up to when the filing list is complete: the day it was fetched (live), or, for the bundled snapshot,
    its newest filing date (the snapshot was taken then; judging later deadlines would invent misses)."""
    if live:
        mine = fetched[(fetched["source"] == source) & fetched["kind"].str.startswith(kind_prefix)]
        return pd.to_datetime(mine["fetched_at"]).min().date()
    dates = []
    for payload in payloads:
        filings = payload.get("filings")
        columns = (filings.get("recent") or {}) if isinstance(filings, dict) else payload
        dates += [event_parsers.parse_loose_date(d) for d in columns.get("filingDate") or []]
        dates += [event_parsers.parse_loose_date(str(r.get("rcept_dt") or "")) for r in payload.get("list") or []]
    return max((d for d in dates if d is not None), default=dt.date.min)


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
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    live = _live()
    companies = store.read("companies")
    existing = store.read("warning_signals")
    pending = {(r.company_id, r.kind, r.reference): bool(r.alert_pending) for r in existing.itertuples()}
    now, total, new = utc_now(), 0, 0
    counts: dict[str, int] = {}
    for company_id in companies["company_id"]:
        fetched = latest_document_rows(store, company_id)
        documents = latest_documents(store, objects, company_id, SIGNAL_DOCUMENTS, rows=fetched)
        signals = company_signals(company_id, documents, fetched, live, context.log)
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
    frame = store.read("warning_signals").sort_values("signal_date").tail(10)
    preview = frame[["company_id", "kind", "signal_date", "detail"]].to_markdown(index=False) if len(frame) else "none"
    return dg.MaterializeResult(
        metadata={"signals": total, "new_signals": new, **{f"{k}": v for k, v in counts.items()},
                  "latest": dg.MetadataValue.md(preview)}
    )
