"""Companies: search, profile (latest score, watchlist status, features), score history, drivers, statements,
feature rows. Every route needs a key with the `read` scope."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import TypeAdapter

from api.cache import cached
from api.convert import drivers_out, page
from api.deps import ProfileCacheDep, RegistryDep, WarehouseDep, require
from api.errors import ApiProblem
from api.identifiers import CompanyId
from api.params import IsoDate, Limit, ModelVersionQuery, Offset, StrictBool
from api.schemas.companies import CompanyList, CompanyProfile, FeatureList, ScoreHistory, StatementList
from api.schemas.scores import ScoreDrivers
from api.scoring import model_drivers_of, stored_model
from risk_assets.core.fingerprint import value_digests
from risk_assets.core.sectors import SECTORS
from risk_assets.storage import queries
from risk_assets.storage.warehouse import Warehouse

router = APIRouter(prefix="/v1/companies", tags=["companies"], dependencies=[Depends(require("read"))])


def _unknown(company_id: str) -> ApiProblem:
    return ApiProblem(404, f"unknown company {company_id!r}")


@router.get("", response_model=CompanyList, summary="Search companies by name, ticker, CIK or DART corp code")
def search_companies(
    warehouse: WarehouseDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            examples=["apple"],
            description="Part of the name (any case), or a ticker, CIK, DART corp code or company id",
        ),
    ] = None,
    sector: Annotated[Literal[SECTORS], Query(description="Only this sector")] = None,  # type: ignore[valid-type]
    country: Annotated[str, Query(pattern="^[A-Za-z]{2}$", examples=["KR"])] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict:
    items, total = queries.search_companies(
        warehouse, q=q, sector=sector, country=country, limit=limit, offset=offset
    )
    return {"items": items, "page": page(limit, offset, items, total)}


_PROFILE = TypeAdapter(CompanyProfile)


def _rendered_profile(warehouse: Warehouse, company_id: str) -> bytes | None:
    """The profile as validated JSON, or None for an unknown company."""
    profile = queries.company_profile(warehouse, company_id)
    if profile is None:
        return None
    latest = profile["latest_score"]
    if latest is not None:
        ratios = profile["latest_features"]["ratios"] if profile["latest_features"] else None
        latest["drivers"] = drivers_out(latest["drivers"], ratios)
    return _PROFILE.dump_json(_PROFILE.validate_python(profile))


@router.get("/{company_id}", response_model=CompanyProfile, summary="A company's profile and latest score")
async def company_profile(
    company_id: CompanyId, warehouse: WarehouseDep, profile_cache: ProfileCacheDep
) -> Response:
    # The most frequent lookup: the validated JSON is cached until the warehouse changes (api/cache.py).
    body = await cached(
        profile_cache,
        warehouse,
        company_id,
        lambda: _rendered_profile(warehouse, company_id),
        lambda found: found is not None,
    )
    if body is None:
        raise _unknown(company_id)
    return Response(body, media_type="application/json")


@router.get(
    "/{company_id}/scores",
    response_model=ScoreHistory,
    summary="A company's filing scores (every model version unless one is given), oldest first",
)
def company_scores(
    company_id: CompanyId,
    warehouse: WarehouseDep,
    model_version: Annotated[str, Query(min_length=1, max_length=16, examples=["1"])] = None,
    kind: Annotated[
        Literal["period", "current"],
        Query(description="'period': one per filing; 'current': the daily snapshots"),
    ] = "period",
) -> dict:
    company = queries.get_company(warehouse, company_id)
    if company is None:
        raise _unknown(company_id)
    history = queries.company_history(warehouse, company_id, model_version=model_version, kind=kind)
    return {"company": company, "scores": history}


@router.get(
    "/{company_id}/scores/{as_of}/drivers",
    response_model=ScoreDrivers,
    summary="One score's drivers: signed contributions to the log-odds, with the feature values",
    description="An older filing score's drivers are computed on request with its own model version (the first "
    "request for a model version loads it from the registry), from its filing's features row, checked against "
    "the digest of the values it was scored from (409 when the features were recomputed since).",
)
def score_drivers(
    company_id: CompanyId,
    as_of: Annotated[IsoDate, Path(description="The score's as_of date", examples=["2025-10-31"])],
    warehouse: WarehouseDep,
    registry: RegistryDep,
    model_version: ModelVersionQuery = None,
    kind: Annotated[
        Literal["period", "current"], Query(description="Default: the filing score if the date has both")
    ] = None,
) -> dict:
    row = queries.score_detail(warehouse, company_id, as_of, model_version=model_version, kind=kind)
    if row is None:
        if not queries.company_exists(warehouse, company_id):
            raise _unknown(company_id)
        raise ApiProblem(
            404,
            f"no score of {company_id!r} as of {as_of.isoformat()}"
            + (f" under model version {model_version!r}" if model_version else ""),
        )
    drivers = row["drivers"]
    if "base" not in drivers:
        # An older filing score keeps only its overlay terms; its model drivers are computed now, with its own
        # (immutable) model version. Snapshots and each company's newest filing score keep theirs.
        try:
            model = stored_model(registry, row["model_name"], row["model_version"])
        except Exception as error:  # MLflow unreachable, or the version's artifact gone
            raise ApiProblem(
                503,
                f"cannot load model {row['model_name']!r} version {row['model_version']!r} for this score's "
                "drivers: the model registry is unavailable",
                headers={"Retry-After": "60"},
            ) from error
        if row["feature_values"] is None:
            row["feature_values"] = _scored_feature_values(warehouse, row, model.feature_names)
        drivers = {**model_drivers_of(model, row["feature_values"]), "overlay": drivers.get("overlay", [])}
    row["drivers"] = drivers_out(drivers, row["feature_values"])
    return row


def _scored_feature_values(warehouse: Warehouse, row: dict, names: list[str]) -> dict[str, float | None]:
    """An older filing score's feature values: its filing's features row, if that still holds the values the score
    was predicted from (their digest is the score's); a recomputed or deleted row cannot explain it."""
    values = queries.filing_feature_values(
        warehouse, row["company_id"], row["period_end"], row["accession"], names
    )
    if values is None or row.get("feature_digest") is None:
        found = "no features row" if values is None else "no digest of its feature values"
        raise ApiProblem(
            409, f"the drivers of this score cannot be computed: its filing has {found} any more"
        )
    frame = pd.DataFrame([values], columns=list(names), dtype=float)
    if value_digests(frame)[0] != row["feature_digest"]:
        raise ApiProblem(
            409,
            "the drivers of this score cannot be computed: its filing's features were recomputed after it was "
            "scored, and this model version has not scored them again",
        )
    return values


@router.get(
    "/{company_id}/statements",
    response_model=StatementList,
    summary="Canonical statements by fiscal period, newest first",
)
def company_statements(
    company_id: CompanyId,
    warehouse: WarehouseDep,
    all_versions: Annotated[
        StrictBool, Query(description="Include restatements and repeated comparatives")
    ] = False,
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict:
    items, total = queries.statements_for(
        warehouse, company_id, all_versions=all_versions, limit=limit, offset=offset
    )
    if total == 0 and not queries.company_exists(warehouse, company_id):
        raise _unknown(company_id)
    return {"company_id": company_id, "items": items, "page": page(limit, offset, items, total)}


@router.get(
    "/{company_id}/features",
    response_model=FeatureList,
    summary="Model ratios and classic scores (Altman Z, Z'', Ohlson O, Zmijewski) per statement version",
)
def company_features(
    company_id: CompanyId, warehouse: WarehouseDep, limit: Limit = 20, offset: Offset = 0
) -> dict:
    items, total = queries.features_for(warehouse, company_id, limit=limit, offset=offset)
    if total == 0 and not queries.company_exists(warehouse, company_id):
        raise _unknown(company_id)
    return {"company_id": company_id, "items": items, "page": page(limit, offset, items, total)}
