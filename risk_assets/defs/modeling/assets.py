"""Modelling: the labelled training set, the PD model (MLflow run + registered version) and the champion gate."""

import datetime as dt
import hashlib
import io
import json
import tempfile
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from risk_assets.core import champion as gate
from risk_assets.core import us_listed
from risk_assets.core.benchmarks import (
    classic_figures,
    classic_from_field_features,
    classic_from_polish_ratios,
)
from risk_assets.core.evaluation import (
    SELECTION_RULE,
    build_panel,
    corrected_standard_error,
    listed_candidates,
    product_candidates,
    simplest_within_one_se,
    usable_features,
    validation_figures,
)
from risk_assets.core.field_features import FIELD_FEATURES
from risk_assets.core.labels import DEFAULT_HORIZON_MONTHS, DEFAULT_REPORTING_LAG_DAYS
from risk_assets.core.metrics import delong_test, population_weights, roc_auc
from risk_assets.core.model import PDModel
from risk_assets.core.modelcard import render_model_card
from risk_assets.core.polish import load_polish
from risk_assets.core.ratios import MODEL_RATIOS, mapping_table
from risk_assets.core.segments import LISTED_MARKET, LISTED_STATEMENTS, SEGMENT_NAMES, SEGMENTS, SME, Segment
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

TRAINING_SET_KEY = "frames/training_set.parquet"  # the SME segment's (its name predates the segments)
LISTED_TRAINING_SET_KEY = "frames/training_set_listed.parquet"
#: pd_model's metadata key: {segment: the version this materialisation trained or kept}.
VERSIONS_KEY = "versions"  # both listed segments: same rows, own features
LISTED_SOURCES = ("sec_companyfacts", "dart")

# In the Polish data a gap is itself a signal (no prior-year sales: 96% bankrupt) that says how EMIS collected
# the data, not how SEC or DART companies look: the bundled model does not read gaps (core/model.py: fitted on
# drawn fills, scored at training medians). Measured
# (bench/model_quality.py): native gaps raise the Polish cross-validated AUC, which is exactly the signal
# that would not transfer to filers.
MISSING_STRATEGY = "impute"

# The label of a user's statement row (docs/modeling.md, "Labels").
LABEL_HORIZON_MONTHS = DEFAULT_HORIZON_MONTHS
REPORTING_LAG_DAYS = DEFAULT_REPORTING_LAG_DAYS

_BOOK_COLUMNS = ["target", "holdout", "group", "source", "company_id", "fiscal_year", "t"]


def calibration_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows the calibration map and the gate's tests use: all of them, but the listed panel's censored years."""
    if "source" not in frame.columns or not (frame["source"] == us_listed.SOURCE).any():
        return np.ones(len(frame), dtype=bool)
    return us_listed.uncensored(frame)


def read_training_set(objects, segment: str = SME) -> pd.DataFrame:
    key = TRAINING_SET_KEY if segment == SME else LISTED_TRAINING_SET_KEY
    return pd.read_parquet(io.BytesIO(objects.get(key)))


def listed_rows(store) -> tuple[pd.DataFrame, dict[str, int]]:
    """Training rows of the listed segments: the bundled US listed panel plus the warehouse's own SEC/DART filers
    (annual statements of non-financial companies, labelled with the warehouse's default events; a label window
    that has not ended yet is left out, not counted as a survival)."""
    bundled, _ = us_listed.bundled_panel()
    statements = store.read("statements")
    statements = statements[statements["source"].isin(LISTED_SOURCES)] if len(statements) else statements
    if statements.empty:
        return bundled, {}
    companies = store.read("companies", where={"company_id": sorted(statements["company_id"].unique())})
    financial = set(companies.loc[companies["is_financial"].astype(bool), "company_id"])
    excluded = {
        "financial firm (out of the model's scope)": int(statements["company_id"].isin(financial).sum())
    }
    statements = statements[~statements["company_id"].isin(financial)]
    events = store.read("default_events", where={"company_id": sorted(statements["company_id"].unique())})
    # a fixed row order whatever the database returns: the calibration folds group companies by first appearance
    statements = statements.sort_values(["company_id", "fiscal_year", "period_end", "filed_at", "accession"])
    # one row per company-year, as first filed: a later 10-K's comparative columns restate the year (point in time,
    # and no firm-year counted twice)
    statements = first_filed_annuals(statements)
    own, dropped = us_listed.labelled_panel(statements, events, observed_until=dt.date.today())
    return pd.concat([bundled, own], ignore_index=True), {**excluded, **dropped}


def first_filed_annuals(statements: pd.DataFrame) -> pd.DataFrame:
    """Each company's annual statements, one per fiscal year: the version filed first (what was known at t)."""
    annual = (
        statements[statements["period_type"].fillna("FY") == "FY"]
        if "period_type" in statements
        else statements
    )
    annual = annual.sort_values(["company_id", "fiscal_year", "filed_at", "accession"], kind="stable")
    return annual.drop_duplicates(["company_id", "fiscal_year"], keep="first")


def assemble_listed_set(frame: pd.DataFrame, holdout_share: float) -> pd.DataFrame:
    """Listed rows with a per-company group (calibration folds) and a company-hashed holdout that never moves."""
    frame = frame.reset_index(drop=True).copy()
    frame["group"] = pd.factorize(frame["company_id"])[0]
    frame["holdout"] = holdout_mask(
        frame[["company_id"]].astype(str), share=holdout_share, salt="riskgraph-company"
    )
    frame["t"] = pd.to_datetime(frame["t"])
    return frame[list(FIELD_FEATURES) + _BOOK_COLUMNS]


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
    panel = build_panel(
        rows,
        events[["company_id", "event_date", "kind"]],
        LABEL_HORIZON_MONTHS,
        REPORTING_LAG_DAYS,
        with_classic=False,
    )
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
            holdout = holdout_mask(
                part[["company_id"]].astype(str), share=holdout_share, salt="riskgraph-company"
            )
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
    listed, listed_excluded = listed_rows(warehouse.get())
    listed = assemble_listed_set(listed, model_settings.holdout_share)
    bodies = {}
    for key, part in ((TRAINING_SET_KEY, frame), (LISTED_TRAINING_SET_KEY, listed)):
        buffer = io.BytesIO()
        part.to_parquet(buffer, index=False)
        bodies[key] = buffer.getvalue()
        objects.put(key, bodies[key], "application/vnd.apache.parquet")
    body = bodies[TRAINING_SET_KEY] + bodies[LISTED_TRAINING_SET_KEY]
    by_source = pd.concat([frame, listed]).groupby("source")["target"].agg(["size", "sum"]).reset_index()
    return dg.MaterializeResult(
        metadata={
            "rows": len(frame),
            "positives": int(frame["target"].sum()),
            "default_rate": round(float(frame["target"].mean()), 4),
            "holdout_rows": int(frame["holdout"].sum()),
            "features": len(MODEL_RATIOS),
            "sources": dg.MetadataValue.md(
                by_source.rename(columns={"size": "rows", "sum": "positives"}).to_markdown(index=False)
            ),
            "user_panel_excluded": dg.MetadataValue.json(excluded),
            "listed_rows": len(listed),
            "listed_positives": int(listed["target"].sum()),
            "listed_excluded": dg.MetadataValue.json(listed_excluded),
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
    # matplotlib and MLflow are imported by a training run only: every other run's start skips their ~2.5 s
    import mlflow

    from risk_assets.core.plots import calibration_figure, roc_figure

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "validation.json").write_text(json.dumps(figures, indent=2, default=str))
        (folder / "model_card.md").write_text(card)
        mapping_table().to_csv(folder / "polish_mapping.csv", index=False)
        roc_figure(curves, "ROC on the held-out rows").savefig(folder / "roc.png")
        calibration_figure(probabilities, "Calibration on the held-out rows").savefig(
            folder / "calibration.png"
        )
        mlflow.log_artifacts(str(folder), artifact_path="validation")


def segment_target_rate(
    segment: Segment, frame: pd.DataFrame, model_settings: ModelSettingsResource
) -> tuple[float, str]:
    """The long-run default rate a segment's PDs are calibrated to, and where it comes from."""
    if segment.name == SME:
        return model_settings.target_rate(), (
            "configured (RISKGRAPH_LONG_RUN_DEFAULT_RATE): the Polish sample was drawn with its bankruptcies "
            "over-represented (6.9%), so it holds no population rate"
        )
    bundled = frame[frame["source"] == us_listed.SOURCE]
    rate = us_listed.long_run_default_rate(bundled)
    return rate["rate"], (
        f"US listed panel: mean yearly default rate {rate['mean']:.4f} over {rate['years']} "
        f"plus a margin of conservatism {rate['margin']:.4f} (75% one-sided upper bound)"
    )


def out_of_time_figures(
    segment: Segment, candidate, features: list[str], frame: pd.DataFrame, seed: int, alpha: float
) -> dict:
    """The listed panel's own out-of-time test: fit on fiscal years up to 2007, test 2008-2011, PDs calibrated to
    the training years' long-run rate; AUC and AR beside Altman Z on the same rows, mean PD against the observed
    rate, and the per-grade back-test of the grades served."""
    bundled = frame[frame["source"] == us_listed.SOURCE]
    train, test = bundled[bundled["fiscal_year"] <= 2007], bundled[bundled["fiscal_year"] >= 2008]
    rate = us_listed.long_run_default_rate(train)["rate"]
    model = candidate.build(features, segment.monotone).fit(
        train,
        train["target"].to_numpy(),
        target_rate=rate,
        seed=seed,
        groups=train["group"].to_numpy(),
        calibration_rows=calibration_rows(train),
    )
    y = test["target"].to_numpy()
    raw = model.raw_log_odds(test)
    served = model.calibration.pd(raw)
    z = classic_from_field_features(test)["altman_z"]
    present = z.available()
    auc, auc_on_z_rows = roc_auc(y, raw), roc_auc(y[present], raw[present])
    z_auc = roc_auc(y[present], z.risk[present])
    backtest = gate.evaluate(y, served, alpha=alpha)
    safest_half = served < np.median(served)
    riskiest_decile = served >= np.quantile(served, 0.9)
    return {
        "missed_defaults": int((safest_half & (y == 1)).sum()),
        "missed_defaults_note": "defaults whose served PD was in the safest half of the test rows",
        "caught_defaults": int((riskiest_decile & (y == 1)).sum()),
        "false_alarms": int((riskiest_decile & (y == 0)).sum()),
        "false_alarms_note": "survivors in the riskiest decile of served PDs",
        "train_years": "1999-2007",
        "test_years": "2008-2011",
        "n_test": int(len(y)),
        "defaults": int(y.sum()),
        "auc": auc,
        "ar": 2 * auc - 1,
        "altman_z_rows": int(present.sum()),
        "ar_on_altman_rows": 2 * auc_on_z_rows - 1,
        "altman_z_auc": z_auc,
        "altman_z_ar": 2 * z_auc - 1,
        "ar_lift_over_altman_z": 2 * (auc_on_z_rows - z_auc),
        "long_run_rate": rate,
        "mean_pd": float(served.mean()),
        "observed_rate": float(y.mean()),
        "mean_pd_ratio": float(served.mean() / max(y.mean(), 1e-12)),
        "served_grade_backtest": backtest.as_dict(),
    }


def card_extras(segment: Segment, features: list[str], oot: dict | None, frame: pd.DataFrame) -> dict:
    """The listed segments' card: the field features' table, their limits, and the out-of-time test with its misses
    listed as plainly as its hits."""
    if segment.name == SME:
        return {}
    from risk_assets.core.field_features import FEATURE_BY_NAME
    from risk_assets.core.modelcard import LISTED_LIMITS

    table = pd.DataFrame(
        [
            {k: FEATURE_BY_NAME[f].as_dict()[k] for k in ("name", "label", "formula", "unit", "monotone")}
            for f in features
        ]
    )
    sections = {}
    if oot is not None:
        backtest = oot["served_grade_backtest"]
        grades = pd.DataFrame(backtest["grades"])[
            ["grade", "rows", "defaults", "mean_pd", "observed_rate", "jeffreys_p", "direction", "fails"]
        ]
        sections["Out of time: train 1999-2007, test 2008-2011"] = "\n".join(
            [
                f"- AUC {oot['auc']:.4f}, AR {oot['ar']:.4f}; Altman Z on the same rows AR {oot['altman_z_ar']:.4f}: "
                f"lift {oot['ar_lift_over_altman_z']:+.4f}",
                f"- mean served PD {oot['mean_pd']:.4f} against an observed rate of {oot['observed_rate']:.4f} "
                f"(x{oot['mean_pd_ratio']:.2f}); calibrated to the training years' long-run rate {oot['long_run_rate']:.4f}",
                f"- hits: {oot['caught_defaults']} of {oot['defaults']} defaults in the riskiest decile",
                f"- misses: {oot['missed_defaults']} defaults in the safest half; {oot['false_alarms']} survivors in the "
                "riskiest decile",
                f"- grades served, two-sided Jeffreys per grade (Bonferroni); failing: "
                f"{', '.join(backtest['failing_grades']) or 'none'}; slope {backtest['slope']:.3f} "
                f"(p {backtest['p_slope']:.3g})",
                "",
                grades.to_markdown(index=False, floatfmt=".4g"),
            ]
        )
    cells = us_listed.cell_experience(frame[frame["source"] == us_listed.SOURCE])
    sections["Default experience of healthy companies in the panel"] = "\n".join(
        [
            "The panel's own yearly default rates where healthy large companies sit (fiscal years "
            f"{us_listed.FIRST_UNCENSORED_YEAR}-{us_listed.LAST_YEAR}, two-sided 95% Jeffreys intervals). A PD far below "
            "these for a filer in such a cell is not supported by this data, however healthy the filer looks:",
            "",
            cells.to_markdown(index=False, floatfmt=".4g"),
        ]
    )
    return {"limits": LISTED_LIMITS, "feature_table": table.to_markdown(index=False), "sections": sections}


def train_segment(
    context: dg.AssetExecutionContext,
    segment: Segment,
    frame: pd.DataFrame,
    registry,
    model_settings: ModelSettingsResource,
) -> dict:
    """Train a segment's families, validate on its held-out rows, log to MLflow and register the best."""
    import mlflow

    train, holdout = frame[~frame["holdout"]], frame[frame["holdout"]]
    y_train, y_holdout = train["target"].to_numpy(), holdout["target"].to_numpy()
    features = usable_features(train, segment.features)
    left_out = [f for f in segment.features if f not in features]
    target_rate, rate_source = segment_target_rate(segment, frame, model_settings)
    candidates = product_candidates(MISSING_STRATEGY) if segment.name == SME else listed_candidates()
    classic_scores = (
        classic_from_polish_ratios(holdout) if segment.name == SME else classic_from_field_features(holdout)
    )
    results: dict[str, dict] = {}
    curves, probabilities = {}, {}
    with mlflow.start_run(run_name=f"train {segment.name} {dt.date.today().isoformat()}") as parent:
        sources = frame.groupby("source")["target"].agg(["size", "sum"])
        sources_text = "; ".join(
            f"{s}: {int(r['size'])} rows, {int(r['sum'])} defaults" for s, r in sources.iterrows()
        )
        mlflow.set_tags({"segment": segment.name})
        mlflow.log_params(
            {
                "segment": segment.name,
                "training_rows": len(train),
                "holdout_rows": len(holdout),
                "features": len(features),
                "long_run_default_rate": round(target_rate, 6),
                "long_run_default_rate_source": rate_source[:500],
                "sample_default_rate": round(float(y_train.mean()), 6),
                "seed": model_settings.seed,
                "code_version": code_version(),
                "sources": sources_text[:500],
            }
        )
        for candidate in candidates:
            with mlflow.start_run(run_name=f"{segment.name}/{candidate.name}", nested=True):
                model = candidate.build(features, segment.monotone).fit(
                    train,
                    y_train,
                    target_rate=target_rate,
                    seed=model_settings.seed,
                    groups=train["group"].to_numpy(),
                    calibration_rows=calibration_rows(train),
                )
                cv_auc = roc_auc(y_train, model.oof_raw_)
                cv_auc_se = _fold_auc_se(model, y_train)
                p_holdout = model.calibration.sample_pd(model.raw_log_odds(holdout))
                p_dev = model.calibration.sample_pd(model.raw_log_odds(train))
                held = validation_figures(y_holdout, p_holdout, p_dev)
                mlflow.log_params(
                    {
                        "family": candidate.family,
                        "missing": model.missing,
                        **{f"param_{k}": v for k, v in model.params.items()},
                    }
                )
                scalar = {k: v for k, v in held.items() if isinstance(v, int | float) and v is not None}
                mlflow.log_metrics(
                    {
                        "cv_auc": cv_auc,
                        "cv_auc_se": cv_auc_se,
                        "grades_monotone": float(held["grades"]["monotone"]),
                        "grades_monotone_within_noise": float(held["grades"]["monotone_within_noise"]),
                        **{f"holdout_{k}": v for k, v in scalar.items()},
                    }
                )
                results[candidate.name] = {
                    "model": model,
                    "cv_auc": cv_auc,
                    "cv_auc_se": cv_auc_se,
                    "holdout": held,
                    "family": candidate.family,
                    "candidate": candidate,
                }
                curves[candidate.name] = probabilities[candidate.name] = (y_holdout, p_holdout)
                context.log.info(
                    f"{segment.name}/{candidate.name}: cv AUC {cv_auc:.4f} ± {cv_auc_se:.4f}, "
                    f"holdout AUC {held['auc']:.4f}"
                )
        classic = {}
        for name, score in classic_scores.items():
            classic[name] = classic_figures(score, y_holdout)
            if classic[name]["available"]:
                present = score.available()
                curves[name] = (y_holdout[present], score.risk[present])
                if score.probability is not None:
                    probabilities[name] = (y_holdout[present], score.probability[present])
                mlflow.log_metric(f"classic_{name}_holdout_auc", classic[name]["auc"])
        best = simplest_within_one_se({name: (r["cv_auc"], r["cv_auc_se"]) for name, r in results.items()})
        chosen = results[best]
        model = chosen["model"]
        oot = None
        if segment.name != SME:
            oot = out_of_time_figures(
                segment, chosen["candidate"], features, frame, model_settings.seed, gate.GateRule().alpha
            )
            mlflow.log_metrics({f"oot_{k}": v for k, v in oot.items() if isinstance(v, int | float)})
            context.log.info(
                f"{segment.name} out of time 2008-2011: AR {oot['ar']:.3f} vs Altman Z "
                f"{oot['altman_z_ar']:.3f}; mean PD {oot['mean_pd']:.4f} vs observed "
                f"{oot['observed_rate']:.4f}"
            )
        figures = {
            name: {**r["holdout"], "cv_auc": r["cv_auc"], "cv_auc_se": r["cv_auc_se"], "family": r["family"]}
            for name, r in results.items()
        } | classic
        if oot is not None:
            figures["out_of_time"] = oot
        card = render_model_card(
            **card_extras(segment, features, oot, frame),
            title=f"{registry.model_name}: {best} ({segment.title})",
            chosen=best,
            selection_rule=SELECTION_RULE,
            data={
                "segment": f"{segment.title}: {segment.population}",
                "training data": segment.training_data,
                "sources": sources_text,
                "sample design": SAMPLE_DESIGN[segment.name],
                "held-out rows": f"{len(holdout)} (hashed {model_settings.holdout_share:.0%}; a company held out "
                "as a whole where rows carry a company id)",
                "training rows": f"{len(train)}, default rate {y_train.mean():.4f}",
                "features left out": ", ".join(left_out) or "none",
            },
            features=features,
            models=figures,
            calibration={
                "method": "Platt map fitted on 5-fold out-of-fold raw scores (cross-fitting), then a prior shift",
                "sample default rate": f"{model.calibration.sample_rate:.4f}",
                "long-run default rate (target)": f"{model.calibration.target_rate:.4f}",
                "where the long-run rate comes from": rate_source,
                "prior shift (log-odds)": f"{model.calibration.prior_shift:.4f}",
                "tests above": "on the sample's scale (no prior shift), against the sample's outcomes",
            },
            gate_rule=gate.GateRule(
                auc_floor=model_settings.auc_floor, auc_tolerance=model_settings.auc_tolerance
            ).text,
        )
        _log_artifacts(figures, curves, probabilities, card)
        mlflow.log_params({"selected_family": best, "selection_rule": SELECTION_RULE})
        mlflow.log_metrics(
            {f"{name}_holdout_auc": r["holdout"]["auc"] for name, r in results.items()}
            | {f"{name}_cv_auc": r["cv_auc"] for name, r in results.items()}
            | {"holdout_auc": chosen["holdout"]["auc"], "cv_auc": chosen["cv_auc"]}
        )
        logged = registry.log_model(model, train)
        tags = {
            "segment": segment.name,
            "family": chosen["family"],
            "candidate": best,
            "holdout_auc": round(chosen["holdout"]["auc"], 6),
            "cv_auc": round(chosen["cv_auc"], 6),
            "code_version": code_version(),
            "long_run_default_rate": round(target_rate, 6),
            "grades_monotone": chosen["holdout"]["grades"]["monotone"],
            "grades_monotone_within_noise": chosen["holdout"]["grades"]["monotone_within_noise"],
            "best_classic_holdout_auc": round(
                max((f["auc"] for f in classic.values() if f["available"]), default=float("nan")), 6
            ),
        }
        if oot is not None:
            tags |= {
                "oot_ar": round(oot["ar"], 6),
                "oot_altman_z_ar": round(oot["altman_z_ar"], 6),
                "oot_mean_pd_ratio": round(oot["mean_pd_ratio"], 4),
            }
        registry.tag_version(logged.version, tags)
        run_id = parent.info.run_id
    return {
        "results": results,
        "classic": classic,
        "best": best,
        "version": logged.version,
        "run_id": run_id,
        "oot": oot,
    }


SAMPLE_DESIGN = {
    SME: (
        "Polish companies, no firm id: bankrupt companies observed in 2000-2012, survivors in 2007-2013 (the "
        "years of defaults and of survivors differ); one row per company-year, so a company may appear more "
        "than once and cannot be held out as a whole (exact duplicates are kept together)"
    ),
    LISTED_MARKET: (
        "every NYSE/NASDAQ company in Compustat with three consecutive years, 1999-2011, one row per "
        "company-year with its CIK (held out by company); 354 Chapter 11/7 filings, dated mid-way "
        "through the year after the last fiscal year; defaults before 2003 are under-represented"
    ),
}
SAMPLE_DESIGN[LISTED_STATEMENTS] = SAMPLE_DESIGN[LISTED_MARKET]


@dg.asset(
    group_name="modeling",
    kinds={"mlflow", "scikitlearn"},
    deps=[training_set],
    description="Per segment (listed with market data, listed statements only, SME): trains the logistic model "
    "(WoE bins and winsorised ratios) and LightGBM, validates each on held-out rows it never saw (AUC, AR, KS, "
    "Brier, grades, PSI) beside Altman Z, Z'', Ohlson O and Zmijewski, runs the listed panel's out-of-time test, "
    "logs figures, plots and a model card to MLflow and registers the best (by cross-validated AUC) as a version "
    "of the segment's registered model.",
)
def pd_model(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    mlflow_registry: MlflowResource,
    model_settings: ModelSettingsResource,
) -> dg.MaterializeResult:
    objects = object_store.get()
    summary, metadata = [], {}
    base = mlflow_registry.get()
    base.activate()
    closed = base.close_stale_runs()  # runs a killed materialisation left RUNNING
    if closed:
        context.log.warning(
            f"closed {len(closed)} MLflow run(s) left running by a killed materialisation: {closed}"
        )
    for name in SEGMENT_NAMES:
        segment = SEGMENTS[name]
        registry = mlflow_registry.for_segment(name)
        registry.activate()
        frame = read_training_set(objects, name)
        fingerprint = training_fingerprint(frame, segment, model_settings)
        unchanged = newest_version_trained_on(registry, fingerprint)
        if unchanged is not None:
            # The same rows, code and settings would register an identical version and promote it again.
            context.log.info(
                f"{registry.model_name}: training set, code and settings unchanged since version "
                f"{unchanged}: nothing trained"
            )
            summary.append(
                {
                    "segment": name,
                    "model": registry.model_name,
                    "version": unchanged,
                    "family": "unchanged: not retrained",
                }
            )
            if name == SME:
                metadata |= {"version": unchanged, "family": "unchanged: not retrained"}
            continue
        outcome = train_segment(context, segment, frame, registry, model_settings)
        registry.tag_version(outcome["version"], {"training_fingerprint": fingerprint})
        chosen = outcome["results"][outcome["best"]]
        row = {
            "segment": name,
            "model": registry.model_name,
            "version": outcome["version"],
            "family": outcome["best"],
            "cv_auc": round(chosen["cv_auc"], 4),
            "holdout_auc": round(chosen["holdout"]["auc"], 4),
        }
        if outcome["oot"] is not None:
            row |= {
                "oot_ar": round(outcome["oot"]["ar"], 4),
                "oot_altman_z_ar": round(outcome["oot"]["altman_z_ar"], 4),
                "oot_mean_pd_ratio": round(outcome["oot"]["mean_pd_ratio"], 3),
            }
        summary.append(row)
        if name == SME:  # the SME segment keeps the asset's historical metadata keys
            metadata |= {
                "version": outcome["version"],
                "family": outcome["best"],
                "holdout_auc": round(chosen["holdout"]["auc"], 4),
                "cv_auc": round(chosen["cv_auc"], 4),
                "mlflow_run_id": outcome["run_id"],
            }
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "segments": dg.MetadataValue.md(pd.DataFrame(summary).to_markdown(index=False)),
            "stale_runs_closed": len(closed),
            # what this materialisation stands for, per segment: the checks judge these versions
            VERSIONS_KEY: dg.MetadataValue.json({row["segment"]: str(row["version"]) for row in summary}),
        }
    )


def training_fingerprint(frame: pd.DataFrame, segment: Segment, model_settings: ModelSettingsResource) -> str:
    """What a trained version depends on: the training rows, the code, the segment's features and the settings."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(
        json.dumps(
            {
                "code": code_version(),
                "features": list(segment.features),
                "seed": model_settings.seed,
                "rate": model_settings.long_run_default_rate,
                "holdout": model_settings.holdout_share,
            },
            sort_keys=True,
        ).encode()
    )
    return digest.hexdigest()[:32]


def newest_version_trained_on(registry, fingerprint: str) -> str | None:
    """The newest registered version when it was trained on exactly this fingerprint, else None."""
    versions = registry.versions()
    if versions and versions[0].tags.get("training_fingerprint") == fingerprint:
        return str(versions[0].version)
    return None


def holdout_figures(model: PDModel, holdout: pd.DataFrame, alpha: float, sample_rate: float) -> gate.Figures:
    """Gate figures of the PDs the model serves (calibrated to its long-run rate) on the held-out rows, weighted
    back to that rate (core.metrics.population_weights) since the rows hold the training sample's rate."""
    y = holdout["target"].to_numpy()
    weights = population_weights(y, sample_rate, model.calibration.target_rate)
    return gate.evaluate(y, model.predict_pd(holdout), alpha=alpha, weights=weights)


def _tag_figures(figures: gate.Figures | None) -> str:
    if figures is None:
        return "none"
    keys = (
        "auc",
        "n",
        "defaults",
        "mean_pd",
        "observed_rate",
        "mean_pd_p_value",
        "worst_grade_jeffreys_p",
        "failing_grades",
        "slope",
        "intercept",
        "p_slope",
        "p_joint",
    )
    return json.dumps(
        {k: (round(v, 6) if isinstance(v, float) else v) for k, v in figures.as_dict().items() if k in keys}
    )


def decide_segment(
    context, segment: str, registry, frame: pd.DataFrame, store, model_settings: ModelSettingsResource
) -> dict:
    """Gate one segment: the newest version against its champion on the segment's held-out rows."""
    versions = registry.versions()
    if not versions:
        raise dg.Failure(f"no registered version of {registry.model_name}: materialise pd_model first")
    challenger_version = str(versions[0].version)
    champion_before = registry.champion_version()
    decided = store.read(
        "model_decisions", where={"model_name": registry.model_name, "challenger_version": challenger_version}
    )
    if len(decided):
        row = decided.iloc[0]
        return {
            "segment": segment,
            "model": registry.model_name,
            "challenger": challenger_version,
            "champion": str(champion_before),
            "decision": row["decision"],
            "reason": f"already decided at {row['decided_at']}: {row['reason']}",
        }
    rule = gate.GateRule(auc_floor=model_settings.auc_floor, auc_tolerance=model_settings.auc_tolerance)
    usable = calibration_rows(frame)
    holdout = frame[frame["holdout"].to_numpy() & usable]
    sample_rate = float(frame.loc[~frame["holdout"].to_numpy() & usable, "target"].mean())
    challenger_model = registry.load(challenger_version)
    challenger = holdout_figures(challenger_model, holdout, rule.alpha, sample_rate)
    champion, paired = None, None
    if champion_before is not None and champion_before != challenger_version:
        champion_model_ = registry.load(champion_before)
        champion = holdout_figures(champion_model_, holdout, rule.alpha, sample_rate)
        paired = delong_test(
            holdout["target"].to_numpy(),
            challenger_model.raw_log_odds(holdout),
            champion_model_.raw_log_odds(holdout),
        )
    decision = gate.decide(challenger, champion, rule, paired=paired)
    champion_after = challenger_version if decision.promote else champion_before
    if decision.promote:
        registry.set_champion(challenger_version)
    figures = {
        "challenger": challenger.as_dict(),
        "champion": champion.as_dict() if champion else None,
        "paired_delong": paired,
        "segment": segment,
        "pd_scale": f"served PDs; held-out outcomes weighted from the sample's default rate {sample_rate:.6f} "
        "to the long-run rate",
    }
    outcome = "promoted" if decision.promote else "kept"
    registry.tag_version(
        challenger_version,
        {
            "gate_decision": outcome,
            "gate_reason": decision.reason[:500],
            "gate_rule": rule.text[:500],
            "gate_challenger_auc": round(challenger.auc, 6),
            "gate_champion_auc": round(champion.auc, 6) if champion else "none",
            "gate_champion_version": champion_before or "none",
            "gate_challenger_figures": _tag_figures(challenger),
            "gate_champion_figures": _tag_figures(champion),
        },
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
    context.log.info(f"{registry.model_name} challenger v{challenger_version}: {decision.reason}")
    return {
        "segment": segment,
        "model": registry.model_name,
        "challenger": challenger_version,
        "champion": str(champion_after),
        "decision": outcome,
        "reason": decision.reason,
        "challenger_auc": round(challenger.auc, 4),
        "champion_auc": round(champion.auc, 4) if champion else "none",
    }


@dg.asset(
    group_name="modeling",
    kinds={"mlflow"},
    deps=[pd_model],
    description="Per segment: scores the newest version (challenger) and the segment's champion on the same "
    "held-out rows and moves the segment's `champion` alias only under the written rule; records the decision and "
    "both sets of figures (model_decisions, MLflow version tags) either way and never fails because a challenger "
    "was refused.",
)
def champion_model(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    mlflow_registry: MlflowResource,
    model_settings: ModelSettingsResource,
) -> dg.MaterializeResult:
    store, objects = warehouse.get(), object_store.get()
    decisions = []
    for segment in SEGMENT_NAMES:
        registry = mlflow_registry.for_segment(segment)
        registry.activate()
        decisions.append(
            decide_segment(
                context, segment, registry, read_training_set(objects, segment), store, model_settings
            )
        )
    sme = next(d for d in decisions if d["segment"] == SME)
    return dg.MaterializeResult(
        metadata={
            **{k: sme[k] for k in ("challenger", "champion", "decision", "reason")},
            "challenger_auc": sme.get("challenger_auc", "none"),
            "champion_auc": sme.get("champion_auc", "none"),
            "segments": dg.MetadataValue.md(
                pd.DataFrame(decisions).drop(columns="reason").to_markdown(index=False)
            ),
        }
    )
