"""Operations (`admin` scope, audited): launch an asset job on Dagster, edit the watchlist. Reading the watchlist
needs `read`; a run's status needs `read` or `admin` (it is read-only, and the admin key that launched the run
follows it at the `Location` the launch returned)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response

from api.dagster_runs import DagsterUnavailable, LaunchRefused, RunNotFound
from api.deps import AdminKey, LauncherDep, ReadKey, ReadOrAdminKey, WarehouseDep
from api.errors import ApiProblem
from api.identifiers import WatchedCompanyId
from api.schemas.operations import (
    CompanyRefresh,
    Launched,
    LaunchRequest,
    RunStatus,
    WatchlistAdd,
    WatchlistEntry,
    WatchlistList,
)
from risk_assets.storage import queries
from risk_assets.storage.api_keys import Audit, record_audit
from risk_assets.storage.watchlist import (
    add_to_watchlist,
    list_watchlist,
    remove_from_watchlist,
)

router = APIRouter(tags=["operations"])
log = logging.getLogger("riskgraph.api")

_LAUNCH_EXAMPLES = {
    "refresh a company": {"value": {"job": "ingest_filings", "partition_key": "sec-0000320193"}},
    "re-score everything": {"value": {"job": "rescore_all"}},
    "retrain": {"value": {"job": "retrain"}},
}


@contextmanager
def _dagster_errors_as_problems() -> Iterator[None]:
    """Dagster down: 503 (try again later); Dagster refused or answered nonsense: 502."""
    try:
        yield
    except DagsterUnavailable as error:
        raise ApiProblem(503, str(error), headers={"Retry-After": "30"}) from None
    except LaunchRefused as error:
        raise ApiProblem(502, str(error)) from None


@router.post(
    "/v1/materializations",
    response_model=Launched,
    status_code=202,
    summary="Launch a named asset job on Dagster; returns the run id to follow",
)
def launch(
    response: Response,
    key: AdminKey,
    warehouse: WarehouseDep,
    launcher: LauncherDep,
    body: Annotated[LaunchRequest, Body(openapi_examples=_LAUNCH_EXAMPLES)],
) -> Launched:
    partition_key = body.partition_key if isinstance(body, CompanyRefresh) else None
    if partition_key is not None and not queries.company_exists(warehouse, partition_key):
        raise ApiProblem(404, f"unknown company {partition_key!r}: it is not in the universe")
    with _dagster_errors_as_problems():
        run_id = launcher.launch(body.job, partition_key, {"riskgraph/launched_by": key.name})
    target = body.job + (f"[{partition_key}]" if partition_key else "")
    # The launch cannot join a database transaction, so it is recorded after Dagster accepted it: a refused
    # launch (above) writes no audit row. Should this insert fail after a successful launch, the run goes on
    # without an audit row; it still names the key in its `riskgraph/launched_by` tag on Dagster, the error
    # below names the run for the operator to reconcile, and the client gets a 500.
    try:
        with warehouse.transaction() as conn:
            record_audit(conn, actor=key.name, action="launch_run", target=target, detail=f"run_id={run_id}")
    except Exception:
        log.error(
            "run %s (%s) launched by %r has no audit row: the audit insert failed", run_id, target, key.name
        )
        raise
    status_url = f"/v1/runs/{run_id}"
    response.headers["Location"] = status_url
    return Launched(run_id=run_id, job=body.job, partition_key=partition_key, status_url=status_url)


@router.get("/v1/runs/{run_id}", response_model=RunStatus, summary="A run's status on Dagster")
def run_status(
    _key: ReadOrAdminKey,
    launcher: LauncherDep,
    run_id: Annotated[
        str, Path(pattern=r"^[0-9a-fA-F-]{8,64}$", examples=["6a1f5b0e-3d0c-4a8e-9f7b-2c1d0e9f8a7b"])
    ],
) -> RunStatus:
    with _dagster_errors_as_problems():
        try:
            info = launcher.status(run_id)
        except RunNotFound:
            raise ApiProblem(404, f"no run {run_id!r}") from None
    return RunStatus(run_id=info.run_id, status=info.status, finished=info.finished)


@router.get("/v1/watchlist", response_model=WatchlistList, summary="Companies the filings sensor follows")
def get_watchlist(_key: ReadKey, warehouse: WarehouseDep) -> WatchlistList:
    frame = list_watchlist(warehouse)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return WatchlistList(items=[WatchlistEntry.model_validate(row) for row in rows])


@router.post(
    "/v1/watchlist",
    response_model=WatchlistEntry,
    status_code=201,
    summary="Follow a company: by ticker (of a company in the universe), CIK or DART corp code",
)
def add_watchlist(key: AdminKey, warehouse: WarehouseDep, body: WatchlistAdd) -> WatchlistEntry:
    # An unknown ticker (UnknownCompany) is a 404, a malformed identifier a 422: api/errors.py maps them by type.
    entry = add_to_watchlist(
        warehouse,
        ticker=body.ticker,
        cik=body.cik,
        dart_corp_code=body.dart_corp_code,
        added_by=key.name,
        audit=Audit(key.name),
    )
    return WatchlistEntry.model_validate(entry)


@router.delete(
    "/v1/watchlist/{company_id}", status_code=204, response_class=Response, summary="Stop following a company"
)
def remove_watchlist(key: AdminKey, warehouse: WarehouseDep, company_id: WatchedCompanyId) -> Response:
    if not remove_from_watchlist(warehouse, company_id, audit=Audit(key.name)):
        raise ApiProblem(404, f"{company_id!r} is not on the watchlist")
    return Response(status_code=204)
