"""Alerts: downgrades and PD jumps between a company's consecutive scores under one model."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Page, UtcDateTime


class Alert(BaseModel):
    company_id: str = Field(examples=["sec-0000063908"])
    name: str = Field(examples=["McDonald's Corp"])
    as_of: dt.date = Field(examples=["2022-02-24"], description="Date of the score that raised the alert")
    model_version: str = Field(examples=["1"])
    previous_as_of: dt.date = Field(examples=["2021-02-23"])
    previous_pd: float = Field(examples=[0.00097])
    pd: float = Field(examples=[0.00142])
    previous_grade: str = Field(examples=["2"])
    grade: str = Field(examples=["3"])
    reasons: str = Field(examples=["downgrade 2->3"])
    created_at: UtcDateTime
    acknowledged_at: UtcDateTime | None = None
    acknowledged_by: str | None = Field(default=None, examples=["ops-team"], description="The key's name")


class AlertList(BaseModel):
    items: list[Alert]
    page: Page


class Acknowledgement(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"note": "reviewed with the RM"}]}
    )

    note: str | None = Field(default=None, max_length=1000, description="Kept in the audit log")
