"""What starts on its own and what follows: sensors and schedules are off until turned on, training never runs
by automation, downstream assets follow ingestion by declarative automation, jobs cover the new assets."""

from __future__ import annotations

import dagster as dg

from risk_assets.definitions import defs
from risk_assets.defs.jobs import MAIN_SEQUENCE
from risk_assets.defs.partitions import FETCH_POOL

FOLLOWERS = {"default_events", "warning_signals", "market_features", "features", "risk_scores", "risk_alerts"}
TRAINING = {"training_set", "pd_model", "champion_model"}


def test_no_instigator_runs_by_default() -> None:
    definitions = defs()
    sensors = {sensor.name: sensor for sensor in definitions.sensors}
    assert set(sensors) == {"filings_sensor", "follow_new_filings"}
    assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in sensors.values())
    assert [s.default_status for s in definitions.schedules] == [dg.DefaultScheduleStatus.STOPPED]
    # No default automation sensor is created behind our back: follow_new_filings covers every condition.
    repository = definitions.get_repository_def()
    assert {s.name for s in repository.sensor_defs} == {"filings_sensor", "follow_new_filings"}


def test_followers_have_the_eager_condition_without_the_missing_deps_clause_and_training_none() -> None:
    specs = {spec.key.to_user_string(): spec for spec in defs().resolve_all_asset_specs()}
    expected = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
    for name in FOLLOWERS:
        assert specs[name].automation_condition == expected, name
    for name in TRAINING | {
        "raw_filings",
        "statements",
        "company_universe",
        "macro_indicators",
        "market_prices",
    }:
        assert specs[name].automation_condition is None, name


def test_jobs_and_the_main_sequence_include_the_new_assets() -> None:
    definitions = defs()
    assert MAIN_SEQUENCE == ("refresh_universe", "ingest_filings", "refresh_market", "retrain", "rescore_all")
    market = definitions.resolve_job_def("refresh_market")
    assert {k.to_user_string() for k in market.asset_layer.selected_asset_keys} == {
        "macro_indicators",
        "market_prices",
    }
    rescore = definitions.resolve_job_def("rescore_all")
    assert {k.to_user_string() for k in rescore.asset_layer.selected_asset_keys} == FOLLOWERS
    assert definitions.resolve_sensor_def("filings_sensor").job_name == "ingest_filings"
    assert definitions.resolve_schedule_def("refresh_market_daily").job_name == "refresh_market"


def test_only_the_steps_that_call_the_rate_limited_sources_are_in_the_fetch_pool() -> None:
    """The deployment instances give the pool one slot: every step that calls SEC or OpenDART must hold it, and
    nothing else may (the parsing in statements spreads over the runs of a backfill)."""
    definitions = defs()
    pools = {
        key.to_user_string(): assets.op.pool
        for assets in definitions.resolve_asset_graph().assets_defs
        if assets.is_executable
        for key in assets.keys
    }
    assert {name: pool for name, pool in pools.items() if pool} == {
        "company_universe": FETCH_POOL,
        "raw_filings": FETCH_POOL,
    }
    # in the job the sensor and the backfills run: the fetch step holds it; the parsing and its checks do not
    ingest = definitions.resolve_job_def("ingest_filings").graph.node_dict
    assert {name: node.definition.pool for name, node in ingest.items() if node.definition.pool} == {
        "raw_filings": FETCH_POOL
    }
    assert "statements" in ingest


def test_the_data_source_mode_picks_the_source_resources_once_at_load(monkeypatch) -> None:
    import pytest

    from risk_assets.defs.resources import BundledFilings, BundledMarket, LiveFilings, LiveMarket

    def sources(mode: str | None) -> tuple[type, type]:
        if mode is None:
            monkeypatch.delenv("RISKGRAPH_DATA_SOURCE", raising=False)
        else:
            monkeypatch.setenv("RISKGRAPH_DATA_SOURCE", mode)
        resources = defs().resources
        return type(resources["filings"]), type(resources["market_source"])

    assert sources(None) == (BundledFilings, BundledMarket)
    assert sources(" Live ") == (LiveFilings, LiveMarket)
    with pytest.raises(Exception) as failure:  # Dagster wraps it in the defs folder's load error
        sources("snapshot")
    chain, error = [], failure.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    assert any("must be 'bundled' or 'live', got 'snapshot'" in text for text in chain)
