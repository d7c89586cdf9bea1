"""Models shared by several routers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator


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
    company_id: str = Field(
        examples=["sec-0000320193"], description="sec-<10-digit CIK> or dart-<8-digit corp code>"
    )
    name: str = Field(examples=["Apple Inc."])
    ticker: str | None = Field(default=None, examples=["AAPL"])
    cik: str | None = Field(default=None, examples=["0000320193"])
    dart_corp_code: str | None = Field(default=None, examples=[None])
    country: str = Field(examples=["US"])
    currency: str | None = Field(default=None, examples=["USD"])
    sic: str | None = Field(default=None, examples=["3571"], description="SEC SIC code, as filed")
    induty_code: str | None = Field(default=None, examples=[None], description="DART KSIC code, as filed")
    sector: str | None = Field(default=None, examples=["Manufacturing"])
    is_financial: bool = Field(
        default=False, description="Financial firms are outside the bundled model's scope"
    )
    fiscal_year_end: str | None = Field(default=None, examples=["0926"], description="MMDD")


class Score(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"])
    as_of: dt.date = Field(
        examples=["2025-10-31"],
        description="Filing date for a filing score; scoring date for a current snapshot",
    )
    kind: str = Field(examples=["period"], description="'period' (as of a filing) or 'current' (snapshot)")
    fiscal_year: int = Field(examples=[2025])
    period_end: dt.date = Field(examples=["2025-09-27"])
    period_type: str | None = Field(
        default=None,
        examples=["TTM"],
        description="FY (an annual statement) or TTM "
        "(trailing twelve months to a quarter end); null for rows scored before it "
        "was recorded",
    )
    filed_at: dt.date = Field(examples=["2025-10-31"])
    accession: str = Field(
        examples=["0000320193-25-000079"], description="The filing the statement came from"
    )
    pd: float | None = Field(
        examples=[0.0201],
        description="Probability of default within one year (1.0 in "
        "default); null when the status is insufficient_data",
    )
    grade: str | None = Field(
        examples=["7"],
        description="Master-scale grade 1 (best) .. 10, or D in default; null "
        "when the status is insufficient_data",
    )
    status: str = Field(
        default="scored",
        examples=["scored"],
        description="'scored', or 'insufficient_data' when "
        "too few of the model's features are known for a PD (domain_note says which are missing)",
    )
    percentile: float | None = Field(
        default=None,
        examples=[64.3],
        description="Rank of a snapshot's PD among all snapshots (100 = riskiest)",
    )
    in_default: bool = False
    out_of_domain: bool = Field(
        default=False, description="Outside the range the model was trained on: treat with care"
    )
    domain_note: str | None = Field(default=None, examples=[""])
    model_name: str = Field(
        examples=["corporate_pd_listed_market"],
        description="The registered model (one per segment) whose champion scored the row",
    )
    model_version: str = Field(examples=["1"])
    segment: str | None = Field(
        default=None,
        examples=["listed_market"],
        description="The population whose model scored the row: listed_market, "
        "listed_statements or sme (null for scores made before segments existed)",
    )
    segment_reason: str | None = Field(
        default=None,
        examples=[
            "listed company (SEC filer) with a market value "
            "of equity (public float on the annual report's cover)"
        ],
        description="Why that segment was chosen",
    )
    scored_at: UtcDateTime = Field(examples=["2026-11-25T12:44:35Z"])

    agency_band: str | None = Field(
        default=None,
        examples=["BB"],
        description="Agency-equivalent band of the PD "
        "(S&P one-year default experience: AA, A, BBB, BB, B, CCC/C; D in default)",
    )
    statement_age_days: int | None = Field(
        default=None,
        examples=[35],
        description="Days from the filing of the "
        "statement the score rests on to the score's as_of: 0 for a filing's own "
        "score; a current snapshot's staleness",
    )

    @model_validator(mode="before")
    @classmethod
    def _served_view(cls, data: Any) -> Any:
        """A row without enough of its model's features is served as insufficient data, never as a PD; every PD
        carries its agency-equivalent band."""
        if isinstance(data, dict):
            if data.get("as_of") is not None and data.get("filed_at") is not None:
                age = dt.date.fromisoformat(str(data["as_of"])[:10]) - dt.date.fromisoformat(
                    str(data["filed_at"])[:10]
                )
                data = {**data, "statement_age_days": age.days}
            if data.get("status") is None:
                data = {**data, "status": "scored"}
            if data["status"] == "insufficient_data":
                data = {**data, "pd": None, "grade": None, "percentile": None, "agency_band": None}
            elif data.get("pd") is not None:
                from risk_assets.core.master_scale import agency_band

                data = {**data, "agency_band": agency_band(float(data["pd"]), bool(data.get("in_default")))}
        return data


class Contribution(BaseModel):
    feature: str = Field(examples=["Attr27"])
    contribution: float = Field(
        examples=[1.1896], description="Signed effect on the log-odds (+ raises the PD)"
    )
    value: float | None = Field(
        default=None, examples=[721.54], description="The feature's value, when known"
    )
    imputed: bool = Field(
        default=False,
        description="True when the value was missing and the model filled it in: "
        "the contribution is what a typical value would give, not evidence about the company",
    )
    label: str | None = Field(default=None, examples=["Working capital to assets"], description="Plain name")
    formula: str | None = Field(
        default=None, examples=["(current_assets - current_liabilities) / total_assets"]
    )
    unit: str | None = Field(default=None, examples=["ratio"])


class OverlayTerm(BaseModel):
    name: str = Field(examples=["stale_statements"])
    multiplier: float = Field(examples=[2.0], description="Odds multiplier applied to the model's PD")
    log_odds: float = Field(examples=[0.6931])
    reason: str = Field(
        examples=["the newest statement was filed 600 days before 2026-12-05 (more than 495)"]
    )


class Drivers(BaseModel):
    """Additive drivers: base + sum(contributions) + other = the model's log-odds before calibration."""

    base: float = Field(examples=[-5.1678])
    contributions: list[Contribution] = Field(description="The largest contributions by absolute size")
    other: float = Field(examples=[0.7334], description="Sum of the contributions not listed")
    overlay: list[OverlayTerm] = Field(
        default_factory=list,
        description="Filing-behaviour adjustments applied after the model (served "
        "PD = model PD with these log-odds added; core/overlays.py)",
    )
