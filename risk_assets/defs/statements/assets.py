"""Canonical statements: every annual filing version of every company, normalised to the canonical items."""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS, ISSUES_COLUMN, STATEMENT_META_COLUMNS
from risk_assets.core.dart_statements import normalize_fnltt
from risk_assets.core.quality import validate_statements
from risk_assets.core.sec_statements import normalize_companyfacts
from risk_assets.defs.partitions import company_partitions
from risk_assets.defs.resources import ObjectStoreResource, WarehouseResource
from risk_assets.defs.sources.assets import latest_documents, raw_filings

STATEMENT_COLUMNS = list(STATEMENT_META_COLUMNS) + list(CANONICAL_ITEMS)


def normalize_documents(company_id: str, documents: dict[str, bytes]) -> tuple[pd.DataFrame, list[dict]]:
    """Parse a company's raw documents into statement versions; a document that cannot be parsed is
    rejected as a whole with the reason, the others still land."""
    frames, rejected = [], []
    for name, body in sorted(documents.items()):
        source, kind = name.split(":", 1)
        try:
            if source == "sec" and kind == "companyfacts":
                frames.append(normalize_companyfacts(json.loads(body), company_id))
            elif source == "dart" and kind.startswith("fnlttSinglAcntAll"):
                frames.append(normalize_fnltt(json.loads(body), company_id))
        except (ValueError, KeyError, TypeError) as error:
            rejected.append({"company_id": company_id, "record_key": name[:128], "reason": f"unparseable: {error}"})
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=STATEMENT_COLUMNS)
    frame = frame.reindex(columns=STATEMENT_COLUMNS + [ISSUES_COLUMN])
    # The same version can arrive through two documents (DART comparatives): keep one per key.
    frame = frame.drop_duplicates(subset=["company_id", "period_end", "accession"], keep="last")
    return frame, rejected


@dg.asset(
    group_name="statements",
    kinds={"pandas", "sql"},
    partitions_def=company_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[raw_filings],
    description="Canonical annual statements, one row per company x fiscal period x filing version "
    "(restatements kept with their filed_at and accession). Bad rows are rejected with a reason.",
)
def statements(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    landed = rejected_total = 0
    for company_id in context.partition_keys:
        frame, rejected = normalize_documents(company_id, latest_documents(store, objects, company_id))
        good, bad = validate_statements(frame)
        rejected += bad.to_dict("records")
        # One transaction per company: replace its rows, record why others were refused.
        with store.transaction() as conn:
            store.upsert("statements", good[STATEMENT_COLUMNS], replace={"company_id": company_id}, connection=conn)
            store.upsert(
                "rejected_records",
                [{**r, "stage": "statements", "detected_at": now} for r in rejected],
                replace={"stage": "statements", "company_id": company_id},
                connection=conn,
            )
        for r in rejected:
            context.log.warning(f"rejected {company_id} {r['record_key']}: {r['reason']}")
        landed += len(good)
        rejected_total += len(rejected)
    return dg.MaterializeResult(
        metadata={"rows": landed, "rejected": rejected_total, "companies": len(context.partition_keys)}
    )
