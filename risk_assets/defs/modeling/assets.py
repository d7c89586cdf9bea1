"""Modelling: the labelled training set, the PD model (MLflow run + registered version) and the champion gate."""

import datetime as dt
import io
import json

import dagster as dg
import mlflow
import pandas as pd

from risk_assets.core import champion as gate
from risk_assets.core.metrics import roc_auc, summary_metrics
from risk_assets.core.model import FAMILIES, PDModel
from risk_assets.core.polish import load_polish
from risk_assets.core.ratios import MODEL_RATIOS
from risk_assets.core.splits import duplicate_groups, holdout_mask
from risk_assets.defs.resources import (
    MlflowResource,
    ModelSettingsResource,
    ObjectStoreResource,
    WarehouseResource,
)
from risk_assets.storage.objects import sha256_hex
from risk_assets.version import code_version

TRAINING_SET_KEY = "frames/training_set.parquet"

# Directions where the economics is unambiguous: more profit, equity or liquidity never raises risk.
MONOTONE_DIRECTIONS = {
    "Attr1": -1,  # net profit / total assets
    "Attr2": 1,  # total liabilities / total assets
    "Attr3": -1,  # working capital / total assets
    "Attr6": -1,  # retained earnings / total assets
    "Attr7": -1,  # EBIT / total assets
    "Attr10": -1,  # equity / total assets
}

FAMILY_PARAMS = {"logistic": {"C": 0.1}, "lightgbm": {}}

# In the Polish data a gap is itself a signal (no prior-year sales: 96% bankrupt) that says how EMIS collected
# the data, not how SEC or DART companies look: the bundled model imputes training medians instead.
MISSING_STRATEGY = "impute"


def read_training_set(objects) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(objects.get(TRAINING_SET_KEY)))


@dg.asset(
    group_name="modeling",
    kinds={"pandas", "s3"},
    description="Labelled training rows: the Polish bankruptcy data's 1-year horizon (5year.arff) as the "
    "product's ratio names, with a content-hashed held-out split that never moves between runs.",
)
def training_set(object_store: ObjectStoreResource, model_settings: ModelSettingsResource) -> dg.MaterializeResult:
    polish = load_polish(horizon_years=1)
    frame = polish[list(MODEL_RATIOS)].copy()
    frame["target"] = polish["target"].astype(int)
    frame["holdout"] = holdout_mask(frame, share=model_settings.holdout_share)
    frame["group"] = duplicate_groups(frame[list(MODEL_RATIOS) + ["target"]])
    frame["source"] = "polish_5year"
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    body = buffer.getvalue()
    object_store.get().put(TRAINING_SET_KEY, body, "application/vnd.apache.parquet")
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "positives": int(frame["target"].sum()),
            "default_rate": round(float(frame["target"].mean()), 4),
            "holdout_rows": int(frame["holdout"].sum()),
            "features": len(MODEL_RATIOS),
            "sha256": sha256_hex(body),
        },
        data_version=dg.DataVersion(sha256_hex(body)[:16]),
    )


@dg.asset(
    group_name="modeling",
    kinds={"mlflow", "scikitlearn"},
    deps=[training_set],
    description="Trains a regularised logistic model and LightGBM, validates both on held-out rows they never "
    "saw, logs everything to MLflow and registers the better (by cross-validated AUC) as a version of "
    "`corporate_pd`.",
)
def pd_model(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    mlflow_registry: MlflowResource,
    model_settings: ModelSettingsResource,
) -> dg.MaterializeResult:
    frame = read_training_set(object_store.get())
    train, holdout = frame[~frame["holdout"]], frame[frame["holdout"]]
    registry = mlflow_registry.get()
    registry.activate()
    target_rate = model_settings.target_rate()
    results: dict[str, dict] = {}
    with mlflow.start_run(run_name=f"train {dt.date.today().isoformat()}") as parent:
        mlflow.log_params(
            {
                "training_rows": len(train),
                "holdout_rows": len(holdout),
                "features": len(MODEL_RATIOS),
                "long_run_default_rate": target_rate,
                "seed": model_settings.seed,
                "code_version": code_version(),
            }
        )
        for family in FAMILIES:
            with mlflow.start_run(run_name=family, nested=True):
                model = PDModel(
                    family, list(MODEL_RATIOS), dict(FAMILY_PARAMS[family]), monotone=MONOTONE_DIRECTIONS,
                    missing=MISSING_STRATEGY,
                )
                model.fit(
                    train, train["target"].to_numpy(), target_rate=target_rate, seed=model_settings.seed,
                    groups=train["group"].to_numpy(),
                )
                cv_auc = roc_auc(train["target"], model.oof_raw_)
                raw = model.raw_log_odds(holdout)
                held = summary_metrics(holdout["target"], model.calibration.sample_pd(raw))
                mlflow.log_params(
                    {"family": family, "missing": model.missing, **{f"param_{k}": v for k, v in model.params.items()}}
                )
                mlflow.log_metrics({"cv_auc": cv_auc, **{f"holdout_{k}": v for k, v in held.items()}})
                results[family] = {"model": model, "cv_auc": cv_auc, "holdout": held}
                context.log.info(f"{family}: cv AUC {cv_auc:.4f}, holdout AUC {held['auc']:.4f}")
        best = max(results, key=lambda family: results[family]["cv_auc"])
        chosen = results[best]
        mlflow.log_params({"selected_family": best})
        mlflow.log_metrics(
            {f"{family}_holdout_auc": r["holdout"]["auc"] for family, r in results.items()}
            | {"holdout_auc": chosen["holdout"]["auc"], "cv_auc": chosen["cv_auc"]}
        )
        logged = registry.log_model(chosen["model"], train)
        registry.tag_version(
            logged.version,
            {"family": best, "holdout_auc": round(chosen["holdout"]["auc"], 6), "code_version": code_version()},
        )
        run_id = parent.info.run_id
    table = pd.DataFrame(
        [{"family": f, "cv_auc": r["cv_auc"], **r["holdout"]} for f, r in results.items()]
    ).round(4)
    return dg.MaterializeResult(
        metadata={
            "version": logged.version,
            "family": best,
            "holdout_auc": round(chosen["holdout"]["auc"], 4),
            "cv_auc": round(chosen["cv_auc"], 4),
            "mlflow_run_id": run_id,
            "families": dg.MetadataValue.md(table.to_markdown(index=False)),
        }
    )


def holdout_figures(model: PDModel, holdout: pd.DataFrame, alpha: float) -> gate.Figures:
    raw = model.raw_log_odds(holdout)
    return gate.evaluate(holdout["target"].to_numpy(), model.calibration.sample_pd(raw), alpha=alpha)


@dg.asset(
    group_name="modeling",
    kinds={"mlflow"},
    deps=[pd_model],
    description="Scores the newest version (challenger) and the current champion on the same held-out rows and "
    "moves the `champion` alias only under the written rule; records the decision either way and never fails "
    "because a challenger was refused.",
)
def champion_model(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    mlflow_registry: MlflowResource,
    model_settings: ModelSettingsResource,
) -> dg.MaterializeResult:
    store = warehouse.get()
    registry = mlflow_registry.get()
    registry.activate()
    versions = registry.versions()
    if not versions:
        raise dg.Failure("no registered version of the model: materialise pd_model first")
    challenger_version = str(versions[0].version)
    champion_before = registry.champion_version()
    decided = store.read(
        "model_decisions", where={"model_name": registry.model_name, "challenger_version": challenger_version}
    )
    if len(decided):
        row = decided.iloc[0]
        return dg.MaterializeResult(
            metadata={"challenger": challenger_version, "champion": str(champion_before), "decision": row["decision"],
                      "reason": f"already decided at {row['decided_at']}: {row['reason']}"}
        )
    rule = gate.GateRule(auc_floor=model_settings.auc_floor, auc_tolerance=model_settings.auc_tolerance)
    holdout = read_training_set(object_store.get()).query("holdout")
    challenger = holdout_figures(registry.load(challenger_version), holdout, rule.alpha)
    champion = None
    if champion_before is not None and champion_before != challenger_version:
        champion = holdout_figures(registry.load(champion_before), holdout, rule.alpha)
    decision = gate.decide(challenger, champion, rule)
    champion_after = challenger_version if decision.promote else champion_before
    if decision.promote:
        registry.set_champion(challenger_version)
    figures = {"challenger": challenger.as_dict(), "champion": champion.as_dict() if champion else None}
    outcome = "promoted" if decision.promote else "kept"
    registry.tag_version(
        challenger_version,
        {"gate_decision": outcome, "gate_reason": decision.reason[:500], "gate_rule": rule.text[:500],
         "gate_challenger_auc": round(challenger.auc, 6),
         "gate_champion_auc": round(champion.auc, 6) if champion else "none"},
    )
    store.upsert(
        "model_decisions",
        [
            {
                "model_name": registry.model_name,
                "challenger_version": challenger_version,
                "decided_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
                "champion_version_before": champion_before,
                "champion_version_after": champion_after or "",
                "decision": outcome,
                "rule": rule.text,
                "reason": decision.reason[:1000],
                "challenger_auc": challenger.auc,
                "champion_auc": champion.auc if champion else None,
                "n_holdout": challenger.n,
                "figures": json.dumps(figures, default=float),
            }
        ],
    )
    context.log.info(f"challenger v{challenger_version}: {decision.reason}")
    return dg.MaterializeResult(
        metadata={
            "challenger": challenger_version,
            "champion": str(champion_after),
            "decision": outcome,
            "reason": decision.reason,
            "challenger_auc": round(challenger.auc, 4),
            "champion_auc": round(champion.auc, 4) if champion else "none",
        }
    )
