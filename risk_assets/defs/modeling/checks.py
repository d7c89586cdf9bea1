"""Absolute floors on the models. Only floors block: a refused challenger must never stop scoring."""

import dagster as dg
import numpy as np

from risk_assets.defs.modeling.assets import champion_model, pd_model, read_training_set
from risk_assets.defs.resources import MlflowResource, ModelSettingsResource, ObjectStoreResource


@dg.asset_check(asset=champion_model, blocking=True, description="The champion exists, scores every held-out "
                "row with a finite PD and its held-out AUC is at or above the floor.")
def champion_meets_floor(
    object_store: ObjectStoreResource, mlflow_registry: MlflowResource, model_settings: ModelSettingsResource
) -> dg.AssetCheckResult:
    from risk_assets.core.metrics import roc_auc

    registry = mlflow_registry.get()
    version = registry.champion_version()
    if version is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no champion alias"})
    holdout = read_training_set(object_store.get()).query("holdout")
    pds = registry.load(version).predict_pd(holdout)
    nan_count = int(np.isnan(pds).sum())
    auc = roc_auc(holdout["target"], np.nan_to_num(pds, nan=0.5))
    return dg.AssetCheckResult(
        passed=nan_count == 0 and auc >= model_settings.auc_floor,
        metadata={"champion": version, "holdout_auc": round(auc, 4), "nan_pds": nan_count,
                  "floor": model_settings.auc_floor},
    )


@dg.asset_check(asset=pd_model, description="Warns when the newly trained version is below the AUC floor (the "
                "gate will refuse it; scoring continues with the champion).")
def challenger_meets_floor(
    context: dg.AssetCheckExecutionContext, mlflow_registry: MlflowResource, model_settings: ModelSettingsResource
) -> dg.AssetCheckResult:
    registry = mlflow_registry.get()
    versions = registry.versions()
    if not versions:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no registered version"})
    auc = float(versions[0].tags.get("holdout_auc", "nan"))
    return dg.AssetCheckResult(
        passed=bool(auc >= model_settings.auc_floor),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"version": str(versions[0].version), "holdout_auc": auc, "floor": model_settings.auc_floor},
    )


@dg.asset_check(asset=pd_model, description="Warns when the newest version's default rate per grade falls from one "
                "grade to the next by more than noise (Fisher's exact test at 5%) on the held-out rows, or when it "
                "does not beat the best classic score (Altman Z'', Zmijewski) there.")
def challenger_grades_and_benchmark(mlflow_registry: MlflowResource) -> dg.AssetCheckResult:
    registry = mlflow_registry.get()
    versions = registry.versions()
    if not versions:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no registered version"})
    tags = versions[0].tags
    within_noise = tags.get("grades_monotone_within_noise") == "True"
    auc = float(tags.get("holdout_auc", "nan"))
    classic = float(tags.get("best_classic_holdout_auc", "nan"))
    beats_classic = bool(auc > classic) if classic == classic else True
    return dg.AssetCheckResult(
        passed=within_noise and beats_classic,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"version": str(versions[0].version), "grades_monotone": tags.get("grades_monotone", ""),
                  "grades_monotone_within_noise": within_noise, "holdout_auc": auc,
                  "best_classic_holdout_auc": classic},
    )
