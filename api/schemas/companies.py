"""Companies: search results, the profile, statements by period and feature rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import Company, Drivers, Page, Score


class CompanyList(BaseModel):
    items: list[Company]
    page: Page


class ClassicScore(BaseModel):
    value: float | None = Field(default=None, examples=[6.4173])
    zone: str | None = Field(
        default=None, examples=["safe"], description="The published cut-off zone, if any"
    )
    reason: str | None = Field(default=None, examples=[None], description="Why the value is null, when it is")


class FeatureSet(BaseModel):
    """The model ratios (Polish attribute names, see the model card) and classic scores of one statement version."""

    period_end: dt.date = Field(examples=["2025-09-27"])
    fiscal_year: int = Field(examples=[2025])
    accession: str = Field(examples=["0000320193-25-000079"])
    filed_at: dt.date = Field(examples=["2025-10-31"])
    currency: str = Field(examples=["USD"])
    ratios: dict[str, float | None] = Field(examples=[{"Attr1": 0.3118, "Attr2": 0.7948}])
    classic: dict[str, ClassicScore] = Field(
        examples=[{"altman_z_double_prime": {"value": 6.4173, "zone": "safe", "reason": None}}]
    )
    period_type: str | None = Field(default=None, examples=["FY"], description="FY, or TTM for a quarter end")
    fiscal_period: str | None = Field(default=None, examples=["FY"], description="FY, Q1, Q2 or Q3")
    merton_dd: float | None = Field(default=None, description="Merton distance to default, when prices exist")
    market: dict[str, Any] | None = Field(
        default=None,
        description="Market inputs (price, market value, volatility, the Merton solve) with their dates",
    )
    macro: dict[str, Any] | None = Field(
        default=None, description="Macro values as released on or before filed_at"
    )
    warnings: dict[str, Any] | None = Field(default=None, description="Early-warning flags known at filed_at")


class LatestScore(Score):
    drivers: Drivers


class CompanyProfile(BaseModel):
    company: Company
    on_watchlist: bool = Field(description="Whether the filings sensor follows this company")
    latest_score: LatestScore | None = Field(
        description="The newest snapshot; null before the company is scored"
    )
    latest_features: FeatureSet | None = Field(description="The feature row behind the latest score")


class Statement(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"])
    fiscal_year: int = Field(examples=[2025])
    period_start: dt.date | None = Field(default=None, examples=["2024-09-29"])
    period_end: dt.date = Field(examples=["2025-09-27"])
    filed_at: dt.date = Field(examples=["2025-10-31"])
    accession: str = Field(examples=["0000320193-25-000079"])
    form: str | None = Field(default=None, examples=["10-K"])
    currency: str = Field(examples=["USD"])
    source: str = Field(examples=["sec_companyfacts"])
    derived_items: list[str] = Field(examples=[["ebitda"]], description="Items computed from an identity")
    period_type: str | None = Field(
        default=None,
        examples=["FY"],
        description="FY (an annual filing) or TTM (trailing twelve months at a quarter end)",
    )
    fiscal_period: str | None = Field(default=None, examples=["FY"], description="FY, Q1, Q2 or Q3")
    items: dict[str, float | None] = Field(
        examples=[
            {"total_assets": 359241000000.0, "total_liabilities": 285508000000.0, "revenue": 416161000000.0}
        ],
        description="Canonical items in the filing currency; null = unknown (never zero)",
    )


class StatementList(BaseModel):
    company_id: str
    items: list[Statement]
    page: Page


class FeatureList(BaseModel):
    company_id: str
    items: list[FeatureSet]
    page: Page


class ScoreHistory(BaseModel):
    company: Company
    scores: list[Score]
