"""Response models: the API's public contract (documented in the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    warehouse: str = Field(examples=["ok"])
    version: str


class Company(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"])
    name: str = Field(examples=["Apple Inc."])
    ticker: str | None = Field(default=None, examples=["AAPL"])
    cik: str | None = Field(default=None, examples=["0000320193"])
    dart_corp_code: str | None = Field(default=None, examples=[None])
    country: str = Field(examples=["US"])
    sector: str | None = Field(default=None, examples=["Manufacturing"])
    is_financial: bool = False


class Page(BaseModel):
    limit: int
    offset: int
    count: int


class CompanyList(BaseModel):
    items: list[Company]
    page: Page


class Score(BaseModel):
    company_id: str
    as_of: dt.date = Field(description="Filing date for a filing score; scoring date for a current snapshot")
    kind: str = Field(examples=["period"], description="'period' (as of a filing) or 'current' (snapshot)")
    fiscal_year: int
    period_end: dt.date
    filed_at: dt.date
    accession: str
    pd: float = Field(examples=[0.0123], description="Probability of default within one year (1.0 in default)")
    grade: str = Field(examples=["6"], description="Master-scale grade 1 (best) .. 10, or D in default")
    in_default: bool
    out_of_domain: bool = Field(description="Outside the range the model was trained on: treat with care")
    model_version: str
    percentile: float | None = None


class ScoreHistory(BaseModel):
    company: Company
    scores: list[Score]


class LatestScore(Score):
    name: str
    ticker: str | None = None
    sector: str | None = None


class LatestScoreList(BaseModel):
    items: list[LatestScore]
    page: Page
