"""Scores across the portfolio: latest or as-of lists, grade migration, portfolio summary (`read` scope)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.convert import page
from api.deps import WarehouseDep, require
from api.params import IsoDate, Limit, ModelVersionQuery, Offset
from api.schemas.scores import Migration, PortfolioSummary, ScoreList
from risk_assets.core.master_scale import GRADE_LABELS
from risk_assets.core.sectors import SECTORS
from risk_assets.storage import queries

router = APIRouter(tags=["scores"], dependencies=[Depends(require("read"))])

Grade = Literal[GRADE_LABELS]  # type: ignore[valid-type]
Sector = Literal[SECTORS]  # type: ignore[valid-type]
AsOf = Annotated[
    IsoDate,
    Query(
        description="The latest score on or before this date (one model version); "
        "default: the newest snapshots",
        examples=["2020-12-31"],
    ),
]


@router.get(
    "/v1/scores",
    response_model=ScoreList,
    summary="Latest (or as-of) score per company, filtered, sorted and paged",
)
def list_scores(
    warehouse: WarehouseDep,
    grade: Annotated[list[Grade], Query(description="Only these grades (repeat the parameter)")] = None,
    sector: Annotated[Sector, Query(description="Only this sector (industry)")] = None,
    pd_min: Annotated[float, Query(ge=0, le=1, description="Lowest PD, inclusive")] = None,
    pd_max: Annotated[float, Query(ge=0, le=1, description="Highest PD, inclusive")] = None,
    as_of: AsOf = None,
    model_version: ModelVersionQuery = None,
    sort: Annotated[
        Literal[queries.SCORE_SORTS], Query(description="Field to sort by; '-' = descending")
    ] = "-pd",  # type: ignore[valid-type]
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict:
    chosen = queries.ScoreFilter(grade or (), sector, pd_min, pd_max, as_of, model_version, sort)
    items, total, version = queries.score_page(warehouse, chosen, limit=limit, offset=offset)
    return {
        "as_of": as_of,
        "model_version": version if as_of else None,
        "items": items,
        "page": page(limit, offset, items, total),
    }


@router.get(
    "/v1/scores/migration",
    response_model=Migration,
    summary="Grade migration: companies counted by grade at from_date and grade at to_date",
)
def grade_migration(
    warehouse: WarehouseDep,
    from_date: Annotated[
        IsoDate, Query(examples=["2020-12-31"], description="Grades as of this date (rows)")
    ],
    to_date: Annotated[
        IsoDate, Query(examples=["2025-12-31"], description="Grades as of this date (columns)")
    ],
    model_version: ModelVersionQuery = None,
) -> dict:
    migration = queries.grade_migration(warehouse, from_date, to_date, model_version=model_version)
    return {"from_date": from_date, "to_date": to_date, **migration}


@router.get(
    "/v1/portfolio/summary",
    response_model=PortfolioSummary,
    summary="Count and mean PD of the latest (or as-of) scores by grade and by sector",
)
def portfolio_summary(
    warehouse: WarehouseDep, as_of: AsOf = None, model_version: ModelVersionQuery = None
) -> dict:
    return queries.portfolio_summary(warehouse, as_of=as_of, model_version=model_version)
