"""Modelling: the labelled training set, the PD model (MLflow run + registered version) and the champion gate."""

import datetime as dt
import io
import json
import tempfile
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pandas as pd

from risk_assets.core import champion as gate
from risk_assets.core.benchmarks import classic_figures, classic_from_polish_ratios
from risk_assets.core.evaluation import (
    build_panel,
    corrected_standard_error,
    product_candidates,
    validation_figures,
)
from risk_assets.core.labels import DEFAULT_HORIZON_MONTHS, DEFAULT_REPORTING_LAG_DAYS
from risk_assets.core.metrics import roc_auc
from risk_assets.core.model import PDModel
from risk_assets.core.modelcard import render_model_card
from risk_assets.core.plots import calibration_figure, roc_figure
from risk_assets.core.polish import load_polish
from risk_assets.core.ratios import MODEL_RATIOS, mapping_table
from risk_assets.core.splits import duplicate_groups, holdout_mask
from risk_assets.defs.resources import (
    MlflowResource,
    ModelSettingsResource,
    ObjectStoreResource,
    WarehouseResource,
)
from risk_assets.defs.sources.assets import default_events
from risk_assets.defs.statements.assets import statements
from risk_assets.storage.imports import USER_SOURCE, read_stored_table, stored_tables
from risk_assets.storage.objects import sha256_hex
from risk_assets.storage.warehouse import utc_now
from risk_assets.version import code_version

TRAINING_SET_KEY = "frames/training_set.parquet"

# In the Polish data a gap is itself a signal (no prior-year sales: 96% bankrupt) that says how EMIS collected
# the data, not how SEC or DART companies look: the bundled model does not read gaps (core/model.py: fitted on
# drawn fills, scored at training medians). Measured
# (bench/model_quality.py): native gaps raise the Polish cross-validated AUC, which is exactly the signal
# that would not transfer to filers.
MISSING_STRATEGY = "impute"

# The label of a user's statement row (DESIGN.md "Point in time").
LABEL_HORIZON_MONTHS = DEFAULT_HORIZON_MONTHS
REPORTING_LAG_DAYS = DEFAULT_REPORTING_LAG_DAYS

SELECTION_RULE = "highest cross-validated (out-of-fold) AUC on the training rows"
_BOOK_COLUMNS = ["target", "holdout", "group", "source", "company_id", "fiscal_year", "t"]


def read_training_set(objects) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(objects.get(TRAINING_SET_KEY)))


def polish_rows() -> pd.DataFrame:
    polish = load_polish(horizon_years=1)
    frame = polish[list(MODEL_RATIOS)].copy()
    frame["target"] = polish["target"].astype(int)
    frame["source"] = "polish_5year"
    return frame


def user_panel_rows(store) -> tuple[pd.DataFrame, dict[str, int]]:
    """The user's own labelled panel: imported statements (source user_csv) of non-financial companies,
    labelled with the warehouse's default events and a horizon, ratios known at t."""
    rows = store.read("statements", where={"source": USER_SOURCE})
    if rows.empty:
        return pd.DataFrame(), {}
    companies = store.read("companies", where={"company_id": sorted(rows["company_id"].unique())})
    financial = set(companies.loc[companies["is_financial"].astype(bool), "company_id"])
    excluded = {"financial firm (out of the model's scope)": int(rows["company_id"].isin(financial).sum())}
    rows = rows[~rows["company_id"].isin(financial)]
    # filed_at derived from period end + lag is what the import stored: the label uses the same t.
    events = store.read("default_events", where={"company_id": sorted(rows["company_id"].unique())})
    panel = build_panel(rows, events[["company_id", "event_date", "kind"]], LABEL_HORIZON_MONTHS,
                        REPORTING_LAG_DAYS, with_classic=False)
    frame = panel.frame[["company_id", "fiscal_year", "t", "target", *MODEL_RATIOS]].copy()
    frame["source"] = "user_panel"
    return frame, {**excluded, **panel.excluded}


def user_table_rows(objects) -> tuple[pd.DataFrame, list[str]]:
    """Stored labelled tables named like the model's ratios (every MODEL_RATIOS column present): they train
    the product model; other tables are for `riskgraph evaluate --stored-table` only."""
    frames, skipped = [], []
    for meta in stored_tables(objects):
        if not set(MODEL_RATIOS) <= set(meta["columns"]):
            skipped.append(meta["name"])
            continue
        table, _ = read_stored_table(objects, meta["name"])
        frame = table[list(MODEL_RATIOS)].astype(float)
        frame["target"] = table[meta["target"]].astype(int)
        frame["source"] = f"user_table:{meta['name']}"
        frames.append(frame)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), skipped


def assemble_training_set(parts: list[pd.DataFrame], holdout_share: float) -> pd.DataFrame:
    """One frame: ratios, target, source, a group per row for the calibration folds, and the holdout flag.

    Ratio rows (Polish, tables) are grouped and held out by content, so exact duplicates stay together; a user
    panel's rows are grouped and held out by company, so no company sits on both sides.
    """
    pieces = []
    offset = 0
    for part in parts:
        if part.empty:
            continue
        part = part.reset_index(drop=True).copy()
        if "company_id" in part.columns and part["company_id"].notna().all():
            groups = pd.factorize(part["company_id"])[0]
            holdout = holdout_mask(part[["company_id"]].astype(str), share=holdout_share, salt="riskgraph-company")
        else:
            content = part[list(MODEL_RATIOS) + ["target"]]
            groups = duplicate_groups(content)
            holdout = holdout_mask(content, share=holdout_share)
        part["group"] = groups + offset
        part["holdout"] = holdout
        offset += int(groups.max()) + 1
        pieces.append(part)
    frame = pd.concat(pieces, ignore_index=True)
    for column in _BOOK_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["t"] = pd.to_datetime(frame["t"])
    frame["fiscal_year"] = pd.to_numeric(frame["fiscal_year"]).astype("Int64")
    frame["company_id"] = frame["company_id"].astype(object)
    return frame[list(MODEL_RATIOS) + _BOOK_COLUMNS]


@dg.asset(
    group_name="modeling",
    kinds={"pandas", "s3"},
    deps=[statements, default_events],
    description="Labelled training rows: the Polish bankruptcy data's 1-year horizon (5year.arff) as the product's "
    "ratio names, plus the user's own panel (imported statements labelled with default events, 12-month horizon) "
    "and stored tables named like the ratios, with a content-hashed held-out split that never moves between runs.",
)
def training_set(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    model_settings: ModelSettingsResource,
) -> dg.MaterializeResult:
    objects = object_store.get()
    panel, excluded = user_panel_rows(warehouse.get())
    tables, skipped = user_table_rows(objects)
    if skipped:
        context.log.info(f"stored tables not named like the model's ratios, left out: {skipped}")
    frame = assemble_training_set([polish_rows(), panel, tables], model_settings.holdout_share)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    body = buffer.getvalue()
    objects.put(TRAINING_SET_KEY, body, "application/vnd.apache.parquet")
    by_source = frame.groupby("source")["target"].agg(["size", "sum"]).reset_index()
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "positives": int(frame["target"].sum()),
            "default_rate": round(float(frame["target"].mean()), 4),
            "holdout_rows": int(frame["holdout"].sum()),
            "features": len(MODEL_RATIOS),
            "sources": dg.MetadataValue.md(by_source.rename(columns={"size": "rows", "sum": "positives"})
                                           .to_markdown(index=False)),
            "user_panel_excluded": dg.MetadataValue.json(excluded),
            "sha256": sha256_hex(body),
        },
        data_version=dg.DataVersion(sha256_hex(body)[:16]),
    )


def _fold_auc_se(model: PDModel, y: np.ndarray) -> float:
    """Corrected standard error of the AUC over the calibration folds the model was cross-fitted on."""
    folds = np.unique(model.oof_fold_)
    aucs = [roc_auc(y[model.oof_fold_ == k], model.oof_raw_[model.oof_fold_ == k]) for k in folds]
    return corrected_standard_error(aucs, len(y) * (len(folds) - 1) / len(folds), len(y) / len(folds))


def _log_artifacts(figures: dict, curves: dict, probabilities: dict, card: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "validation.json").write_text(json.dumps(figures, indent=2, default=str))
        (folder / "model_card.md").write_text(card)
        mapping_table().to_csv(folder / "polish_mapping.csv", index=False)
        roc_figure(curves, "ROC on the held-out rows").savefig(folder / "roc.png")
        calibration_figure(probabilities, "Calibration on the held-out rows").savefig(folder / "calibration.png")
        mlflow.log_artifacts(str(folder), artifact_path="validation")


@dg.asset(
    group_name="modeling",
    kinds={"mlflow", "scikitlearn"},
    deps=[training_set],
    description="Trains the logistic model (WoE bins and winsorised ratios) and LightGBM, validates each on held-out "
    "rows it never saw (AUC, AR, KS, Brier, log loss, deciles, grades, PSI) beside Altman Z'' and Zmijewski, logs "
    "figures, plots and a model card to MLflow and registers the best (by cross-validated AUC) as a version of "
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
    y_train, y_holdout = train["target"].to_numpy(), holdout["target"].to_numpy()
    registry = mlflow_registry.get()
    registry.activate()
    target_rate = model_settings.target_rate()
    results: dict[str, dict] = {}
    curves, probabilities = {}, {}
    with mlflow.start_run(run_name=f"train {dt.date.today().isoformat()}") as parent:
        sources = frame.groupby("source")["target"].agg(["size", "sum"])
        sources_text = "; ".join(f"{s}: {int(r['size'])} rows, {int(r['sum'])} defaults" for s, r in sources.iterrows())
        mlflow.log_params(
            {
                "training_rows": len(train),
                "holdout_rows": len(holdout),
                "features": len(MODEL_RATIOS),
                "long_run_default_rate": target_rate,
                "sample_default_rate": round(float(y_train.mean()), 6),
                "missing": MISSING_STRATEGY,
                "seed": model_settings.seed,
                "code_version": code_version(),
                "sources": sources_text[:500],
            }
        )
        for candidate in product_candidates(MISSING_STRATEGY):
            with mlflow.start_run(run_name=candidate.name, nested=True):
                model = candidate.build(MODEL_RATIOS).fit(
                    train, y_train, target_rate=target_rate, seed=model_settings.seed,
                    groups=train["group"].to_numpy(),
                )
                cv_auc = roc_auc(y_train, model.oof_raw_)
                cv_auc_se = _fold_auc_se(model, y_train)
                p_holdout = model.calibration.sample_pd(model.raw_log_odds(holdout))
                p_dev = model.calibration.sample_pd(model.raw_log_odds(train))
                held = validation_figures(y_holdout, p_holdout, p_dev)
                mlflow.log_params({"family": candidate.family, "missing": model.missing,
                                   **{f"param_{k}": v for k, v in model.params.items()}})
                scalar = {k: v for k, v in held.items() if isinstance(v, int | float) and v is not None}
                mlflow.log_metrics({"cv_auc": cv_auc, "cv_auc_se": cv_auc_se,
                                    "grades_monotone": float(held["grades"]["monotone"]),
                                    "grades_monotone_within_noise": float(held["grades"]["monotone_within_noise"]),
                                    **{f"holdout_{k}": v for k, v in scalar.items()}})
                results[candidate.name] = {"model": model, "cv_auc": cv_auc, "cv_auc_se": cv_auc_se,
                                           "holdout": held, "family": candidate.family}
                curves[candidate.name] = probabilities[candidate.name] = (y_holdout, p_holdout)
                context.log.info(f"{candidate.name}: cv AUC {cv_auc:.4f} ± {cv_auc_se:.4f}, "
                                 f"holdout AUC {held['auc']:.4f}")
        classic = {}
        for name, score in classic_from_polish_ratios(holdout).items():
            classic[name] = classic_figures(score, y_holdout)
            if classic[name]["available"]:
                present = score.available()
                curves[name] = (y_holdout[present], score.risk[present])
                if score.probability is not None:
                    probabilities[name] = (y_holdout[present], score.probability[present])
                mlflow.log_metric(f"classic_{name}_holdout_auc", classic[name]["auc"])
        best = max(results, key=lambda name: results[name]["cv_auc"])
        chosen = results[best]
        model = chosen["model"]
        figures = {name: {**r["holdout"], "cv_auc": r["cv_auc"], "cv_auc_se": r["cv_auc_se"], "family": r["family"]}
                   for name, r in results.items()} | classic
        card = render_model_card(
            title=f"{registry.model_name}: {best}",
            chosen=best,
            selection_rule=SELECTION_RULE,
            data={
                "sources": sources_text,
                "period": "Polish companies: 2000-2013 (EMIS), outcome within 1 year (5year.arff); user panel: "
                          "years of its statements, label horizon 12 months",
                "held-out rows": f"{len(holdout)} (content-hashed {model_settings.holdout_share:.0%}; a user's "
                                 "company held out as a whole)",
                "training rows": f"{len(train)}, default rate {y_train.mean():.4f}",
            },
            features=list(MODEL_RATIOS),
            models=figures,
            calibration={
                "method": "Platt map fitted on 5-fold out-of-fold raw scores (cross-fitting), then a prior shift",
                "sample default rate": f"{model.calibration.sample_rate:.4f}",
                "long-run default rate (target)": f"{model.calibration.target_rate:.4f}",
                "prior shift (log-odds)": f"{model.calibration.prior_shift:.4f}",
                "tests above": "on the sample's scale (no prior shift), against the sample's outcomes",
            },
            gate_rule=gate.GateRule(auc_floor=model_settings.auc_floor, auc_tolerance=model_settings.auc_tolerance).text,
        )
        _log_artifacts(figures, curves, probabilities, card)
        mlflow.log_params({"selected_family": best, "selection_rule": SELECTION_RULE})
        mlflow.log_metrics(
            {f"{name}_holdout_auc": r["holdout"]["auc"] for name, r in results.items()}
            | {f"{name}_cv_auc": r["cv_auc"] for name, r in results.items()}
            | {"holdout_auc": chosen["holdout"]["auc"], "cv_auc": chosen["cv_auc"]}
        )
        logged = registry.log_model(model, train)
        registry.tag_version(
            logged.version,
            {"family": chosen["family"], "candidate": best, "holdout_auc": round(chosen["holdout"]["auc"], 6),
             "cv_auc": round(chosen["cv_auc"], 6), "code_version": code_version(),
             "grades_monotone": chosen["holdout"]["grades"]["monotone"],
             "grades_monotone_within_noise": chosen["holdout"]["grades"]["monotone_within_noise"],
             "best_classic_holdout_auc": round(max((f["auc"] for f in classic.values() if f["available"]),
                                                   default=float("nan")), 6)},
        )
        run_id = parent.info.run_id
    table = pd.DataFrame(
        [{"model": name, "cv_auc": r["cv_auc"], "cv_auc_se": r["cv_auc_se"],
          **{k: r["holdout"][k] for k in ("auc", "ar", "ks", "brier", "log_loss", "psi")},
          "grades_monotone": r["holdout"]["grades"]["monotone"],
          "within_noise": r["holdout"]["grades"]["monotone_within_noise"]} for name, r in results.items()]
        + [{"model": name, **{k: f.get(k) for k in ("auc", "ar", "ks", "brier")}} for name, f in classic.items()]
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


def holdout_figures(model: PDModel, holdout: pd.DataFrame, alpha: float, sample_rate: float | None = None
                    ) -> gate.Figures:
    """Gate figures on the held-out rows. PDs are moved to ``sample_rate`` (the training rows' default rate) so
    models trained on different samples are tested on one scale, the held-out rows' own."""
    raw = model.raw_log_odds(holdout)
    pds = (model.calibration.sample_pd(raw) if sample_rate is None
           else model.calibration.pd_at_rate(raw, sample_rate))
    return gate.evaluate(holdout["target"].to_numpy(), pds, alpha=alpha)


def _tag_figures(figures: gate.Figures | None) -> str:
    if figures is None:
        return "none"
    keys = ("auc", "n", "defaults", "mean_pd", "observed_rate", "mean_pd_p_value", "worst_grade_jeffreys_p",
            "failing_grades")
    return json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in figures.as_dict().items()
                       if k in keys})


@dg.asset(
    group_name="modeling",
    kinds={"mlflow"},
    deps=[pd_model],
    description="Scores the newest version (challenger) and the current champion on the same held-out rows and "
    "moves the `champion` alias only under the written rule; records the decision and both sets of figures "
    "(model_decisions, MLflow version tags) either way and never fails because a challenger was refused.",
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
    frame = read_training_set(object_store.get())
    holdout = frame[frame["holdout"]]
    sample_rate = float(frame.loc[~frame["holdout"], "target"].mean())
    challenger = holdout_figures(registry.load(challenger_version), holdout, rule.alpha, sample_rate)
    champion = None
    if champion_before is not None and champion_before != challenger_version:
        champion = holdout_figures(registry.load(champion_before), holdout, rule.alpha, sample_rate)
    decision = gate.decide(challenger, champion, rule)
    champion_after = challenger_version if decision.promote else champion_before
    if decision.promote:
        registry.set_champion(challenger_version)
    figures = {"challenger": challenger.as_dict(), "champion": champion.as_dict() if champion else None,
               "pd_scale": f"training sample default rate {sample_rate:.6f}"}
    outcome = "promoted" if decision.promote else "kept"
    registry.tag_version(
        challenger_version,
        {"gate_decision": outcome, "gate_reason": decision.reason[:500], "gate_rule": rule.text[:500],
         "gate_challenger_auc": round(challenger.auc, 6),
         "gate_champion_auc": round(champion.auc, 6) if champion else "none",
         "gate_champion_version": champion_before or "none",
         "gate_challenger_figures": _tag_figures(challenger),
         "gate_champion_figures": _tag_figures(champion)},
    )
    store.upsert(
        "model_decisions",
        [
            {
                "model_name": registry.model_name,
                "challenger_version": challenger_version,
                "decided_at": utc_now(),
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
