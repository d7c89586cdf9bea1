"""Latest scores across the portfolio."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import get_warehouse
from api.routers.companies import records
from api.schemas import LatestScore, LatestScoreList, Page
from risk_assets.core.master_scale import GRADE_LABELS
from risk_assets.storage import queries
from risk_assets.storage.warehouse import Warehouse

router = APIRouter(prefix="/v1/scores", tags=["scores"])


@router.get("", response_model=LatestScoreList, summary="Latest score per company, riskiest first")
def latest_scores(
    warehouse: Annotated[Warehouse, Depends(get_warehouse)],
    grade: Annotated[Literal[GRADE_LABELS] | None, Query(description="Only this master-scale grade")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> LatestScoreList:
    frame = queries.latest_scores(warehouse, grade=grade, limit=limit, offset=offset)
    items = [LatestScore(**row) for row in records(frame)]
    return LatestScoreList(items=items, page=Page(limit=limit, offset=offset, count=len(items)))
