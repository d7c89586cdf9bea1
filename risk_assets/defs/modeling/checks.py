"""Absolute floors on the models, per segment. Only floors block: a refused challenger must never stop scoring."""

import dagster as dg
import numpy as np

from risk_assets.core.segments import SEGMENT_NAMES
from risk_assets.defs.modeling.assets import VERSIONS_KEY, champion_model, pd_model, read_training_set
from risk_assets.defs.resources import MlflowResource, ModelSettingsResource, ObjectStoreResource


@dg.asset_check(
    asset=champion_model,
    blocking=True,
    description="Every segment's champion exists, scores every "
    "held-out row of its segment with a finite PD and its held-out AUC is at or above the floor.",
)
def champion_meets_floor(
    object_store: ObjectStoreResource, mlflow_registry: MlflowResource, model_settings: ModelSettingsResource
) -> dg.AssetCheckResult:
    from risk_assets.core.metrics import roc_auc

    objects, figures, passed = object_store.get(), {}, True
    for segment in SEGMENT_NAMES:
        registry = mlflow_registry.for_segment(segment)
        version = registry.champion_version()
        if version is None:
            figures[segment] = "no champion alias"
            passed = False
            continue
        holdout = read_training_set(objects, segment).query("holdout")
        pds = registry.load(version).predict_pd(holdout)
        nan_count = int(np.isnan(pds).sum())
        auc = roc_auc(holdout["target"], np.nan_to_num(pds, nan=0.5))
        passed &= nan_count == 0 and auc >= model_settings.auc_floor
        figures[segment] = {
            "model": registry.model_name,
            "champion": version,
            "holdout_auc": round(auc, 4),
            "nan_pds": nan_count,
        }
    return dg.AssetCheckResult(
        passed=bool(passed),
        metadata={"segments": dg.MetadataValue.json(figures), "floor": model_settings.auc_floor},
    )


def _tags_of_this_run(
    context: dg.AssetCheckExecutionContext, mlflow_registry: MlflowResource
) -> dict[str, dict]:
    """Per segment, the tags of the version pd_model trained or kept in THIS run (its materialisation's metadata),
    not whatever version is newest in the registry (another run may have registered one since)."""
    event = context.instance.get_latest_materialization_event(pd_model.key)
    if event is None or event.run_id != context.run.run_id:
        raise dg.Failure("pd_model was not materialised in this run: nothing to check")
    versions = event.asset_materialization.metadata[VERSIONS_KEY].value
    tags = {}
    for segment in SEGMENT_NAMES:
        version = versions.get(segment)
        info = mlflow_registry.for_segment(segment).version_info(version) if version else None
        tags[segment] = {"version": version, **info.tags} if info is not None else {}
    return tags


@dg.asset_check(
    asset=pd_model,
    description="Warns when the version a segment trained (or kept) in this run is below the AUC floor "
    "(the gate will refuse it; scoring continues with the champion).",
)
def challenger_meets_floor(
    context: dg.AssetCheckExecutionContext,
    mlflow_registry: MlflowResource,
    model_settings: ModelSettingsResource,
) -> dg.AssetCheckResult:
    newest = _tags_of_this_run(context, mlflow_registry)
    aucs = {segment: float(tags.get("holdout_auc", "nan")) for segment, tags in newest.items()}
    return dg.AssetCheckResult(
        passed=all(auc >= model_settings.auc_floor for auc in aucs.values()),  # NaN (no version) fails
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"holdout_auc": dg.MetadataValue.json(aucs), "floor": model_settings.auc_floor},
    )


@dg.asset_check(
    asset=pd_model,
    description="Warns when the version a segment trained (or kept) in this run has a default rate per grade that "
    "falls from one grade to the next by more than noise (Fisher's exact test at 5%) on the held-out "
    "rows, or when it does not beat the best classic score (Altman Z, Z'', Ohlson O, Zmijewski) there.",
)
def challenger_grades_and_benchmark(
    context: dg.AssetCheckExecutionContext, mlflow_registry: MlflowResource
) -> dg.AssetCheckResult:
    figures, passed = {}, True
    for segment, tags in _tags_of_this_run(context, mlflow_registry).items():
        within_noise = tags.get("grades_monotone_within_noise") == "True"
        auc = float(tags.get("holdout_auc", "nan"))
        classic = float(tags.get("best_classic_holdout_auc", "nan"))
        # a missing benchmark is not a pass: NaN compares False
        beats_classic = bool(auc > classic)
        passed &= within_noise and beats_classic
        figures[segment] = {
            "version": tags.get("version"),
            "grades_monotone_within_noise": within_noise,
            "holdout_auc": auc,
            "best_classic_holdout_auc": classic,
        }
    return dg.AssetCheckResult(
        passed=bool(passed),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"segments": dg.MetadataValue.json(figures)},
    )
