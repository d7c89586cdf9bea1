"""Registered model versions with their validation figures and MLflow links."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import UtcDateTime


class GateDecision(BaseModel):
    decision: str = Field(examples=["promoted"], description="'promoted' or 'kept' (the champion stayed)")
    decided_at: UtcDateTime
    reason: str = Field(examples=["first champion: AUC 0.9469 >= floor, calibration passes"])
    rule: str
    challenger_auc: float | None = Field(default=None, examples=[0.9469])
    champion_auc: float | None = Field(default=None, examples=[None])
    champion_version_before: str | None = None
    champion_version_after: str | None = Field(default=None, examples=["1"])
    n_holdout: int | None = Field(default=None, examples=[1192])
    figures: dict[str, Any] | None = Field(default=None, description="Held-out figures of both models")


class MlflowLinks(BaseModel):
    tracking_uri: str | None = Field(
        default=None,
        examples=["http://mlflow:5000"],
        description="The tracking server (HTTP only; null for a local store)",
    )
    run_id: str | None = Field(default=None, examples=["3f0c0c1f9a8b4b0e9d3c8b7a6f5e4d3c"])
    run_uri: str | None = Field(default=None, examples=["runs:/3f0c0c1f9a8b4b0e9d3c8b7a6f5e4d3c/model"])
    model_uri: str = Field(examples=["models:/corporate_pd/1"])
    run_ui: str | None = Field(
        default=None, description="The run in the MLflow UI (HTTP tracking servers only)"
    )
    model_ui: str | None = Field(
        default=None, description="The version in the MLflow UI (HTTP tracking only)"
    )


class ModelVersion(BaseModel):
    name: str = Field(examples=["corporate_pd"])
    version: str = Field(examples=["1"])
    aliases: list[str] = Field(examples=[["champion"]])
    is_champion: bool
    created_at: UtcDateTime | None = None
    status: str | None = Field(default=None, examples=["READY"])
    tags: dict[str, str] = Field(examples=[{"family": "lightgbm", "holdout_auc": "0.946901"}])
    metrics: dict[str, float] = Field(
        examples=[{"holdout_auc": 0.9469, "cv_auc": 0.9412}], description="Metrics of the training run"
    )
    decision: GateDecision | None = Field(default=None, description="The champion gate's decision on it")
    links: MlflowLinks


class ModelList(BaseModel):
    name: str = Field(examples=["corporate_pd"])
    champion_version: str | None = Field(examples=["1"])
    champion: ModelVersion | None
    versions: list[ModelVersion] = Field(description="Newest first")


class SegmentModel(BaseModel):
    segment: str = Field(examples=["listed_market"])
    title: str = Field(examples=["Listed, with market data"])
    population: str = Field(examples=["listed companies with a market value of equity"])
    training_data: str
    features: list[str] = Field(description="The features the segment's models may use")
    model_name: str = Field(examples=["corporate_pd_listed_market"])
    champion_version: str | None = Field(examples=["1"])
    champion: ModelVersion | None
    versions: int = Field(description="Registered versions")


class SegmentList(BaseModel):
    items: list[SegmentModel]


class FeatureStability(BaseModel):
    feature: str = Field(examples=["log_real_assets"])
    psi: float | None = Field(examples=[0.91], description="Population stability index of the feature (CSI)")
    missing_development: float = Field(examples=[0.0])
    missing_population: float | None = Field(examples=[0.0])
    status: str = Field(examples=["shift"], description="stable (< 0.10), watch (< 0.25) or shift")


class ScoreStability(BaseModel):
    psi: float | None = Field(examples=[0.42])
    status: str = Field(examples=["shift"])
    n_population: int = Field(examples=[13])


class StabilityPoint(BaseModel):
    year: int = Field(examples=[2024], description="Calendar year of the filing scores")
    scores: int = Field(examples=[52], description="Filing scores the champion version made that year")
    companies: int = Field(examples=[13])
    pd_psi: float | None = Field(examples=[0.18], description="PSI of the PD against the development sample")
    pd_status: str = Field(examples=["watch"])
    features_watch: int = Field(examples=[3], description="Features with a CSI of 0.10-0.25")
    features_shift: int = Field(examples=[1], description="Features with a CSI of 0.25 or more")
    largest_feature: str | None = Field(examples=["log_real_assets"])
    largest_psi: float | None = Field(examples=[0.91])
    small_sample: bool = Field(description="Fewer than 100 scores: the PSI is mostly noise")


class SegmentStability(BaseModel):
    segment: str = Field(examples=["listed_market"])
    model: str = Field(examples=["corporate_pd_listed_market"])
    version: str = Field(examples=["1"])
    companies: int = Field(
        examples=[13], description="Companies whose current score the segment's champion made"
    )
    score: ScoreStability
    features: list[FeatureStability]
    history: list[StabilityPoint] = Field(
        default_factory=list,
        description="PSI over time: the champion version's filing scores year by year against its development "
        "sample, oldest first",
    )
    history_recomputed_left_out: int = Field(
        default=0,
        examples=[0],
        description="Filing scores the history left out: their features row was recomputed after they were scored "
        "(its values' digest is not the score's)",
    )


class StabilityReport(BaseModel):
    items: list[SegmentStability] = Field(
        description="One entry per segment with scored companies; empty before "
        "the population_stability check has run"
    )
