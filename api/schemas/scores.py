"""Scores across the portfolio: lists, one score's drivers, grade migration, portfolio summary."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from api.schemas.common import Drivers, Page, Score


class ListedScore(Score):
    name: str = Field(examples=["Apple Inc."])
    ticker: str | None = Field(default=None, examples=["AAPL"])
    sector: str | None = Field(default=None, examples=["Manufacturing"])
    country: str = Field(examples=["US"])


class ScoreList(BaseModel):
    as_of: dt.date | None = Field(description="The as-of date asked for; null for the latest snapshots")
    model_version: str | None = Field(
        description="The model version of an as-of view; null for latest snapshots"
    )
    items: list[ListedScore]
    page: Page


class ScoreDrivers(Score):
    log_odds: float = Field(examples=[-2.9154], description="The model's log-odds before calibration")
    model_pd: float = Field(examples=[0.0201], description="The model's PD, before a default overrides it")
    code_version: str = Field(examples=["0.1.0+f9971c1e2f29"])
    drivers: Drivers
    feature_values: dict[str, float | None] = Field(
        examples=[{"Attr1": 0.3118}], description="Every model input of this score"
    )


class Migration(BaseModel):
    from_date: dt.date = Field(examples=["2020-12-31"])
    to_date: dt.date = Field(examples=["2025-12-31"])
    model_version: str | None = Field(examples=["1"])
    grades: list[str] = Field(examples=[["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "D"]])
    matrix: list[list[int]] = Field(
        description="matrix[i][j]: companies in grades[i] at from_date and grades[j] at to_date"
    )
    companies: int = Field(examples=[12], description="Companies scored at both dates")
    upgrades: int
    downgrades: int
    unchanged: int
    only_at_from: int = Field(description="Scored at from_date only")
    only_at_to: int = Field(description="Scored at to_date only")


class GradeGroup(BaseModel):
    grade: str = Field(examples=["7"])
    count: int = Field(examples=[3])
    mean_pd: float = Field(examples=[0.0241])


class SectorGroup(BaseModel):
    sector: str = Field(examples=["Manufacturing"])
    count: int = Field(examples=[6])
    mean_pd: float = Field(examples=[0.0087])


class PortfolioSummary(BaseModel):
    as_of: dt.date | None = Field(description="The as-of date asked for; null for the latest snapshots")
    model_versions: list[str] = Field(examples=[["1"]])
    count: int = Field(examples=[14])
    mean_pd: float | None = Field(examples=[0.1505])
    by_grade: list[GradeGroup]
    by_sector: list[SectorGroup]
