"""Registered model versions: the champion and recent versions with validation metrics and MLflow links
(`read` scope)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query

from api.deps import RegistryDep, SettingsDep, WarehouseDep, require
from api.errors import ApiProblem
from api.schemas.models import ModelList, ModelVersion, SegmentList, StabilityReport
from risk_assets.storage.schema import model_decisions
from risk_assets.storage.warehouse import Warehouse

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[Depends(require("read"))])


@contextmanager
def _registry_unavailable_is_503() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        raise ApiProblem(503, "the model registry is unavailable", headers={"Retry-After": "60"}) from error


def _public_tracking_uri(uri: str) -> str | None:
    """An HTTP tracking server's address without credentials; None for local stores (their path is private)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return None
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _decisions(warehouse: Warehouse, model_name: str) -> dict[str, dict[str, Any]]:
    statement = sa.select(model_decisions).where(model_decisions.c.model_name == model_name)
    with warehouse.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(statement).mappings()]
    for row in rows:
        try:
            row["figures"] = json.loads(row["figures"]) if row["figures"] else None
        except ValueError:
            row["figures"] = None
    return {row["challenger_version"]: row for row in rows}


def _aliases(registry) -> dict[str, list[str]]:
    """version -> its aliases (search results of a SQL store leave a version's aliases empty)."""
    found: dict[str, list[str]] = {}
    for alias, version in (registry.client.get_registered_model(registry.model_name).aliases or {}).items():
        found.setdefault(str(version), []).append(alias)
    return found


def _version_out(
    registry, version: Any, champion: str | None, decisions: dict[str, dict], aliases: dict[str, list[str]]
) -> dict[str, Any]:
    number = str(version.version)
    metrics: dict[str, float] = {}
    experiment_id = None
    if version.run_id:
        try:
            run = registry.client.get_run(version.run_id)
            metrics = {key: float(value) for key, value in run.data.metrics.items()}
            experiment_id = run.info.experiment_id
        except Exception:  # a deleted run still leaves the version listed
            metrics = {}
    public = _public_tracking_uri(registry.tracking_uri)
    name = registry.model_name
    links = {
        "tracking_uri": public,
        "run_id": version.run_id,
        "run_uri": f"runs:/{version.run_id}/model" if version.run_id else None,
        "model_uri": f"models:/{name}/{number}",
        "run_ui": f"{public}/#/experiments/{experiment_id}/runs/{version.run_id}"
        if public and experiment_id and version.run_id
        else None,
        "model_ui": f"{public}/#/models/{quote(name)}/versions/{number}" if public else None,
    }
    created = (
        dt.datetime.fromtimestamp(version.creation_timestamp / 1000, dt.UTC).replace(tzinfo=None)
        if version.creation_timestamp
        else None
    )
    return {
        "name": name,
        "version": number,
        "aliases": sorted(set(version.aliases or []) | set(aliases.get(number, []))),
        "is_champion": number == champion,
        "created_at": created,
        "status": version.status,
        "tags": {str(k): str(v) for k, v in (version.tags or {}).items()},
        "metrics": metrics,
        "decision": decisions.get(number),
        "links": links,
    }


Segment = Literal["listed_market", "listed_statements", "sme"]
SEGMENT_QUERY = Query(
    description="The segment whose registered model to show (listed_market, listed_statements "
    "or sme; sme's model keeps the base name)"
)


def _segment_registry(registry_getter: Callable[[], Any], segment: str) -> Any:
    """The registry of one segment's registered model (a copy of the app's, sharing its MLflow client)."""
    import copy

    from risk_assets.core.segments import SEGMENTS

    base = registry_getter()
    registry = copy.copy(base)
    registry.model_name = SEGMENTS[segment].registered_model(base.model_name)
    return registry


@router.get("/segments", response_model=SegmentList, summary="Each segment's registered model and champion")
def list_segments(registry_getter: RegistryDep, warehouse: WarehouseDep) -> dict:
    from risk_assets.core.segments import SEGMENT_NAMES, SEGMENTS

    items = []
    for name in SEGMENT_NAMES:
        registry = _segment_registry(registry_getter, name)
        with _registry_unavailable_is_503():
            versions = registry.versions()
            champion = registry.champion_version()
            aliases = _aliases(registry) if versions else {}
        decisions = _decisions(warehouse, registry.model_name)
        found = [v for v in versions if str(v.version) == champion]
        segment = SEGMENTS[name]
        items.append(
            {
                "segment": name,
                "title": segment.title,
                "population": segment.population,
                "training_data": segment.training_data,
                "features": list(segment.features),
                "model_name": registry.model_name,
                "champion_version": champion,
                "champion": _version_out(registry, found[0], champion, decisions, aliases) if found else None,
                "versions": len(versions),
            }
        )
    return {"items": items}


@router.get(
    "/stability",
    response_model=StabilityReport,
    summary="Population stability per segment: each feature's and the PD's PSI between the champion's "
    "development sample and the companies it scores now",
)
def stability(settings: SettingsDep) -> dict:
    from risk_assets.core.monitoring import STABILITY_KEY
    from risk_assets.storage.objects import open_object_store

    client = None
    if settings.object_store_url.startswith("s3://"):
        import boto3

        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None)
    try:
        body = open_object_store(settings.object_store_url, s3_client=client).get(STABILITY_KEY)
    except KeyError:  # the check has not run yet
        return {"items": []}
    except Exception as error:
        raise ApiProblem(503, "the object store is unavailable", headers={"Retry-After": "60"}) from error
    figures = json.loads(body)

    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and value != value else value

    return {
        "items": [
            {
                "segment": segment,
                **{k: v for k, v in figure.items() if k != "features"},
                "score": {k: clean(v) for k, v in figure["score"].items()},
                "features": [{k: clean(v) for k, v in row.items()} for row in figure["features"]],
            }
            for segment, figure in figures.items()
        ]
    }


@router.get(
    "", response_model=ModelList, summary="The champion and the newest versions with metrics and links"
)
def list_models(
    registry_getter: RegistryDep,
    warehouse: WarehouseDep,
    limit: Annotated[int, Query(ge=1, le=100, description="How many versions, newest first")] = 10,
    segment: Annotated[Segment, SEGMENT_QUERY] = "sme",
) -> dict:
    registry = _segment_registry(registry_getter, segment)
    with _registry_unavailable_is_503():
        versions = registry.versions()
        champion = registry.champion_version()
        aliases = _aliases(registry) if versions else {}
    decisions = _decisions(warehouse, registry.model_name)
    listed = [_version_out(registry, v, champion, decisions, aliases) for v in versions[:limit]]
    champion_entry = next((v for v in listed if v["is_champion"]), None)
    if champion_entry is None and champion is not None:
        found = [v for v in versions if str(v.version) == champion]
        champion_entry = _version_out(registry, found[0], champion, decisions, aliases) if found else None
    return {
        "name": registry.model_name,
        "champion_version": champion,
        "champion": champion_entry,
        "versions": listed,
    }


@router.get("/{version}", response_model=ModelVersion, summary="One registered version")
def get_model_version(
    registry_getter: RegistryDep,
    warehouse: WarehouseDep,
    version: Annotated[str, Path(pattern=r"^[0-9]{1,9}$", examples=["1"])],
    segment: Annotated[Segment, SEGMENT_QUERY] = "sme",
) -> dict:
    registry = _segment_registry(registry_getter, segment)
    with _registry_unavailable_is_503():
        found = [v for v in registry.versions() if str(v.version) == str(int(version))]
        champion = registry.champion_version()
        aliases = _aliases(registry) if found else {}
    if not found:
        raise ApiProblem(404, f"no version {version!r} of model {registry.model_name!r}")
    return _version_out(registry, found[0], champion, _decisions(warehouse, registry.model_name), aliases)
