"""Checks on canonical statements."""

import dagster as dg

from risk_assets.core.quality import accounting_identity
from risk_assets.defs.resources import WarehouseResource
from risk_assets.defs.statements.assets import statements

IDENTITY_TOLERANCE = 0.01  # |A - (L + E)| within 1% of assets
MAX_VIOLATION_SHARE = 0.05  # fail when more than 5% of checkable rows violate it


@dg.asset_check(asset=statements, blocking=True, description="assets = liabilities + equity within 1% of "
                "assets, on rows where no side was derived from the identity; fails above 5% violating rows.")
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
            "worst": dg.MetadataValue.md(report.worst.to_markdown(index=False) if len(report.worst) else "none"),
        },
    )
