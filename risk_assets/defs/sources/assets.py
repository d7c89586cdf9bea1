"""Sources: the company universe, raw filings (stored before parsing) and default events."""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from risk_assets.core import events as event_parsers
from risk_assets.core.sectors import is_financial_ksic, is_financial_sic, sector_from_ksic, sector_from_sic
from risk_assets.defs.partitions import company_partitions
from risk_assets.defs.resources import ObjectStoreResource, WarehouseResource
from risk_assets.defs.sources import bundled
from risk_assets.storage.objects import sha256_hex


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


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


@dg.asset(
    group_name="sources",
    kinds={"python", "sql"},
    description="Companies to cover, with identifiers (CIK, DART corp code), sector and the financial-firm flag. "
    "Registers one `companies` partition per company.",
)
def company_universe(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    store = warehouse.get()
    store.create_schema()
    now = _now()
    rows = [_company_row(row, now) for row in bundled.universe_rows()]
    store.upsert("companies", rows)
    keys = [row["company_id"] for row in rows]
    existing = set(context.instance.get_dynamic_partitions(company_partitions.name))
    new_keys = [key for key in keys if key not in existing]
    if new_keys:
        context.instance.add_dynamic_partitions(company_partitions.name, new_keys)
    frame = pd.DataFrame(rows)[["company_id", "name", "ticker", "country", "sector", "is_financial"]]
    return dg.MaterializeResult(
        metadata={
            "companies": len(rows),
            "new_partitions": len(new_keys),
            "preview": dg.MetadataValue.md(frame.to_markdown(index=False)),
        }
    )


def _documents_for(company: pd.Series) -> list[bundled.RawDocument]:
    if company["cik"]:
        return bundled.sec_documents(company["cik"])
    if company["dart_corp_code"]:
        return bundled.dart_documents(company["dart_corp_code"])
    return []


@dg.asset(
    group_name="sources",
    kinds={"s3", "sql"},
    partitions_def=company_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[company_universe],
    description="Raw source documents per company (SEC companyfacts/submissions, OpenDART statements), stored "
    "byte-for-byte in the object store under their sha256 before anything parses them.",
)
def raw_filings(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    companies = store.read("companies", where={"company_id": list(context.partition_keys)})
    stored, total_bytes = 0, 0
    for _, company in companies.iterrows():
        rows = []
        for document in _documents_for(company):
            digest = sha256_hex(document.body)
            key = f"raw/{document.source}/{company['company_id']}/{document.kind.replace(':', '_')}/{digest}.json"
            if not objects.exists(key):
                objects.put(key, document.body, document.content_type)
            rows.append(
                {
                    "company_id": company["company_id"],
                    "source": document.source,
                    "kind": document.kind,
                    "sha256": digest,
                    "object_key": key,
                    "content_type": document.content_type,
                    "size_bytes": len(document.body),
                    "fetched_at": _now(),
                }
            )
            total_bytes += len(document.body)
        if not rows:
            context.log.warning(f"no source documents for {company['company_id']}")
        # One transaction per partition; same bytes -> same key, so a re-run updates fetched_at only.
        store.upsert("raw_filings", rows)
        stored += len(rows)
    return dg.MaterializeResult(
        metadata={"documents": stored, "bytes": total_bytes, "companies": len(companies), "object_store": objects.url}
    )


def latest_documents(store, objects, company_id: str) -> dict[str, bytes]:
    """The most recently fetched document of each kind for a company, read back from the object store."""
    frame = store.read("raw_filings", where={"company_id": company_id}, order_by=["fetched_at"])
    latest = frame.drop_duplicates(subset=["source", "kind"], keep="last")
    return {f"{row.source}:{row.kind}": objects.get(row.object_key) for row in latest.itertuples()}


@dg.asset(
    group_name="sources",
    kinds={"sql"},
    deps=[raw_filings],
    description="Default events, the labels' source: SEC 8-K item 1.03 (bankruptcy), OpenDART major-event "
    "reports, and the bundled events CSV.",
)
def default_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    companies = store.read("companies")
    events: list[dict] = []
    for company_id in companies["company_id"]:
        documents = latest_documents(store, objects, company_id)
        submissions = documents.get("sec:submissions")
        if submissions is not None:
            events += event_parsers.sec_default_events(json.loads(submissions), company_id)
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
    now = _now()
    rows = [{**event, "loaded_at": now} for event in events]
    store.upsert("default_events", rows)
    frame = pd.DataFrame(rows)
    preview = frame[["company_id", "event_date", "kind", "source"]].to_markdown(index=False) if rows else "none"
    return dg.MaterializeResult(metadata={"events": len(rows), "preview": dg.MetadataValue.md(preview)})
