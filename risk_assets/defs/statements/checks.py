"""Checks on canonical statements."""

import dagster as dg
import pandas as pd

from risk_assets.core.quality import accounting_identity
from risk_assets.defs.resources import WarehouseResource
from risk_assets.defs.statements.assets import UNPARSEABLE, statements

IDENTITY_TOLERANCE = 0.01  # |A - (L + E)| within 1% of assets
MAX_VIOLATION_SHARE = 0.05  # fail when more than 5% of checkable rows violate it


@dg.asset_check(
    asset=statements,
    blocking=True,
    description="assets = liabilities + equity within 1% of "
    "assets, on rows where no side was derived from the identity; fails above 5% violating rows.",
)
def accounting_identity_holds(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    report = accounting_identity(warehouse.get().read("statements"), tolerance=IDENTITY_TOLERANCE)
    return dg.AssetCheckResult(
        passed=report.checked > 0 and report.violation_share <= MAX_VIOLATION_SHARE,
        metadata={
            "rows": report.rows,
            "checked": report.checked,
            "derived_excluded": report.derived_excluded,
            "incomplete_excluded": report.incomplete_excluded,
            "violations": report.violations,
            "violation_share": round(report.violation_share, 4),
            "worst": dg.MetadataValue.md(
                report.worst.to_markdown(index=False) if len(report.worst) else "none"
            ),
        },
    )


@dg.asset_check(
    asset=statements,
    blocking=True,
    description="Every stored document of the run's companies "
    "parsed (a truncated or corrupt companyfacts / DART file fails it, naming the company and document; "
    "that company's stored statements are kept as they were).",
)
def documents_parse(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    rejected = warehouse.get().read("rejected_records", where={"stage": "statements"})
    if context.has_partition_key or context.has_partition_key_range:
        rejected = rejected[rejected["company_id"].isin(context.partition_keys)]
    failed = rejected[rejected["reason"].str.startswith(UNPARSEABLE)] if len(rejected) else rejected
    listing = pd.DataFrame(
        {
            "company": failed.get("company_id", pd.Series(dtype=str)),
            "document": failed.get("record_key", pd.Series(dtype=str)),
            "reason": failed.get("reason", pd.Series(dtype=str)).str.slice(0, 200),
        }
    )
    return dg.AssetCheckResult(
        passed=failed.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if failed.empty
        else f"{len(failed)} document(s) could not be parsed: "
        + ", ".join(f"{c} {d}" for c, d in zip(listing["company"], listing["document"], strict=True)),
        metadata={
            "unparseable": len(failed),
            "documents": dg.MetadataValue.md(listing.to_markdown(index=False) if len(listing) else "none"),
        },
    )
