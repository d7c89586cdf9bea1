"""A statement with too few of its model's features is served as insufficient data, never as a PD."""

from __future__ import annotations

from risk_assets.commands.graph import run_job
from tests.api.conftest import bearer
from tests.support.statements import change_statement_in_place

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
    change_statement_in_place(store, latest, dict.fromkeys(BLANK))
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
