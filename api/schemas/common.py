"""Models shared by several routers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: The warehouse stores naive UTC timestamps; the API states the zone (RFC 3339: "2026-11-25T12:44:35Z").
UtcDateTime = Annotated[dt.datetime, AfterValidator(_as_utc)]


class Health(BaseModel):
    status: str = Field(examples=["ok"], description="'ok', or 'degraded' when the warehouse does not answer")
    warehouse: str = Field(examples=["ok"], description="'ok' or 'unavailable'")
    version: str = Field(examples=["0.1.0"])


class Page(BaseModel):
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])
    count: int = Field(examples=[14], description="Items on this page")
    total: int = Field(examples=[14], description="Items matching the query, on all pages")


class Company(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"], description="sec-<10-digit CIK> or dart-<8-digit corp code>")
    name: str = Field(examples=["Apple Inc."])
    ticker: str | None = Field(default=None, examples=["AAPL"])
    cik: str | None = Field(default=None, examples=["0000320193"])
    dart_corp_code: str | None = Field(default=None, examples=[None])
    country: str = Field(examples=["US"])
    currency: str | None = Field(default=None, examples=["USD"])
    sic: str | None = Field(default=None, examples=["3571"], description="SEC SIC code, as filed")
    induty_code: str | None = Field(default=None, examples=[None], description="DART KSIC code, as filed")
    sector: str | None = Field(default=None, examples=["Manufacturing"])
    is_financial: bool = Field(default=False, description="Financial firms are outside the bundled model's scope")
    fiscal_year_end: str | None = Field(default=None, examples=["0926"], description="MMDD")


class Score(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"])
    as_of: dt.date = Field(examples=["2025-10-31"],
                           description="Filing date for a filing score; scoring date for a current snapshot")
    kind: str = Field(examples=["period"], description="'period' (as of a filing) or 'current' (snapshot)")
    fiscal_year: int = Field(examples=[2025])
    period_end: dt.date = Field(examples=["2025-09-27"])
    filed_at: dt.date = Field(examples=["2025-10-31"])
    accession: str = Field(examples=["0000320193-25-000079"], description="The filing the statement came from")
    pd: float = Field(examples=[0.0201], description="Probability of default within one year (1.0 in default)")
    grade: str = Field(examples=["7"], description="Master-scale grade 1 (best) .. 10, or D in default")
    percentile: float | None = Field(default=None, examples=[64.3],
                                     description="Rank of a snapshot's PD among all snapshots (100 = riskiest)")
    in_default: bool = False
    out_of_domain: bool = Field(default=False,
                                description="Outside the range the model was trained on: treat with care")
    domain_note: str | None = Field(default=None, examples=[""])
    model_name: str = Field(examples=["corporate_pd"])
    model_version: str = Field(examples=["1"])
    scored_at: UtcDateTime = Field(examples=["2026-11-25T12:44:35Z"])


class Contribution(BaseModel):
    feature: str = Field(examples=["Attr27"])
    contribution: float = Field(examples=[1.1896], description="Signed effect on the log-odds (+ raises the PD)")
    value: float | None = Field(default=None, examples=[721.54], description="The feature's value, when known")


class Drivers(BaseModel):
    """Additive drivers: base + sum(contributions) + other = the model's log-odds before calibration."""

    base: float = Field(examples=[-5.1678])
    contributions: list[Contribution] = Field(description="The largest contributions by absolute size")
    other: float = Field(examples=[0.7334], description="Sum of the contributions not listed")

