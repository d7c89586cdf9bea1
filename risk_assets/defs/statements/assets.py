"""Canonical statements: every annual filing version of every company, normalised to the canonical items."""

import json

import dagster as dg
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS, ISSUES_COLUMN, STATEMENT_META_COLUMNS
from risk_assets.core.dart_statements import normalize_fnltt
from risk_assets.core.quality import validate_statements
from risk_assets.core.sec_statements import normalize_companyfacts
from risk_assets.core.ttm import (
    PERIOD_COLUMNS,
    dart_interim_report,
    is_dart_interim,
    sec_interim_reports,
    trailing_twelve_months,
    with_period_columns,
)
from risk_assets.defs.partitions import COMPANY_BACKFILL_POLICY, company_partitions
from risk_assets.defs.resources import ObjectStoreResource, WarehouseResource
from risk_assets.defs.sources.assets import latest_documents, raw_filings
from risk_assets.storage.warehouse import utc_now

STATEMENT_COLUMNS = list(STATEMENT_META_COLUMNS) + list(PERIOD_COLUMNS) + list(CANONICAL_ITEMS)
UNPARSEABLE = (
    "unparseable:"  # the reason prefix of a document rejected whole (checks.documents_parse fails on it)
)


def normalize_documents(company_id: str, documents: dict[str, bytes]) -> tuple[pd.DataFrame, list[dict]]:
    """Parse a company's raw documents into statement versions; a document that cannot be parsed is
    rejected as a whole with the reason, the others still land.

    Annual filings give FY rows; quarterly filings (10-Q facts, DART 11013/11012/11014 reports) give TTM
    rows built with the annual versions known on their filing dates (core/ttm.py)."""
    frames, rejected, interims = [], [], []
    for name, body in sorted(documents.items()):
        source, kind = name.split(":", 1)
        try:
            if source == "sec" and kind == "companyfacts":
                facts = json.loads(body)
                frames.append(normalize_companyfacts(facts, company_id))
                interims += sec_interim_reports(facts, company_id)
            elif source == "dart" and kind.startswith("fnlttSinglAcntAll"):
                payload = json.loads(body)
                if is_dart_interim(payload):
                    interims.append(dart_interim_report(payload, company_id))
                else:
                    frames.append(normalize_fnltt(payload, company_id))
        except (ValueError, KeyError, TypeError) as error:
            rejected.append(
                {
                    "company_id": company_id,
                    "record_key": name[:128],
                    "reason": f"{UNPARSEABLE} {error}"[:1000],
                }
            )
    annual = with_period_columns(pd.concat(frames, ignore_index=True)) if frames else None
    if annual is not None and interims:
        frames = [annual, trailing_twelve_months(annual, interims)]
    elif annual is not None:
        frames = [annual]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=STATEMENT_COLUMNS)
    frame = frame.reindex(columns=STATEMENT_COLUMNS + [ISSUES_COLUMN])
    # The same version can arrive through two documents (DART comparatives): keep one per key.
    frame = frame.drop_duplicates(subset=["company_id", "period_end", "accession"], keep="last")
    return frame, rejected


@dg.asset(
    group_name="statements",
    kinds={"pandas", "sql"},
    partitions_def=company_partitions,
    backfill_policy=COMPANY_BACKFILL_POLICY,
    deps=[raw_filings],
    description="Canonical statements, one row per company x fiscal period x filing version (restatements "
    "kept with their filed_at and accession): annual (period_type FY) and trailing twelve months at each "
    "quarter end (TTM, from quarterly filings). Bad rows are rejected with a reason.",
)
def statements(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    now = utc_now()
    landed = rejected_total = 0
    reasons: dict[str, int] = {}
    for company_id in context.partition_keys:
        frame, rejected = normalize_documents(company_id, latest_documents(store, objects, company_id))
        # A document that cannot be parsed would replace the company's rows with fewer (or none): keep what is
        # stored until it parses again; the documents_parse check fails the run meanwhile.
        unparseable = bool(rejected)
        good, bad = validate_statements(frame)
        rejected += bad.to_dict("records")
        # One transaction per company: replace its rows, record why others were refused.
        with store.transaction() as conn:
            if unparseable:
                context.log.error(
                    f"{company_id}: a document could not be parsed; its stored statements are kept"
                )
            else:
                store.upsert(
                    "statements", good[STATEMENT_COLUMNS], replace={"company_id": company_id}, connection=conn
                )
            store.upsert(
                "rejected_records",
                [{**r, "stage": "statements", "detected_at": now} for r in rejected],
                replace={"stage": "statements", "company_id": company_id},
                connection=conn,
            )
        for r in rejected:
            context.log.debug(f"rejected {company_id} {r['record_key']}: {r['reason']}")
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        landed += len(good)
        rejected_total += len(rejected)
    if reasons:  # one line for the run; each row is in rejected_records (and at DEBUG)
        context.log.warning(
            f"{rejected_total} statement period(s) rejected, kept in rejected_records: "
            + "; ".join(f"{n} x {reason}" for reason, n in sorted(reasons.items(), key=lambda x: -x[1]))
        )
    return dg.MaterializeResult(
        metadata={
            "rows": landed,
            "rejected": rejected_total,
            "companies": len(context.partition_keys),
            "rejected_reasons": dg.MetadataValue.json(reasons),
        }
    )
