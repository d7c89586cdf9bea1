"""Alerts: downgrades and PD jumps since a date (`read`); acknowledging one (`admin`, audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from api.convert import page
from api.deps import AdminKey, ReadKey, WarehouseDep
from api.errors import ApiProblem
from api.identifiers import CompanyId
from api.params import IsoDate, Limit, Offset, StrictBool
from api.schemas.alerts import Acknowledgement, Alert, AlertList
from risk_assets.storage import queries

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertList, summary="Downgrades and PD jumps since a date, newest first")
def list_alerts(
    _key: ReadKey,
    warehouse: WarehouseDep,
    since: Annotated[
        IsoDate,
        Query(description="Only alerts of scores dated on or after this day", examples=["2020-01-01"]),
    ] = None,
    kind: Annotated[queries.AlertKind, Query(description="Only downgrades, or only PD jumps")] = None,
    acknowledged: Annotated[
        StrictBool, Query(description="Only acknowledged (true) or open (false) alerts")
    ] = None,
    company_id: Annotated[str, Query(min_length=1, max_length=40, examples=["sec-0000063908"])] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AlertList:
    items, total = queries.list_alerts(
        warehouse,
        since=since,
        kind=kind,
        acknowledged=acknowledged,
        company_id=company_id,
        limit=limit,
        offset=offset,
    )
    return AlertList.model_validate({"items": items, "page": page(limit, offset, items, total)})


@router.post(
    "/{company_id}/{as_of}/{model_version}/acknowledge",
    response_model=Alert,
    summary="Acknowledge an alert (once); the key's name and the time go into the alert and the audit log",
)
def acknowledge_alert(
    key: AdminKey,
    warehouse: WarehouseDep,
    company_id: CompanyId,
    as_of: Annotated[IsoDate, Path(examples=["2022-02-24"])],
    model_version: Annotated[str, Path(min_length=1, max_length=16, examples=["1"])],
    body: Annotated[Acknowledgement | None, Body()] = None,
) -> Alert:
    outcome = queries.acknowledge_alert(
        warehouse, company_id, as_of, model_version, by=key.name, note=body.note if body else None
    )
    if outcome == "missing":
        raise ApiProblem(
            404, f"no alert for {company_id!r} as of {as_of.isoformat()} under model {model_version!r}"
        )
    alert = queries.get_alert(warehouse, company_id, as_of, model_version)
    assert alert is not None
    if outcome == "already":
        raise ApiProblem(
            409,
            f"already acknowledged at {alert['acknowledged_at'].isoformat()} by {alert['acknowledged_by']!r}",
        )
    return Alert.model_validate(alert)
