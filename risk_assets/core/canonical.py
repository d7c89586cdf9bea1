"""The canonical statement items every source is normalised to.

One wide row per company x fiscal period x filing version. Amounts are in the filing currency
(recorded beside them); unknown stays None, never zero. ``pretax_income`` is added to the design's list
because the Polish training data's "gross profit" is a pre-tax profit and several ratios need it.
"""

from __future__ import annotations

BALANCE_SHEET_ITEMS: tuple[str, ...] = (
    "total_assets",
    "total_liabilities",
    "current_assets",
    "current_liabilities",
    "cash",
    "receivables",
    "inventory",
    "total_equity",
    "retained_earnings",
    "long_term_debt",
    "short_term_debt",
    "shares_outstanding",
)

FLOW_ITEMS: tuple[str, ...] = (
    "revenue",
    "cost_of_goods_sold",
    "gross_profit",
    "operating_expenses",
    "ebit",
    "ebitda",
    "depreciation_amortization",
    "interest_expense",
    "pretax_income",
    "net_income",
    "operating_cash_flow",
)

MARKET_ITEMS: tuple[str, ...] = ("market_value_equity",)

CANONICAL_ITEMS: tuple[str, ...] = BALANCE_SHEET_ITEMS + FLOW_ITEMS + MARKET_ITEMS

ITEM_DESCRIPTIONS: dict[str, str] = {
    "total_assets": "Total assets",
    "total_liabilities": "Total liabilities",
    "current_assets": "Total current assets",
    "current_liabilities": "Total current (short-term) liabilities",
    "cash": "Cash and cash equivalents",
    "receivables": "Trade and other receivables, current",
    "inventory": "Inventories",
    "total_equity": "Total equity on the balance sheet, including non-controlling interests (parent-only when that is all reported)",
    "retained_earnings": "Retained earnings (accumulated deficit)",
    "long_term_debt": "Long-term borrowings, non-current portion",
    "short_term_debt": "Short-term borrowings and current portion of long-term debt",
    "shares_outstanding": "Common shares outstanding at the balance-sheet date",
    "revenue": "Revenue (net sales)",
    "cost_of_goods_sold": "Cost of goods sold / cost of revenue",
    "gross_profit": "Gross profit (revenue minus cost of goods sold)",
    "operating_expenses": "Operating expenses other than cost of goods sold (SG&A, R&D, ...)",
    "ebit": "Operating income (EBIT)",
    "ebitda": "EBIT plus depreciation and amortisation",
    "depreciation_amortization": "Depreciation and amortisation",
    "interest_expense": "Interest expense (not total finance costs)",
    "pretax_income": "Income before income taxes",
    "net_income": "Net income attributable to the parent",
    "operating_cash_flow": "Net cash from operating activities",
    "market_value_equity": "Market value of equity (shares outstanding x price at the balance-sheet date)",
}

#: Columns that identify one statement version, beside the items.
STATEMENT_KEY_COLUMNS: tuple[str, ...] = ("company_id", "period_end", "accession")

#: Metadata columns of a normalised statement row.
STATEMENT_META_COLUMNS: tuple[str, ...] = (
    "company_id",
    "fiscal_year",
    "period_start",
    "period_end",
    "filed_at",
    "accession",
    "form",
    "currency",
    "source",
    "derived_items",
)

#: Set by the normalisers on rows of a filing that carried an unusable value (text where a number belongs,
#: a non-finite number); validation rejects those rows with this text as the reason.
ISSUES_COLUMN = "issues"


def item_records(frame) -> list[dict[str, float | None]]:
    """Each row's canonical items as {item: float or None} (a missing column or value is None), in row order:
    one conversion of the whole frame instead of a Series lookup per item and row."""
    import numpy as np

    block = frame.reindex(columns=list(CANONICAL_ITEMS))
    values = block.where(block.notna(), np.nan).astype(float).to_numpy()
    return [
        {
            item: (None if value != value else float(value))
            for item, value in zip(CANONICAL_ITEMS, row, strict=True)
        }
        for row in values.tolist()
    ]
