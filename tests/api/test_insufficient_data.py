"""A statement with too few of its model's features is served as insufficient data, never as a PD."""

from __future__ import annotations

import sqlalchemy as sa

from risk_assets.commands.graph import run_job
from risk_assets.storage.schema import statements
from tests.api.conftest import bearer

MARVELL = "sec-0001835632"
BLANK = (
    "current_assets",
    "current_liabilities",
    "retained_earnings",
    "ebit",
    "revenue",
    "net_income",
    "long_term_debt",
    "inventory",
    "gross_profit",
    "cost_of_goods_sold",
    "depreciation_amortization",
    "total_liabilities",
    "market_value_equity",
    "pretax_income",
    "operating_cash_flow",
)


def test_too_few_features_give_no_pd_no_grade_and_a_reason(fresh_api):
    store = fresh_api.warehouse
    latest = (
        store.read("statements", where={"company_id": MARVELL})
        .sort_values(["period_end", "filed_at"])
        .iloc[-1]
    )
    with store.transaction() as conn:
        conn.execute(
            sa.update(statements)
            .where(
                statements.c.company_id == MARVELL,
                statements.c.accession == latest["accession"],
                statements.c.period_end == latest["period_end"],
            )
            .values(**{item: None for item in BLANK})
        )
    assert run_job("rescore_all").success
    rows = store.read("risk_scores", where={"company_id": MARVELL, "kind": "current"}).sort_values(
        "scored_at"
    )
    row = rows.iloc[-1]
    assert row["status"] == "insufficient_data" and row["domain_note"].startswith("insufficient data")
    assert not bool(row["alert_pending"])  # nothing to alert on without a PD
    served = fresh_api.client.get(f"/v1/companies/{MARVELL}", headers=bearer(fresh_api.keys["reader"])).json()
    score = served["latest_score"]
    assert score["status"] == "insufficient_data" and score["pd"] is None and score["grade"] is None
    assert score["agency_band"] is None and "missing" in score["domain_note"]
