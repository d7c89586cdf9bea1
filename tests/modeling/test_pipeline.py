"""The pipeline's modelling stage: the training set with a user's own panel, and what pd_model and the champion
gate record (MLflow artifacts, version tags, model_decisions) in the session's materialised graph."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from risk_assets.core.ratios import MODEL_RATIOS
from risk_assets.core.splits import holdout_mask
from risk_assets.defs.modeling.assets import assemble_training_set, polish_rows, user_panel_rows
from risk_assets.settings import Settings
from risk_assets.storage.imports import import_events, import_statements
from risk_assets.storage.warehouse import Warehouse
from tests.modeling.synthetic import synthetic_panel


def test_the_training_set_adds_the_users_panel_held_out_by_company(warehouse: Warehouse) -> None:
    statements, events = synthetic_panel(companies=60, seed=3)
    statements["sic"] = np.where(statements["company_id"] == "SYN0000", "6021", "3571")  # one bank
    buffer = io.StringIO()
    statements.to_csv(buffer, index=False, date_format="%Y-%m-%d")
    assert import_statements(warehouse, io.StringIO(buffer.getvalue())).ok
    buffer = io.StringIO()
    events.to_csv(buffer, index=False, date_format="%Y-%m-%d")
    assert import_events(warehouse, io.StringIO(buffer.getvalue())).ok

    panel, excluded = user_panel_rows(warehouse)
    bank_rows = int((statements["company_id"] == "SYN0000").sum())
    assert excluded["financial firm (out of the model's scope)"] == bank_rows
    assert "SYN0000" not in set(panel["company_id"])
    assert set(panel["source"]) == {"user_panel"} and panel["target"].sum() > 0
    assert set(MODEL_RATIOS) <= set(panel.columns)

    polish = polish_rows()
    frame = assemble_training_set([polish, panel], holdout_share=0.2)
    assert len(frame) == len(polish) + len(panel)
    polish_part, user_part = frame[frame["source"] == "polish_5year"], frame[frame["source"] == "user_panel"]
    # The Polish rows keep the holdout they always had (content hash of the ratios and the target).
    expected = holdout_mask(polish[list(MODEL_RATIOS) + ["target"]], share=0.2)
    assert np.array_equal(polish_part["holdout"].to_numpy(), expected)
    # A user's company is on one side only, and is one calibration group.
    assert (user_part.groupby("company_id")["holdout"].nunique() == 1).all()
    assert (user_part.groupby("company_id")["group"].nunique() == 1).all()
    assert set(user_part["group"]).isdisjoint(set(polish_part["group"]))
    assert user_part["holdout"].any() and not user_part["holdout"].all()
    assert user_part["t"].notna().all() and polish_part["t"].isna().all()


def test_pd_model_logged_its_validation_and_the_gate_recorded_both_figures(graph_env: Path) -> None:
    settings = Settings.from_env()
    client = MlflowClient(
        tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
    )
    version = client.get_model_version(settings.model_name, "1")
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "validation")}
    assert {
        "validation/model_card.md",
        "validation/roc.png",
        "validation/calibration.png",
        "validation/validation.json",
        "validation/polish_mapping.csv",
    } <= artifacts
    local = Path(client.download_artifacts(version.run_id, "validation"))
    card = (local / "model_card.md").read_text()
    for text in (
        "## Validation (held-out rows)",
        "Polish",
        "long-run default rate",
        "out_of_domain",
        "Financial firms",
        "Attr29",
        "zmijewski",
        "Altman Z needs the market value of equity",
    ):
        assert text in card, text
    figures = json.loads((local / "validation.json").read_text())
    for name in ("logistic_woe", "logistic_winsor", "lightgbm"):
        for key in (
            "auc",
            "ar",
            "ks",
            "brier",
            "log_loss",
            "psi",
            "calibration_by_decile",
            "grades",
            "cv_auc",
        ):
            assert figures[name][key] is not None, (name, key)
    assert figures["altman_z"]["available"] is False and figures["zmijewski"]["available"] is True
    run = client.get_run(version.run_id)
    assert run.data.params["selected_family"] in ("logistic_woe", "logistic_winsor", "lightgbm")
    assert "lightgbm_holdout_auc" in run.data.metrics and "classic_zmijewski_holdout_auc" in run.data.metrics

    tags = version.tags
    assert tags["gate_decision"] == "promoted" and tags["gate_champion_figures"] == "none"
    challenger = json.loads(tags["gate_challenger_figures"])
    assert challenger["auc"] == pytest.approx(float(tags["gate_challenger_auc"]))
    store = Warehouse(settings.warehouse_url)
    decision = store.read(
        "model_decisions", where={"model_name": "corporate_pd", "challenger_version": "1"}
    ).iloc[0]
    recorded = json.loads(decision["figures"])
    assert recorded["challenger"]["auc"] == pytest.approx(decision["challenger_auc"])
    assert recorded["champion"] is None and "weighted from the sample's default rate" in recorded["pd_scale"]
    # the served grades' two-sided tests and the slope test are recorded with the decision
    assert recorded["challenger"]["grades"] and recorded["challenger"]["weighted"]
    assert {"slope", "p_slope", "p_joint"} <= set(recorded["challenger"])
    # every segment was trained, gated and registered under its own name
    decisions = store.read("model_decisions")
    assert set(decisions["model_name"]) == {
        "corporate_pd",
        "corporate_pd_listed_market",
        "corporate_pd_listed_statements",
    }
    store.dispose()
    # the listed cards state the out-of-time test and the panel's default experience where healthy filers sit
    listed = client.get_model_version("corporate_pd_listed_market", "1")
    listed_card = (Path(client.download_artifacts(listed.run_id, "validation")) / "model_card.md").read_text()
    for text in (
        "## Out of time: train 1999-2007, test 2008-2011",
        "## Default experience of healthy companies",
        "quick ratio < 0.5 and ROA > 5%",
        "the simplest family whose cross-validated",
    ):
        assert text in listed_card, text


def test_retraining_unchanged_data_registers_no_new_version(graph_copy) -> None:
    from risk_assets.commands.graph import run_job
    from risk_assets.core.segments import SEGMENTS

    settings = Settings.from_env()
    client = MlflowClient(
        tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri
    )

    def versions() -> dict[str, int]:
        return {
            s.name: len(client.search_model_versions(f"name='{s.registered_model(settings.model_name)}'"))
            for s in SEGMENTS.values()
        }

    before = versions()
    assert run_job("retrain").success
    assert versions() == before
    for segment in SEGMENTS.values():
        newest = client.search_model_versions(f"name='{segment.registered_model(settings.model_name)}'")
        assert any("training_fingerprint" in v.tags for v in newest)


def test_a_run_left_running_by_a_killed_materialisation_is_closed_by_the_next_training(graph_copy) -> None:
    from risk_assets.commands.graph import run_job

    settings = Settings.from_env()
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    experiment = client.get_experiment_by_name(settings.mlflow_experiment)
    # what a SIGKILLed training leaves behind: a run the store still holds as RUNNING
    run_id = client.create_run(experiment.experiment_id, run_name="killed mid-training").info.run_id
    assert client.get_run(run_id).info.status == "RUNNING"
    assert run_job("retrain").success
    assert client.get_run(run_id).info.status == "FAILED"


def test_the_first_training_sees_the_default_events_and_each_filer_year_once(graph_env: Path) -> None:
    """The main sequence trains after the default events are derived (they label the warehouse's filers), and a
    year restated by a later 10-K's comparatives is one training row, as first filed."""
    import pandas as pd

    from risk_assets.defs.modeling.assets import LISTED_TRAINING_SET_KEY
    from risk_assets.storage.objects import open_object_store

    settings = Settings.from_env()
    frame = pd.read_parquet(
        io.BytesIO(open_object_store(settings.object_store_url).get(LISTED_TRAINING_SET_KEY))
    )
    own = frame[frame["source"] == "sec_companyfacts"]
    assert not own.duplicated(["company_id", "fiscal_year"]).any()
    warehouse = Warehouse(settings.warehouse_url)
    try:
        events = warehouse.read("default_events")
        statements = warehouse.read("statements", where={"company_id": ["sec-0000320193"]})
    finally:
        warehouse.dispose()
    bankrupt = set(events.loc[events["kind"] == "bankruptcy", "company_id"])
    labelled = set(own.loc[own["target"] == 1, "company_id"])
    assert labelled and labelled <= bankrupt
    assert (own.groupby("company_id")["target"].sum() <= 1).all()
    apple_years = statements.loc[statements["period_type"] == "FY", "fiscal_year"].nunique()
    assert (own["company_id"] == "sec-0000320193").sum() <= apple_years


def test_the_model_checks_judge_the_versions_their_run_trained(graph_env: Path) -> None:
    """pd_model's metadata names each segment's version of this materialisation, and its checks report exactly
    those (not whatever is newest in the registry when they run)."""
    import dagster as dg

    from risk_assets.defs.modeling.assets import VERSIONS_KEY

    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("pd_model"))
        versions = event.asset_materialization.metadata[VERSIONS_KEY].value
        checks = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(event.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
    assert set(versions) == {"sme", "listed_market", "listed_statements"}
    grades = next(c for c in checks if c.check_name == "challenger_grades_and_benchmark")
    reported = {segment: figures["version"] for segment, figures in grades.metadata["segments"].value.items()}
    assert reported == versions


def test_default_events_derived_again_with_nothing_new_keep_their_data_version(graph_env: Path) -> None:
    """retrain and rescore_all both derive the default events; the same events are the same data version, so the
    training set they label is not shown as out of sync ("Unsynced") after a clean run."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(dg.AssetKey("default_events"), limit=10).records
    versions = [
        r.event_log_entry.dagster_event.event_specific_data.materialization.tags.get("dagster/data_version")
        for r in records
    ]
    assert len(versions) >= 2 and None not in versions
    assert len(set(versions)) == 1
