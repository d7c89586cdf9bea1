"""The whole asset graph materialised in-process on the bundled data, and what it wrote."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from risk_assets.commands.graph import run_job
from risk_assets.core.feature_table import feature_document
from risk_assets.core.master_scale import GRADE_LABELS
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse
from tests.support.scores import scored_feature_frame

NIKOLA, SUNEDISON, HERTZ = "sec-0001731289", "sec-0000945436", "sec-0001657853"
DISTRESSED = {NIKOLA, SUNEDISON, HERTZ}


def warehouse() -> Warehouse:
    return Warehouse(Settings.from_env().warehouse_url)


def test_every_asset_and_partition_was_materialised(graph_env: Path) -> None:
    from risk_assets.definitions import defs

    keys = {spec.key for spec in defs().resolve_all_asset_specs()}
    with dg.DagsterInstance.get() as instance:
        companies = instance.get_dynamic_partitions("companies")
        assert len(companies) == 14
        for key in keys:
            event = instance.get_latest_materialization_event(key)
            assert event is not None, f"{key.to_user_string()} never materialised"
        for key in (dg.AssetKey("raw_filings"), dg.AssetKey("statements")):
            done = instance.get_materialized_partitions(key)
            assert done == set(companies), key


def test_statements_and_features_cover_every_company(graph_env: Path) -> None:
    store = warehouse()
    statements = store.read("statements")
    assert set(statements["company_id"]) == set(store.read("companies")["company_id"])
    assert (statements["total_assets"] > 0).all()
    features = store.read("features")
    assert len(features) == len(statements)
    classic = feature_document(features.iloc[0])["classic"]
    assert set(classic) >= {"altman_z", "altman_z_double_prime", "ohlson_o", "zmijewski"}
    # Market prices are bundled for Apple only (the AAPL chart of Aug-Nov 2020): Apple's FY2020 market value is
    # price x shares; other SEC filers' come from their annual reports' public float; Samsung (DART) has none.
    source = {(r.company_id, str(r.period_end)): r.market_value_source for r in features.itertuples()}
    assert source[("sec-0000320193", "2020-09-26")] == "price x shares at the balance-sheet date"
    sec = features[features["company_id"].str.startswith("sec-")]
    assert sec["altman_z"].notna().mean() > 0.8
    samsung = features[features["company_id"] == "dart-00126380"]
    assert samsung["altman_z"].isna().all()
    assert all("market_value_equity" in reason for reason in samsung["altman_z_reason"])
    assert features["altman_z_double_prime"].notna().mean() > 0.8


def test_every_company_has_a_current_score_with_a_valid_grade(graph_env: Path) -> None:
    scores = warehouse().read("risk_scores")
    current = scores[scores["kind"] == "current"]
    assert set(current["company_id"]) == set(warehouse().read("companies")["company_id"])
    assert scores["pd"].between(0, 1).all() and not scores["pd"].isna().any()
    assert set(scores["grade"]) <= set(GRADE_LABELS)
    # Companies in default (and only those) are grade D with PD 1.
    d = scores[scores["grade"] == "D"]
    assert (d["pd"] == 1.0).all() and d["in_default"].all()
    assert set(current.loc[current["in_default"].astype(bool), "company_id"]) == {NIKOLA, SUNEDISON}


def _last_before(scores: pd.DataFrame, company_id: str, day: str) -> pd.Series:
    mine = scores[
        (scores["company_id"] == company_id) & (pd.to_datetime(scores["as_of"]) < pd.Timestamp(day))
    ]
    return mine.sort_values("as_of").iloc[-1]


def test_the_bankrupt_filers_last_filings_rank_above_every_healthy_filer(graph_env: Path) -> None:
    from risk_assets.core.master_scale import INVESTMENT_GRADE_MAX_PD

    scores = warehouse().read("risk_scores")
    current = scores[
        (scores["kind"] == "current")
        & ~scores["company_id"].isin(DISTRESSED)
        & scores["company_id"].str.startswith("sec-")
    ]
    assert len(current) == 10
    periods = scores[scores["kind"] == "period"]
    nikola = _last_before(periods, NIKOLA, "2025-02-19")  # Chapter 11 filed 2025-02-19
    sunedison = _last_before(periods, SUNEDISON, "2016-04-21")
    for last in (nikola, sunedison):
        assert last["segment"] in ("listed_market", "listed_statements")
        assert last["model_pd"] > current["model_pd"].max()
        assert last["model_pd"] > INVESTMENT_GRADE_MAX_PD  # a speculative-grade band


def test_every_score_records_its_segment_model_and_why(graph_env: Path) -> None:
    scores = warehouse().read("risk_scores")
    assert scores["segment"].notna().all() and scores["segment_reason"].str.len().gt(10).all()
    sec = scores[scores["company_id"].str.startswith("sec-")]
    assert set(sec["segment"]) <= {"listed_market", "listed_statements"}
    assert (sec["segment"] == "listed_market").mean() > 0.8  # the 10-K's public float gives a market value
    assert set(scores["model_name"]) >= {"corporate_pd_listed_market", "corporate_pd_listed_statements"}
    market = scores[scores["segment"] == "listed_market"]
    assert market["model_name"].eq("corporate_pd_listed_market").all()
    assert market["segment_reason"].str.contains("market value").all()


def test_period_scores_are_as_of_each_filing_date(graph_env: Path) -> None:
    scores = warehouse().read("risk_scores", where={"company_id": "sec-0000320193", "kind": "period"})
    by_date = scores.set_index(scores["as_of"].astype(str))
    # The FY2009 10-K (filed 2009-10-27) is scored as of its filing date. On 2010-01-25 Apple filed both the
    # 10-K/A restating FY2009 and its Q1 FY2010 10-Q: that day's score is the newest period then known, the
    # trailing twelve months to 2009-12-26 (built on the restated FY2009).
    assert by_date.loc["2009-10-27", "accession"] == "0001193125-09-214859"
    assert by_date.loc["2010-01-25", "accession"] == "0001193125-10-012085"
    assert str(by_date.loc["2010-01-25", "period_end"]) == "2009-12-26"
    assert (pd.to_datetime(scores["as_of"]) == pd.to_datetime(scores["filed_at"])).all()


def test_drivers_add_up_to_the_log_odds(graph_env: Path) -> None:
    """Every score's drivers, stored (snapshots, each company's newest filing) or computed on request from its
    filing's features row with the score's own model version (older filings), add up to its log-odds."""
    from api.scoring import model_drivers_of
    from risk_assets.storage.model_registry import ModelRegistry

    settings = Settings.from_env()
    scores = warehouse().read("risk_scores")
    computed = 0
    for index, row in zip(scores.index, scores.itertuples(), strict=True):
        drivers = json.loads(row.drivers)
        if "base" not in drivers:
            model = ModelRegistry(
                settings.mlflow_tracking_uri,
                row.model_name,
                settings.mlflow_experiment,
                settings.mlflow_artifact_root,
            ).load(row.model_version)
            values = scored_feature_frame(warehouse(), scores.loc[[index]], model.feature_names)
            drivers = model_drivers_of(model, values.iloc[0].to_dict())
            computed += 1
        total = drivers["base"] + sum(drivers["contributions"].values()) + drivers["other"]
        assert math.isclose(total, row.log_odds, rel_tol=0, abs_tol=1e-9), row.company_id
    assert 0 < computed < len(scores)


def test_drivers_are_stored_for_the_snapshots_and_each_companys_newest_filing(graph_env: Path) -> None:
    """The scores served from storage keep the model's drivers; older filing scores keep their overlay terms
    only (their drivers are computed on request). Every row keeps its overlay terms."""
    scores = warehouse().read("risk_scores")
    stored = scores["drivers"].map(lambda text: "base" in json.loads(text))
    assert scores["drivers"].map(lambda text: "overlay" in json.loads(text)).all()
    current = scores["kind"] == "current"
    assert stored[current].all()
    period = scores[~current].assign(_stored=stored[~current])
    for _company, rows in period.groupby("company_id"):
        rows = rows.assign(_end=pd.to_datetime(rows["period_end"]), _filed=pd.to_datetime(rows["filed_at"]))
        newest = rows.sort_values(["_end", "_filed"]).index[-1]
        assert rows["_stored"].tolist() == (rows.index == newest).tolist()
    # each snapshot is its newest filing score plus today's overlay: the same model drivers
    newest_filing = period[period["_stored"]].set_index(["company_id", "accession", "model_version"])[
        "drivers"
    ]
    for row in scores[current].itertuples():
        snapshot = {k: v for k, v in json.loads(row.drivers).items() if k != "overlay"}
        filing = json.loads(newest_filing[(row.company_id, row.accession, row.model_version)])
        assert snapshot == {k: v for k, v in filing.items() if k != "overlay"}


def test_the_feature_values_a_score_keeps_reproduce_it(graph_env: Path) -> None:
    """Every score's feature values, its own JSON (snapshots and each company's newest filing score) or its
    filing's features row (older filing scores), have the digest it recorded and predict its model PD again."""
    from risk_assets.core.fingerprint import value_digests
    from risk_assets.core.segments import SEGMENTS
    from risk_assets.storage.model_registry import ModelRegistry

    settings = Settings.from_env()
    checked = 0
    for segment in SEGMENTS.values():
        name = segment.registered_model(settings.model_name)
        version, model = ModelRegistry(
            settings.mlflow_tracking_uri, name, settings.mlflow_experiment, settings.mlflow_artifact_root
        ).load_champion()
        scores = warehouse().read("risk_scores", where={"model_name": name, "model_version": version})
        if scores.empty:
            continue
        frame = scored_feature_frame(warehouse(), scores, model.feature_names)
        assert value_digests(frame) == scores["feature_digest"].tolist()
        np.testing.assert_allclose(model.predict_pd(frame), scores["model_pd"].to_numpy(), rtol=0, atol=1e-12)
        checked += len(scores)
    assert checked == warehouse().count("risk_scores")


def test_only_the_scores_that_keep_their_drivers_keep_their_feature_values(graph_env: Path) -> None:
    """The feature values' JSON, three quarters of a score row, is written with the stored drivers only."""
    scores = warehouse().read("risk_scores")
    with_drivers = scores["drivers"].map(lambda text: "base" in json.loads(text)).to_numpy()
    assert (scores["feature_values"].notna().to_numpy() == with_drivers).all()
    assert scores["feature_digest"].str.fullmatch("[0-9a-f]{32}").all()
    assert 0 < with_drivers.sum() < len(scores)


def test_the_stability_history_leaves_out_filing_scores_whose_features_were_recomputed(
    graph_copy: Path,
) -> None:
    """The PSI history reads an older filing score's values from its features row, and only while that row still
    holds what the score was predicted from (its digest)."""
    import sqlalchemy as sa

    from risk_assets.defs.resources import default_resources
    from risk_assets.defs.scoring.checks import _filing_features
    from risk_assets.storage.schema import TABLES

    store = warehouse()
    scores = store.read("risk_scores", where={"kind": "period"})
    older = scores[scores["feature_values"].isna()].iloc[0]
    model = (
        default_resources(env_vars=False)["mlflow_registry"]
        .for_segment(older["segment"])
        .load(older["model_version"])
    )
    table, features = TABLES["risk_scores"], TABLES["features"]
    filings = sa.and_(
        table.c.kind == "period",
        table.c.model_name == older["model_name"],
        table.c.model_version == older["model_version"],
        table.c.segment == older["segment"],
    )
    before, left_out = _filing_features(store, filings, [older["company_id"]], model.feature_names)
    assert left_out == 0 and older["as_of"] in set(before["as_of"])
    name = next(name for name in model.feature_names if name in features.c)
    with (
        store.transaction() as conn
    ):  # the filing's features recomputed (to other values) after it was scored
        conn.execute(
            sa.update(features)
            .where(
                features.c.company_id == older["company_id"],
                features.c.period_end == older["period_end"],
                features.c.accession == older["accession"],
            )
            .values({name: 12345.0})
        )
    after, left_out = _filing_features(store, filings, [older["company_id"]], model.feature_names)
    assert left_out == 1 and len(after) == len(before) - 1 and older["as_of"] not in set(after["as_of"])


def test_a_run_scores_with_the_champions_it_found_when_it_started(graph_copy: Path) -> None:
    """Every batch of a rescore, in any worker, scores with the versions looked up once at its start, their models
    carried with the batches: an alias moved or removed meanwhile does not split the run; a segment without a
    champion is a clear failure."""
    from risk_assets.defs.resources import default_resources
    from risk_assets.defs.scoring.assets import champion_models, champions_of
    from risk_assets.derive.scores import MissingChampion

    mlflow_registry = default_resources(env_vars=False)["mlflow_registry"]
    champions = champions_of(mlflow_registry)
    segment, name, version = champions.versions[0]
    registry = mlflow_registry.for_segment(segment)
    expected = registry.load(version)
    registry.client.delete_registered_model_alias(name, "champion")
    assert registry.champion_version() is None
    carried = pickle.loads(pickle.dumps(champion_models(champions, mlflow_registry)))  # as a worker gets them
    loaded_name, loaded_version, model = carried.load(segment)
    assert (loaded_name, loaded_version) == (name, version)
    frame = pd.DataFrame(
        np.linspace(-1, 1, 3 * len(model.feature_names)).reshape(3, -1), columns=model.feature_names
    )
    np.testing.assert_array_equal(model.predict_pd(frame), expected.predict_pd(frame))
    asked = []
    in_process = champions.with_loader(
        lambda s, v: asked.append((s, v.version)) or mlflow_registry.for_segment(s).load(v.version)
    )
    assert in_process.load(segment)[:2] == (name, version) and asked == [
        (segment, version)
    ]  # only the one met
    with pytest.raises(Exception, match="pickle"):  # a loader stays in the run's process
        pickle.dumps(in_process)
    with pytest.raises(MissingChampion, match=f"cannot score the {segment} segment: no 'champion' alias on"):
        champions_of(mlflow_registry).load(segment)


def test_a_rescore_needing_a_segment_without_a_champion_fails_saying_so(graph_copy: Path) -> None:
    from risk_assets.defs.resources import default_resources

    store = warehouse()
    before = store.read("risk_scores")
    segment = before.loc[before["kind"] == "period", "segment"].mode()[0]
    registry = default_resources(env_vars=False)["mlflow_registry"].for_segment(segment)
    registry.client.delete_registered_model_alias(registry.model_name, "champion")
    outcome = run_job("rescore_all", assets=["risk_scores"])
    assert not outcome.success and outcome.failed_steps == ["risk_scores"]
    with dg.DagsterInstance.get() as instance:
        failures = instance.all_logs(outcome.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    message = failures[0].dagster_event.event_specific_data.error.message
    assert f"cannot score the {segment} segment: no 'champion' alias on registered model" in message
    after = store.read("risk_scores")
    pd.testing.assert_frame_equal(after, before)  # a failed batch writes nothing


def test_rematerialising_a_partition_replaces_rows(graph_copy: Path) -> None:
    store = warehouse()
    before = store.read("statements", where={"company_id": "sec-0000320193"})
    outcome = run_job("ingest_filings", partition_keys=["sec-0000320193"])
    assert outcome.success, outcome
    after = store.read("statements", where={"company_id": "sec-0000320193"})
    assert len(after) == len(before)
    assert not after.duplicated(["period_end", "accession"]).any()
    assert store.count("raw_filings", where={"company_id": "sec-0000320193"}) == 2


def test_a_bad_filing_is_rejected_with_its_reason_and_the_rest_lands(graph_copy: Path) -> None:
    """Store a changed companyfacts document as a new fetch; re-materialise the company's partition."""
    import datetime as dt
    import gzip
    from importlib import resources

    from risk_assets.storage.objects import open_object_store, sha256_hex

    settings = Settings.from_env()
    store, objects = warehouse(), open_object_store(settings.object_store_url)
    facts = json.loads(
        gzip.decompress(
            resources.files("risk_assets.data")
            .joinpath("sec/companyfacts/CIK0000320193.json.gz")
            .read_bytes()
        )
    )
    for fact in facts["facts"]["us-gaap"]["NetIncomeLoss"]["units"]["USD"]:
        if fact["accn"] == "0000320193-23-000106" and fact["end"] == "2023-09-30":
            fact["val"] = "n/a"
    for fact in facts["facts"]["us-gaap"]["Assets"]["units"]["USD"]:
        if fact["accn"] == "0000320193-18-000145" and fact["end"] == "2018-09-29":
            fact["val"] = -1
    body = json.dumps(facts).encode()
    key = f"raw/sec/sec-0000320193/companyfacts/{sha256_hex(body)}.json"
    objects.put(key, body, "application/json")
    store.upsert(
        "raw_filings",
        [
            {
                "company_id": "sec-0000320193",
                "source": "sec",
                "kind": "companyfacts",
                "sha256": sha256_hex(body),
                "object_key": key,
                "content_type": "application/json",
                "size_bytes": len(body),
                "fetched_at": dt.datetime(2100, 1, 1),
            }
        ],
    )
    before = store.read("statements", where={"company_id": "sec-0000320193"})

    outcome = run_job("ingest_filings", partition_keys=["sec-0000320193"], assets=["statements"])
    assert outcome.success, outcome

    rejected = store.read("rejected_records", where={"company_id": "sec-0000320193", "stage": "statements"})
    reasons = dict(zip(rejected["record_key"], rejected["reason"], strict=True))
    assert "NetIncomeLoss = 'n/a' is not a number" in reasons["2023-09-30|0000320193-23-000106"]
    assert reasons["2018-09-29|0000320193-18-000145"] == "total_assets <= 0 (-1)"
    after = store.read("statements", where={"company_id": "sec-0000320193"})
    assert "0000320193-23-000106" not in set(after["accession"])
    # Every fiscal year still has a version: FY2023 and FY2018 from the next year's 10-K comparatives.
    assert set(after["fiscal_year"]) == set(before["fiscal_year"])
    assert "0000320193-18-000145" in set(after["accession"])  # its FY2017 comparative version still lands
    assert not after.duplicated(["period_end", "accession"]).any()
