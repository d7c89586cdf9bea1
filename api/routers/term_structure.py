"""A company's PD term structure: cumulative PDs over 1 to 5 years from its current one-year PD
(risk_assets/core/term_structure.py). Needs a key with the `read` scope."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import WarehouseDep, require
from api.errors import ApiProblem
from api.identifiers import CompanyId
from risk_assets.core.term_structure import FITTED
from risk_assets.storage import queries

router = APIRouter(prefix="/v1/companies", tags=["companies"], dependencies=[Depends(require("read"))])

METHOD = (
    "discrete-time hazard: year 1 is the one-year PD; later years' log-odds revert towards a long-run hazard "
    "(logit h_k = rho^(k-1) logit PD1 + (1 - rho^(k-1)) logit long_run); cumulative = 1 - prod(1 - h_k)"
)


class TermPoint(BaseModel):
    years: int = Field(examples=[3])
    cumulative_pd: float = Field(
        examples=[0.021], description="Probability of default within this many years"
    )
    marginal_pd: float = Field(
        examples=[0.008], description="Probability of defaulting in this year (from today)"
    )
    hazard: float = Field(
        examples=[0.0081], description="Probability of defaulting in this year if alive at its start"
    )


class TermStructureOut(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"])
    as_of: dt.date
    pd: float = Field(description="The current one-year PD the curve starts from")
    in_default: bool
    curve: list[TermPoint]
    method: str = Field(examples=[METHOD])
    rho: float = Field(description="Share of the company's one-year log-odds that persists each year")
    long_run: float = Field(description="The annual hazard every credit reverts to")
    fitted_on: str


@router.get(
    "/{company_id}/term-structure",
    response_model=TermStructureOut,
    summary="Cumulative PDs over 1 to 5 years from the company's current PD",
)
def term_structure(company_id: CompanyId, warehouse: WarehouseDep) -> dict:
    current = queries.company_history(warehouse, company_id, kind="current")
    if not current:
        raise ApiProblem(404, f"no current score for company {company_id!r}")
    latest = current[-1]
    if latest.get("pd") is None:
        raise ApiProblem(409, f"company {company_id!r} has no PD ({latest.get('status')}): no term structure")
    in_default = bool(latest["in_default"])
    pd1 = 1.0 if in_default else float(latest["pd"])
    curve = (
        [
            {"years": k, "cumulative_pd": 1.0, "marginal_pd": 1.0 if k == 1 else 0.0, "hazard": 1.0}
            for k in range(1, 6)
        ]
        if in_default
        else FITTED.curve(pd1)
    )
    return {
        "company_id": company_id,
        "as_of": latest["as_of"],
        "pd": pd1,
        "in_default": in_default,
        "curve": curve,
        "method": METHOD,
        "rho": FITTED.rho,
        "long_run": FITTED.long_run,
        "fitted_on": FITTED.source,
    }
