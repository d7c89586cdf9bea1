"""Read-only additions the web app (/app/) needs and the other routes do not give: each company's PD change
since its previous filing (one query instead of one history request per company), a company's default events
(to mark them on the PD chart), the feature catalogue (plain names and formulas for every feature value, not
only the top drivers) and the champion's validation figures logged at training (ROC and calibration PNGs).
Every route needs the `read` scope; none changes anything."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from api.deps import RegistryDep, WarehouseDep, require
from api.errors import ApiProblem
from api.identifiers import CompanyId
from risk_assets.storage import queries
from risk_assets.storage.schema import default_events

router = APIRouter(prefix="/v1/app", tags=["app"], dependencies=[Depends(require("read"))])


class PdChange(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"])
    as_of: dt.date = Field(examples=["2026-12-05"], description="The current snapshot's date")
    model_version: str = Field(examples=["1"])
    pd: float | None = Field(examples=[0.0062], description="The current PD (null: insufficient data)")
    grade: str | None = Field(examples=["6"])
    filed_at: dt.date = Field(examples=["2026-01-30"], description="Filing date of the statement behind it")
    previous_filed_at: dt.date | None = Field(
        examples=["2025-10-31"], description="The filing before it (null: no earlier filing scored)"
    )
    previous_pd: float | None = Field(examples=[0.0078], description="That filing's PD, same model version")
    previous_grade: str | None = Field(examples=["6"])
    pd_change: float | None = Field(examples=[-0.0016], description="pd - previous_pd")


class PdChangeList(BaseModel):
    items: list[PdChange]


class DefaultEvent(BaseModel):
    event_date: dt.date = Field(examples=["2016-04-21"])
    kind: str = Field(examples=["chapter_11"])
    source: str = Field(examples=["sec_8k"])
    reference: str | None = Field(default=None, examples=["0000945436-16-000040"])


class DefaultEventList(BaseModel):
    company_id: str
    items: list[DefaultEvent]


class FeatureInfo(BaseModel):
    name: str = Field(examples=["wc_ta"])
    label: str = Field(examples=["Working capital to assets"])
    formula: str | None = Field(
        default=None, examples=["(current_assets - current_liabilities) / total_assets"]
    )
    unit: str | None = Field(default=None, examples=["ratio"])
    family: str | None = Field(default=None, examples=["liquidity"])


class FeatureCatalogue(BaseModel):
    items: list[FeatureInfo]


@router.get(
    "/pd-changes",
    response_model=PdChangeList,
    summary="Each company's current PD beside its previous filing's PD (same model version)",
)
def list_pd_changes(warehouse: WarehouseDep) -> dict:
    return {"items": queries.pd_changes(warehouse)}


@router.get(
    "/companies/{company_id}/default-events",
    response_model=DefaultEventList,
    summary="A company's default events (bankruptcy filings, missed payments), oldest first",
)
def company_default_events(company_id: CompanyId, warehouse: WarehouseDep) -> dict:
    if not queries.company_exists(warehouse, company_id):
        raise ApiProblem(404, f"unknown company {company_id!r}")
    statement = (
        sa.select(
            default_events.c.event_date,
            default_events.c.kind,
            default_events.c.source,
            default_events.c.reference,
        )
        .where(default_events.c.company_id == company_id)
        .order_by(default_events.c.event_date, default_events.c.kind)
    )
    with warehouse.engine.connect() as conn:
        items = [dict(row) for row in conn.execute(statement).mappings()]
    return {"company_id": company_id, "items": items}


@router.get(
    "/features",
    response_model=FeatureCatalogue,
    summary="Every model feature with its plain name, formula and unit",
)
def feature_catalogue() -> dict:
    from risk_assets.core.field_features import catalogue

    return {
        "items": [
            {key: entry.get(key) for key in ("name", "label", "formula", "unit", "family")}
            for entry in catalogue()
        ]
    }


_FIGURES = {"roc": "validation/roc.png", "calibration": "validation/calibration.png"}


@router.get(
    "/models/{segment}/{version}/validation/{figure}",
    response_class=Response,
    summary="A registered version's held-out ROC or calibration chart, as logged when it was trained",
    responses={
        200: {
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The PNG logged with the training run",
        },
        503: {"description": "The model registry is unavailable"},
    },
)
def validation_figure(
    registry_getter: RegistryDep,
    segment: Annotated[Literal["listed_market", "listed_statements", "sme"], Path()],
    version: Annotated[str, Path(pattern=r"^[0-9]{1,9}$", examples=["1"])],
    figure: Annotated[Literal["roc", "calibration"], Path()],
) -> Response:
    import tempfile
    from pathlib import Path as FilePath

    from api.routers.models import _segment_registry

    registry = _segment_registry(registry_getter, segment)
    try:
        found = [v for v in registry.versions() if str(v.version) == str(int(version))]
    except Exception as error:
        raise ApiProblem(503, "the model registry is unavailable", headers={"Retry-After": "60"}) from error
    if not found or not found[0].run_id:
        raise ApiProblem(404, f"no version {version!r} of model {registry.model_name!r}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = registry.client.download_artifacts(found[0].run_id, _FIGURES[figure], tmp)
            body = FilePath(local).read_bytes()
    except Exception as error:  # a run logged without the figure (older versions), or a deleted artifact
        raise ApiProblem(
            404, f"version {version!r} of {registry.model_name!r} has no {figure} figure"
        ) from error
    return Response(body, media_type="image/png")
