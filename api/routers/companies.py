"""Companies and their score history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from api.deps import get_warehouse
from api.schemas import Company, CompanyList, Page, Score, ScoreHistory
from risk_assets.storage import queries
from risk_assets.storage.warehouse import Warehouse

router = APIRouter(prefix="/v1/companies", tags=["companies"])


def records(frame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@router.get("", response_model=CompanyList, summary="List covered companies")
def list_companies(
    warehouse: Annotated[Warehouse, Depends(get_warehouse)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CompanyList:
    frame = queries.list_companies(warehouse, limit=limit, offset=offset)
    items = [Company(**row) for row in records(frame)]
    return CompanyList(items=items, page=Page(limit=limit, offset=offset, count=len(items)))


@router.get("/{company_id}/scores", response_model=ScoreHistory, summary="A company's score history",
            responses={404: {"description": "Unknown company"}})
def company_scores(company_id: str, warehouse: Annotated[Warehouse, Depends(get_warehouse)]) -> ScoreHistory:
    company = queries.get_company(warehouse, company_id)
    if company is None:
        raise HTTPException(status_code=404, detail=f"unknown company {company_id!r}")
    history = queries.company_history(warehouse, company_id)
    return ScoreHistory(company=Company(**company), scores=[Score(**row) for row in records(history)])
