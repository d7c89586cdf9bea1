"""A company beside its peers: percentiles of its PD and ratios within its sector and size band
(risk_assets/core/peers.py). Needs a key with the `read` scope."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import WarehouseDep, require
from api.errors import ApiProblem
from api.identifiers import CompanyId
from risk_assets.core import peers
from risk_assets.core.field_features import FEATURE_BY_NAME
from risk_assets.storage import queries

router = APIRouter(prefix="/v1/companies", tags=["companies"], dependencies=[Depends(require("read"))])


class PeerMetric(BaseModel):
    metric: str = Field(examples=["tl_ta"])
    label: str = Field(examples=["Liabilities to assets"])
    formula: str | None = Field(examples=["total_liabilities / total_assets"])
    value: float | None = Field(
        examples=[0.68], description="The company's reported value (null: not reported)"
    )
    peer_median: float | None = Field(examples=[0.55])
    peers_with_value: int = Field(examples=[7], description="Peers the percentile ranks against")
    percentile: float | None = Field(
        examples=[71.4], description="0 = lowest value in the peer group, 100 = highest (ties count half)"
    )
    riskier_when: Literal["higher", "lower"] | None = Field(
        examples=["higher"], description="Which way the metric raises risk (null: no fixed direction)"
    )


class PeerComparison(BaseModel):
    company_id: str = Field(examples=["sec-0000320193"])
    basis: str = Field(
        examples=["sector"],
        description="The peer group used: the narrowest of 'sector and size band', 'sector', 'size band', "
        f"'all scored companies' with at least {peers.MIN_PEERS} other companies",
    )
    sector: str | None = Field(examples=["Manufacturing"])
    size_band: str | None = Field(examples=["$100bn and over"], description="Total assets in 2015 US dollars")
    peers: int = Field(examples=[7], description="Other companies in the group")
    peer_ids: list[str]
    metrics: list[PeerMetric]


def _labelled(row: dict) -> dict:
    if row["metric"] == "pd":
        return {**row, "label": "Probability of default (one year)", "formula": None}
    feature = FEATURE_BY_NAME[row["metric"]]
    return {**row, "label": feature.label, "formula": feature.formula}


@router.get(
    "/{company_id}/peers",
    response_model=PeerComparison,
    summary="The company's PD and ratios as percentiles of its peers (same sector and size band)",
)
def company_peers(company_id: CompanyId, warehouse: WarehouseDep) -> dict:
    population = peers.population_frame(queries.peer_population(warehouse))
    if company_id not in set(population["company_id"]):
        raise ApiProblem(404, f"no current score for company {company_id!r}")
    comparison = peers.compare(population, company_id)
    return {
        "company_id": company_id,
        **comparison,
        "metrics": [_labelled(row) for row in comparison["metrics"]],
    }
