"""Ad-hoc scoring: canonical statement items in, PD, grade and drivers from the champion out.

The item models are built from core/canonical.py, so a new canonical item appears here without an edit.
Unknown names are refused (with the name), numbers must be finite, total assets positive.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from api.schemas.common import Drivers
from risk_assets.core.canonical import CANONICAL_ITEMS, ITEM_DESCRIPTIONS
from risk_assets.core.ratios import PRIOR_YEAR_INPUTS

MAX_SCORE_BATCH = 500
_ITEMS_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
_MAX_ABS = 1e18  # far above any company's figure in any currency; keeps ratios finite


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: 5 or 5.0, never "5" or true (the models are strict)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _item_fields(total_assets_required: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for item in CANONICAL_ITEMS:
        description = ITEM_DESCRIPTIONS.get(item, item)
        if item == "total_assets":
            bounds = {"gt": 0, "le": _MAX_ABS}
            default = ... if total_assets_required else None
            kind = float if total_assets_required else float | None
            fields[item] = (kind, Field(default, description=f"{description} (> 0)", **bounds))
        else:
            fields[item] = (float | None, Field(None, description=description, ge=-_MAX_ABS, le=_MAX_ABS))
    return fields


StatementItems = create_model(
    "StatementItems",
    __config__=_ITEMS_CONFIG,
    __doc__="Canonical items of one annual statement, in one currency; omit (or null) what is unknown.",
    **_item_fields(total_assets_required=True),
)

PriorYearItems = create_model(
    "PriorYearItems",
    __config__=_ITEMS_CONFIG,
    __doc__="Items of an earlier fiscal year; only the growth ratios read them.",
    **_item_fields(total_assets_required=False),
)

_PRIOR_YEARS = max(PRIOR_YEAR_INPUTS) if PRIOR_YEAR_INPUTS else 0
_EXAMPLE_ITEMS = {
    "total_assets": 359241000000.0,
    "total_liabilities": 285508000000.0,
    "current_assets": 147957000000.0,
    "current_liabilities": 165631000000.0,
    "cash": 35934000000.0,
    "receivables": 39777000000.0,
    "inventory": 5718000000.0,
    "total_equity": 73733000000.0,
    "retained_earnings": -14264000000.0,
    "revenue": 416161000000.0,
    "cost_of_goods_sold": 220960000000.0,
    "ebit": 133050000000.0,
    "depreciation_amortization": 11698000000.0,
    "pretax_income": 132729000000.0,
    "net_income": 112010000000.0,
    "operating_cash_flow": 111482000000.0,
    "long_term_debt": 78328000000.0,
    "short_term_debt": 20329000000.0,
}


class ScoreInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reference: str | None = Field(
        default=None, max_length=100, examples=["applicant-42"], description="Your identifier, echoed back"
    )
    items: StatementItems  # type: ignore[valid-type]
    prior_years: list[PriorYearItems] = Field(  # type: ignore[valid-type]
        default_factory=list,
        max_length=_PRIOR_YEARS,
        description=f"Fiscal years t-1, t-2 (newest first, up to {_PRIOR_YEARS}); optional, for growth ratios",
    )
    segment: Literal["listed_market", "listed_statements", "sme"] | None = Field(
        default=None,
        description="The model to score with. Omitted: listed_market when the items carry "
        "market_value_equity, else listed_statements; send sme for a private company or SME",
    )
    currency: Literal["USD", "KRW"] = Field(
        default="USD", description="Currency of the items (size is measured in real US dollars)"
    )
    fiscal_year: Annotated[int, Field(ge=1960, le=2100), BeforeValidator(_json_integer)] | None = Field(
        default=None, description="Fiscal year of the items (1960-2100; deflates size); default: last year"
    )


class ScoreRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "statements": [
                        {
                            "reference": "apple-fy2025",
                            "items": _EXAMPLE_ITEMS,
                            "prior_years": [{"pretax_income": 123485000000.0, "revenue": 391035000000.0}],
                        }
                    ]
                }
            ]
        },
    )

    statements: list[ScoreInput] = Field(
        min_length=1,
        max_length=MAX_SCORE_BATCH,
        description=f"1 to {MAX_SCORE_BATCH} statements, scored independently",
    )
    top_drivers: Annotated[int, BeforeValidator(_json_integer)] = Field(
        default=5, ge=1, le=64, description="How many drivers to list per statement"
    )


class ScoreResult(BaseModel):
    reference: str | None = Field(examples=["apple-fy2025"])
    segment: str = Field(examples=["listed_market"], description="The segment whose champion scored it")
    segment_reason: str = Field(examples=["market_value_equity given: listed company with market data"])
    model_name: str = Field(examples=["corporate_pd_listed_market"])
    model_version: str = Field(examples=["1"])
    pd: float = Field(examples=[0.0201], description="Probability of default within one year")
    grade: str = Field(examples=["7"], description="Master-scale grade 1 (best) .. 10")
    agency_band: str = Field(
        examples=["BB"], description="Agency-equivalent band of the PD (S&P one-year default experience)"
    )
    log_odds: float = Field(examples=[-2.9154], description="The model's log-odds before calibration")
    out_of_domain: bool = Field(description="Outside the range the model was trained on: treat with care")
    domain_note: str = Field(examples=[""])
    drivers: Drivers
    ratios: dict[str, float | None] = Field(
        examples=[{"wc_ta": -0.0491}], description="The model inputs computed from the items"
    )


class ScoreResponse(BaseModel):
    model_name: str = Field(
        examples=["corporate_pd_listed_market"],
        description="The model of the first statement (each result names its own)",
    )
    model_version: str = Field(
        examples=["1"], description="The champion version that answered the first statement"
    )
    results: list[ScoreResult]
