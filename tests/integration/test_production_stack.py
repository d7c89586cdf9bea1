"""The production path in miniature: the whole asset graph materialised with the warehouse on MariaDB/MySQL,
raw filings and frames on the S3 API (moto_server), MLflow as a server (backend store on MySQL, artifacts
proxied to S3) and Dagster's instance built from the deployment dagster.yaml on MySQL.

Materialised once for the module (`riskgraph materialize`'s job sequence, in-process), then checked piece by
piece: the same rows as the embedded default wrote (the session's SQLite graph), the objects in the bucket,
the registered model and its artifacts, scores from the champion loaded through the server, Dagster's runs
and events read from its MySQL tables, and the champion alias moving only through the gate.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from collections.abc import Iterator
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from risk_assets.commands.graph import run_job, run_main_sequence
from risk_assets.core.evaluation import usable_features
from risk_assets.core.fingerprint import value_digests
from risk_assets.core.model import PDModel
from risk_assets.core.segments import SEGMENTS
from risk_assets.defs.jobs import MAIN_SEQUENCE
from risk_assets.defs.modeling.assets import TRAINING_SET_KEY, read_training_set
from risk_assets.defs.resources import default_resources
from risk_assets.settings import Settings
from risk_assets.storage.champion_lookup import alias_version
from risk_assets.storage.model_registry import ModelRegistry
from risk_assets.storage.warehouse import Warehouse
from tests.integration.conftest import BUCKET, production_env
from tests.support.scores import scored_feature_frame
from tests.support.servers import MlflowServer, MotoServer, MySqlServer, scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

PREFIX = "objects"
MODEL = "corporate_pd_listed_market"  # the segment the bundled SEC filers are scored in
MODELS = ("corporate_pd", "corporate_pd_listed_market", "corporate_pd_listed_statements")


def assets_of(job: str) -> set[str]:
    from risk_assets.definitions import defs

    return {key.to_user_string() for key in defs().resolve_job_def(job).asset_layer.selected_asset_keys}


@dataclass(frozen=True)
class Stack:
    warehouse: Warehouse
    warehouse_db: MySqlServer
    dagster_db: MySqlServer
    mlflow_db: MySqlServer
    moto: MotoServer
    mlflow_url: str
    log: str

    def registry(self) -> ModelRegistry:
        settings = Settings.from_env()
        return ModelRegistry(
            self.mlflow_url, MODEL, settings.mlflow_experiment, settings.mlflow_artifact_root
        )

    def mlflow_client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.mlflow_url, registry_uri=self.mlflow_url)


def mysql_rows(server: MySqlServer, sql: str, *params) -> list[tuple]:
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, moto: MotoServer) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("production")
    patch = pytest.MonkeyPatch()
    with (
        scratch_database("riskgraph_test_wh_") as warehouse_db,
        scratch_database("riskgraph_test_dagster_") as dagster_db,
        scratch_database("riskgraph_test_mlflow_") as mlflow_db,
    ):
        mlflow_server = MlflowServer(
            tmp / "mlflow",
            backend_store_uri=mlflow_db.url("mysql+pymysql"),  # as compose's MLflow server has it
            artifacts_destination=f"s3://{BUCKET}/mlartifacts",
            s3_endpoint_url=moto.endpoint_url,
        )
        mlflow_server.launch()  # ~40 s to come up: meanwhile the graph fetches and normalises the filings
        try:
            production_env(
                patch,
                tmp / "home",
                moto=moto,
                warehouse_url=warehouse_db.url(),
                prefix=PREFIX,
                mlflow_url=mlflow_server.url,
                dagster_database=dagster_db,
            )
            log = io.StringIO()
            first_mlflow_job = MAIN_SEQUENCE.index("retrain")
            ok = run_main_sequence(MAIN_SEQUENCE[:first_mlflow_job], out=log)
            mlflow_server.wait_ready()
            ok = ok and run_main_sequence(MAIN_SEQUENCE[first_mlflow_job:], out=log)
            assert ok, log.getvalue()
            warehouse = Warehouse(warehouse_db.url())
            yield Stack(
                warehouse, warehouse_db, dagster_db, mlflow_db, moto, mlflow_server.url, log.getvalue()
            )
            warehouse.dispose()
        finally:
            patch.undo()
            mlflow_server.kill()  # nothing to flush: every write was a committed request


# --- the warehouse on MySQL holds what the embedded default holds ---------------------------------------------


def _comparable(frame: pd.DataFrame, keys: list[str], drop: tuple[str, ...] = ()) -> pd.DataFrame:
    frame = (
        frame.drop(columns=[c for c in drop if c in frame.columns]).sort_values(keys).reset_index(drop=True)
    )
    return frame.astype(object).where(frame.notna(), None)


@pytest.mark.parametrize(
    ("table", "keys", "drop"),
    [
        ("companies", ["company_id"], ("updated_at",)),
        ("raw_filings", ["company_id", "source", "kind", "sha256"], ("fetched_at",)),
        ("statements", ["company_id", "period_end", "accession"], ()),
        ("default_events", ["company_id", "event_date", "kind"], ("loaded_at",)),
    ],
)
def test_the_warehouse_on_mysql_holds_the_same_rows_as_the_embedded_default(
    stack, graph_home, table, keys, drop
):
    embedded = Warehouse(f"sqlite:///{graph_home / 'warehouse.db'}")
    try:
        expected = _comparable(embedded.read(table), keys, drop)
    finally:
        embedded.dispose()
    actual = _comparable(stack.warehouse.read(table), keys, drop)
    assert len(actual) > 0
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def test_period_scores_on_mysql_equal_the_embedded_ones(stack, graph_home):
    embedded = Warehouse(f"sqlite:///{graph_home / 'warehouse.db'}")
    try:
        expected = embedded.read("risk_scores", where={"kind": "period", "model_version": "1"})
    finally:
        embedded.dispose()
    actual = stack.warehouse.read("risk_scores", where={"kind": "period", "model_version": "1"})
    keys = ["company_id", "as_of"]
    expected, actual = (
        expected.sort_values(keys).reset_index(drop=True),
        actual.sort_values(keys).reset_index(drop=True),
    )
    assert list(actual["company_id"]) == list(expected["company_id"]) and len(actual) > 100
    assert list(actual["as_of"]) == list(expected["as_of"])
    np.testing.assert_allclose(
        actual["pd"].astype(float), expected["pd"].astype(float), rtol=1e-9, atol=1e-12
    )
    assert list(actual["grade"]) == list(expected["grade"])


# --- objects on S3 --------------------------------------------------------------------------------------------


def test_raw_filings_and_the_training_frame_are_objects_in_the_bucket(stack):
    index = stack.warehouse.read("raw_filings")
    assert set(index["source"]) == {"sec", "dart"}
    stored = stack.moto.objects(BUCKET, f"{PREFIX}/raw/sec/") | stack.moto.objects(
        BUCKET, f"{PREFIX}/raw/dart/"
    )
    assert set(stored) == {f"{PREFIX}/{key}" for key in index["object_key"]}
    for row in index.itertuples():
        body = stored[f"{PREFIX}/{row.object_key}"]
        assert hashlib.sha256(body).hexdigest() == row.sha256 and len(body) == row.size_bytes
    frame = pd.read_parquet(
        io.BytesIO(stack.moto.objects(BUCKET, f"{PREFIX}/{TRAINING_SET_KEY}")[f"{PREFIX}/{TRAINING_SET_KEY}"])
    )
    assert {"target", "holdout"} <= set(frame.columns) and len(frame) > 1000


# --- MLflow server --------------------------------------------------------------------------------------------


def test_training_registered_a_version_with_its_artifacts_on_s3(stack):
    client = stack.mlflow_client()
    [version] = client.search_model_versions(f"name='{MODEL}'", order_by=["version_number ASC"])[:1]
    assert version.version == "1"
    assert client.get_model_version_by_alias(MODEL, "champion").version == "1"
    run = client.get_run(version.run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # proxied by the server, not a local path
    artifacts = stack.moto.objects(BUCKET, "mlartifacts/")
    names = {key.rsplit("/", 1)[-1] for key in artifacts}
    assert {"MLmodel", "python_model.pkl", "pd_model.joblib"} <= names
    # The registry lives in the server's MySQL backend store.
    assert sorted(mysql_rows(stack.mlflow_db, "SELECT name FROM registered_models")) == [(m,) for m in MODELS]
    assert mysql_rows(stack.mlflow_db, "SELECT version FROM model_versions WHERE name = %s", MODEL) == [(1,)]
    assert (
        mysql_rows(stack.mlflow_db, "SELECT alias, version FROM registered_model_aliases")
        == [("champion", 1)] * 3
    )


def test_scores_are_the_champion_loaded_through_the_server(stack):
    mlflow.set_tracking_uri(stack.mlflow_url)
    mlflow.set_registry_uri(stack.mlflow_url)
    champion = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    scores = stack.warehouse.read(
        "risk_scores", where={"kind": "period", "model_version": "1", "model_name": MODEL}
    )
    scores = scores[~scores["in_default"].astype(bool)].head(25).reset_index(drop=True)
    # each score's values: its own JSON, or its filing's features row where it keeps only their digest
    names = champion.unwrap_python_model().model.feature_names
    features = scored_feature_frame(stack.warehouse, scores, names)
    assert value_digests(features) == scores["feature_digest"].tolist()
    predicted = champion.predict(features)
    np.testing.assert_allclose(
        predicted["pd"].to_numpy(), scores["model_pd"].astype(float).to_numpy(), rtol=1e-9
    )
    # the run kept the champion's model in the bucket, found by the alias over the server's REST API: the next
    # scoring run loads it from there without MLflow (storage/champion_lookup.py)
    found = alias_version(stack.mlflow_url, MODEL)
    assert found is not None and found.version == "1"
    key = f"{PREFIX}/{found.cache_key()}"
    kept = pickle.loads(stack.moto.objects(BUCKET, key)[key])
    np.testing.assert_allclose(kept.predict_pd(features), predicted["pd"].to_numpy(), rtol=1e-12)


# --- Dagster's instance on MySQL -------------------------------------------------------------------------------


def test_dagster_runs_and_events_are_rows_in_its_mysql_database(stack):
    runs = mysql_rows(stack.dagster_db, "SELECT run_id, pipeline_name, status FROM runs")
    by_job = {job: status for _, job, status in runs}
    assert by_job == {job: "SUCCESS" for job in MAIN_SEQUENCE}
    for run_id, job, _ in runs:
        events = mysql_rows(
            stack.dagster_db,
            "SELECT dagster_event_type, asset_key FROM event_logs WHERE run_id = %s",
            run_id,
        )
        types = [event_type for event_type, _ in events]
        # Dagster stores run events under their historical names.
        assert types.count("PIPELINE_START") == 1 and types.count("PIPELINE_SUCCESS") == 1, job
        materialised = {
            json.loads(key)[0] for event_type, key in events if event_type == "ASSET_MATERIALIZATION"
        }
        assert materialised == assets_of(job), job
        # Step output captured by the S3 compute-log manager, in the bucket the webserver reads it from.
        assert stack.moto.objects(BUCKET, f"dagster/compute-logs/storage/{run_id}/"), job
    partitions = mysql_rows(
        stack.dagster_db,
        "SELECT `partition` FROM dynamic_partitions WHERE partitions_def_name = %s",
        "companies",
    )
    assert len(partitions) == len(stack.warehouse.read("companies")) == 14


# --- the champion alias moves only through the gate ----------------------------------------------------------


def test_the_champion_alias_moves_only_through_the_gate(stack):
    registry, client = stack.registry(), stack.mlflow_client()
    registry.model_name = MODEL
    registry.activate()
    decided = {"model_name": MODEL}

    # A challenger with no signal (shuffled labels), registered on the server: the gate keeps the champion.
    train = read_training_set(default_resources(env_vars=False)["object_store"].get(), "listed_market").query(
        "not holdout"
    )
    shuffled = np.random.default_rng(0).permutation(train["target"].to_numpy())
    features = usable_features(train, SEGMENTS["listed_market"].features)
    worse = PDModel("logistic", features, {"C": 0.1}, missing="impute").fit(
        train, shuffled, target_rate=0.03, seed=1
    )
    with mlflow.start_run(run_name="shuffled-label challenger"):
        worse_version = registry.log_model(worse, train).version
    assert worse_version == "2"
    assert client.get_model_version_by_alias(MODEL, "champion").version == "1"  # registering moves nothing
    assert run_job("retrain", assets=["champion_model"]).success
    assert client.get_model_version_by_alias(MODEL, "champion").version == "1"
    kept = stack.warehouse.read("model_decisions", where={**decided, "challenger_version": "2"}).iloc[0]
    assert kept["decision"] == "kept" and kept["champion_version_after"] == "1"

    # The champion's own model registered again (version 3): not worse, so the gate promotes it.
    with mlflow.start_run(run_name="re-registered champion"):
        same_version = registry.log_model(registry.load("1"), train).version
    assert same_version == "3"
    assert client.get_model_version_by_alias(MODEL, "champion").version == "1"
    assert run_job("retrain", assets=["champion_model"]).success
    assert client.get_model_version_by_alias(MODEL, "champion").version == "3"
    promoted = stack.warehouse.read("model_decisions", where={**decided, "challenger_version": "3"}).iloc[0]
    assert promoted["decision"] == "promoted" and promoted["champion_version_before"] == "1"

    # Scoring picks the new champion up through the server.
    assert run_job("rescore_all", assets=["risk_scores"]).success
    assert stack.warehouse.count(
        "risk_scores", where={**decided, "model_version": "3", "kind": "period"}
    ) == stack.warehouse.count("risk_scores", where={**decided, "model_version": "1", "kind": "period"})
