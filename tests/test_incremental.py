"""A rescore with nothing new skips the work (issue 11); a changed input makes it recompute."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from risk_assets.commands.graph import run_job
from risk_assets.core.fingerprint import combined_fingerprint, table_fingerprint
from risk_assets.defs.incremental import (
    EVERY_COMPANY,
    EVERY_COMPANY_TAG,
    LISTED_COMPANIES,
    RECOMPUTED_COMPANIES,
    SHARED_TOKEN,
    CompanyWork,
    previous_metadata_of,
)
from risk_assets.derive.workers import available_cpus, derived_batches, one_batch_ahead, worker_count
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse
from tests.support.derivers import HeavyImports

SKIPPING = ("market_features", "features", "risk_scores")
#: Re-parse a company's stored documents only when they changed (raw_filings writes mark the company).
DOCUMENT_READERS = ("default_events", "warning_signals")


def _latest_metadata(asset: str) -> dict:
    """The asset's latest materialisation's metadata, read as the assets read it; it must exist and record the shared
    token (every run of these assets records it, recomputed or not), or a missing run would pass for "not
    unchanged"."""
    with dg.DagsterInstance.get() as instance:
        metadata = previous_metadata_of(instance, dg.AssetKey(asset))
    assert SHARED_TOKEN in metadata, (asset, metadata)
    return metadata


def _one_day(warehouse: Warehouse) -> None:
    """Make the test's runs all see one day, the day of the graph's snapshots: a new day re-derives every
    company's snapshot by design. A test starting minutes before midnight waits for it; a graph materialised on
    an earlier day (the suite crossed midnight) is settled by one run first."""
    now = dt.datetime.now()
    to_midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time()) - now
    if to_midnight < dt.timedelta(minutes=20):
        time.sleep(to_midnight.total_seconds() + 1)
    days = warehouse.distinct("risk_scores", "as_of", {"kind": "current"})
    if not days or pd.Timestamp(max(days)).date() != dt.date.today():
        assert run_job("rescore_all").success


def _check_metadata(run_id: str, check: str) -> str:
    with dg.DagsterInstance.get() as instance:
        [evaluation] = [
            entry.dagster_event.event_specific_data
            for entry in instance.all_logs(run_id)
            if entry.dagster_event is not None
            and entry.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
            and entry.dagster_event.event_specific_data.check_name == check
        ]
    return evaluation.metadata["figures"].value


def test_one_batch_ahead_derives_the_next_batch_while_the_caller_writes_and_never_two_ahead() -> None:
    batches = [[f"c{i}"] for i in range(5)]
    started: list[str] = []
    caller = threading.get_ident()

    def derive(batch: list[str]) -> str:
        assert threading.get_ident() != caller  # in the background, not in the caller's thread
        started.append(batch[0])
        return batch[0].upper()

    seen = []
    for batch, derived in one_batch_ahead(batches, derive):
        time.sleep(0.02)  # the caller's write: the next batch's derive runs meanwhile
        position = int(batch[0][1:])
        assert started == [f"c{i}" for i in range(min(position + 2, len(batches)))]
        seen.append((batch, derived))
    assert seen == [([f"c{i}"], f"C{i}") for i in range(5)]


def test_one_batch_ahead_raises_a_derive_error_where_its_batch_is_taken() -> None:
    def derive(batch: list[str]) -> list[str]:
        if batch == ["bad"]:
            raise ValueError("cannot derive bad")
        return batch

    taken = []
    with pytest.raises(ValueError, match="cannot derive bad"):
        for batch, _ in one_batch_ahead([["a"], ["bad"], ["c"]], derive):
            taken.append(batch)
    assert taken == [["a"]]


class _CompaniesOfBatch:
    """A deriver as the assets write them (module level, so picklable): the batch's rows of ``companies`` read
    from the process's warehouse, with the process id that read them."""

    def __call__(self, store: Warehouse, batch: list[str]) -> tuple[list[str], int]:
        if "bad" in batch:
            raise ValueError(f"cannot derive {batch}")
        return sorted(store.read("companies", where={"company_id": batch})["company_id"]), os.getpid()


def _companies_warehouse(tmp_path: Path, count: int) -> Warehouse:
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    warehouse.create_schema()
    warehouse.upsert(
        "companies",
        pd.DataFrame(
            {
                "company_id": [f"c{i:02d}" for i in range(count)],
                "name": "x",
                "country": "US",
                "source": "test",
                "updated_at": dt.datetime(2026, 1, 1),
            }
        ),
    )
    return warehouse


def test_derived_batches_in_worker_processes_give_what_one_process_gives_in_order(tmp_path: Path) -> None:
    warehouse = _companies_warehouse(tmp_path, 10)
    batches = [[f"c{i:02d}", f"c{i + 1:02d}"] for i in range(0, 10, 2)]
    try:
        alone = list(derived_batches(warehouse, batches, _CompaniesOfBatch(), workers=0))
        spread = list(derived_batches(warehouse, batches, _CompaniesOfBatch(), workers=2))
    finally:
        warehouse.dispose()
    assert [batch for batch, _ in spread] == batches
    assert [rows for _, (rows, _) in spread] == [rows for _, (rows, _) in alone] == batches
    assert {pid for _, (_, pid) in alone} == {os.getpid()}
    workers = {pid for _, (_, pid) in spread}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2


def test_a_worker_process_derives_without_dagster_or_mlflow(tmp_path: Path) -> None:
    """A worker imports the batch derivations only (~100 MB and ~2 s less each than the asset modules)."""
    warehouse = _companies_warehouse(tmp_path, 3)
    try:
        loaded = list(derived_batches(warehouse, [["c00"], ["c01"], ["c02"]], HeavyImports(), workers=1))
    finally:
        warehouse.dispose()
    assert [heavy for _, heavy in loaded] == [[], [], []]


def test_a_worker_error_reaches_the_writer_at_its_batch(tmp_path: Path) -> None:
    warehouse = _companies_warehouse(tmp_path, 4)
    taken = []
    try:
        with pytest.raises(ValueError, match=r"cannot derive \['bad'\]"):
            for batch, _ in derived_batches(
                warehouse, [["c00"], ["c01"], ["bad"], ["c03"]], _CompaniesOfBatch(), 2
            ):
                taken.append(batch)
    finally:
        warehouse.dispose()
    assert taken == [["c00"], ["c01"]]


def test_worker_count_spares_small_runs_and_in_memory_databases(tmp_path: Path) -> None:
    on_file = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    in_memory = Warehouse("sqlite://")
    assert worker_count(on_file, -1, 40) == min(available_cpus(), 40)
    assert worker_count(on_file, 4, 3) == 3  # never more workers than batches
    assert worker_count(on_file, 4, 2) == 0  # a new filing's run: no worker start-up to pay
    assert worker_count(on_file, 0, 40) == 0
    assert worker_count(in_memory, 4, 40) == 0  # no other process can see it


def test_available_cpus_follows_a_containers_cpu_quota(tmp_path: Path) -> None:
    usable = len(os.sched_getaffinity(0))
    assert available_cpus(tmp_path) == usable  # no cgroup files: the CPUs the process may run on
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cpus(tmp_path) == usable  # v2, no quota
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert available_cpus(tmp_path) == 1  # v2: one CPU's worth
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus(tmp_path) == 1  # v1: half a CPU still gets one worker
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert available_cpus(tmp_path) == usable


def test_table_fingerprint_ignores_row_order_and_run_columns_but_not_content() -> None:
    frame = pd.DataFrame(
        {
            "company_id": ["a", "b", "c"],
            "value": [1.0, None, 3.0],
            "loaded_at": pd.to_datetime(["2020-01-01"] * 3),
        }
    )
    token = table_fingerprint(frame, ["loaded_at"])
    shuffled = frame.iloc[[2, 0, 1]].reset_index(drop=True).assign(loaded_at=pd.Timestamp("2026-01-01"))
    assert table_fingerprint(shuffled, ["loaded_at"]) == token
    assert table_fingerprint(frame) != token  # loaded_at counted when not ignored
    assert table_fingerprint(frame.assign(value=[1.0, None, 3.0000001]), ["loaded_at"]) != token
    assert table_fingerprint(frame.iloc[:2], ["loaded_at"]) != token
    assert table_fingerprint(frame.iloc[:0], ["loaded_at"]) != table_fingerprint(frame.iloc[:0])
    assert combined_fingerprint([token, "x"]) != combined_fingerprint(["x", token])


def test_rescore_with_nothing_new_skips_and_a_changed_statement_recomputes(graph_copy: Path) -> None:
    warehouse = Warehouse(Settings.from_env().warehouse_url)
    try:
        _one_day(warehouse)
        scores_before = warehouse.read("risk_scores").sort_values(
            ["company_id", "as_of", "model_version", "kind"]
        )
        outcome = run_job("rescore_all")
        assert outcome.success
        for asset in SKIPPING:
            assert "unchanged" in _latest_metadata(asset), asset
        # nothing rescored: the population-stability check does not measure the market again
        assert "last run that rescored every company" in _check_metadata(
            outcome.run_id, "population_stability"
        )
        scores_after = warehouse.read("risk_scores").sort_values(
            ["company_id", "as_of", "model_version", "kind"]
        )
        pd.testing.assert_frame_equal(
            scores_before.reset_index(drop=True), scores_after.reset_index(drop=True)
        )
        for asset in (*SKIPPING, *DOCUMENT_READERS):
            assert _latest_metadata(asset)["companies_recomputed"] == 0, asset

        # the operator's tag re-derives every company (rows changed by hand in SQL mark nothing); the same
        # inputs give the same scores, every prediction reused
        assert run_job("rescore_all", tags={EVERY_COMPANY_TAG: "true"}).success
        with_features = warehouse.distinct("features", "company_id")
        for asset in DOCUMENT_READERS:
            assert _latest_metadata(asset)[EVERY_COMPANY] is True, asset
        for asset in SKIPPING:
            metadata = _latest_metadata(asset)
            assert metadata[EVERY_COMPANY] is True and metadata["companies_recomputed"] >= len(with_features)
        assert _latest_metadata("risk_scores")["predicted_rows"] == 0
        assert _latest_metadata("risk_scores")["period_scores_written"] == 0  # every one stored as it is
        retagged = warehouse.read("risk_scores").sort_values(["company_id", "as_of", "model_version", "kind"])
        columns = ["company_id", "as_of", "model_version", "kind", "pd", "grade", "drivers", "percentile"]
        pd.testing.assert_frame_equal(
            scores_before[columns].reset_index(drop=True), retagged[columns].reset_index(drop=True)
        )

        # Apple's newest annual statement with total assets doubled: features and scores must follow
        statements = warehouse.read("statements", where={"company_id": "sec-0000320193", "period_type": "FY"})
        newest = statements.sort_values("period_end").tail(1)
        warehouse.upsert("statements", newest.assign(total_assets=newest["total_assets"] * 2))
        outcome = run_job("rescore_all")
        assert outcome.success
        # one company rescored leaves the population as it was: the PSI check judges the figures of the last
        # run that rescored every company instead of measuring the market again
        assert "last run that rescored every company" in _check_metadata(
            outcome.run_id, "population_stability"
        )

        for asset in SKIPPING:
            assert "unchanged" not in _latest_metadata(asset), asset
        # only Apple is re-derived (its statement was the one write), and of its filings only those whose feature
        # values changed (from that statement on) are predicted again: the rest of its filings are reused
        for asset in SKIPPING:
            assert _latest_metadata(asset)["companies_recomputed"] == 1, asset
        scoring = _latest_metadata("risk_scores")
        score_key = ["company_id", "as_of", "model_version", "kind"]
        inputs = ["feature_digest", "segment"]
        merged = warehouse.read("risk_scores", where={"kind": "period"}).merge(
            scores_before.loc[scores_before["kind"] == "period", score_key + inputs],
            on=score_key,
            how="left",
            suffixes=("", "_before"),
        )
        changed = np.zeros(len(merged), dtype=bool)
        for column in inputs:
            changed |= (merged[column] != merged[f"{column}_before"]).to_numpy()
        assert changed.any() and set(merged.loc[changed, "company_id"]) == {"sec-0000320193"}
        assert scoring["predicted_rows"] == int(changed.sum())
        assert scoring["period_scores_written"] == int(
            changed.sum()
        )  # Apple's unchanged filings not rewritten
        apple = (merged["company_id"] == "sec-0000320193").to_numpy()
        assert scoring["reused_predictions"] == int((apple & ~changed).sum()) > 0
        others = warehouse.read("risk_scores", where={"kind": "period"})
        others = others[others["company_id"] != "sec-0000320193"]
        before = scores_before[
            (scores_before["kind"] == "period") & (scores_before["company_id"] != "sec-0000320193")
        ]
        columns = ["company_id", "as_of", "model_version", "model_pd", "log_odds", "drivers", "pd", "grade"]
        pd.testing.assert_frame_equal(
            before[columns].sort_values(columns[:3]).reset_index(drop=True),
            others[columns].sort_values(columns[:3]).reset_index(drop=True),
        )
        key = {"company_id": "sec-0000320193", "accession": newest["accession"].iloc[0]}
        feature = warehouse.read("features", where=key)
        assert len(feature) and (feature["computed_at"] > scores_before["scored_at"].max()).all()
    finally:
        warehouse.dispose()


def test_small_batches_write_what_one_batch_writes(graph_copy: Path, monkeypatch) -> None:
    """Every company marked stale and re-derived three companies a batch: the warehouse ends as it was (a bulk
    change writes each batch's snapshots unranked and ranks the day across the market after the last batch)."""
    import sqlalchemy as sa

    from risk_assets.defs import incremental
    from risk_assets.storage.schema import TABLES

    warehouse = Warehouse(Settings.from_env().warehouse_url)
    key = ["company_id", "as_of", "model_version", "kind"]
    try:
        _one_day(warehouse)
        before = warehouse.read("risk_scores").sort_values(key).reset_index(drop=True)
        features_before = warehouse.read("features").sort_values(["company_id", "period_end", "accession"])
        companies = warehouse.distinct("statements", "company_id")
        with warehouse.transaction() as conn:
            warehouse.mark_stale(conn, ["market_features", "features"], companies)
            # no snapshot today yet (as after a bulk import of new companies): only the market-wide ranking
            # after the last batch gives the percentiles one batch gives
            scores = TABLES["risk_scores"]
            conn.execute(sa.delete(scores).where(scores.c.kind == "current"))
        monkeypatch.setattr(incremental, "COMPANY_BATCH", 3)
        assert run_job("rescore_all").success
        assert _latest_metadata("features")["companies_recomputed"] == len(companies) > 3
        assert _latest_metadata("risk_scores")[incremental.EVERY_COMPANY] is False
        after = warehouse.read("risk_scores").sort_values(key).reset_index(drop=True)
        columns = [*key, "pd", "grade", "percentile", "drivers", "feature_values", "alert_pending"]
        pd.testing.assert_frame_equal(before[columns], after[columns])
        features_after = warehouse.read("features").sort_values(["company_id", "period_end", "accession"])
        pd.testing.assert_frame_equal(
            features_before.drop(columns="computed_at").reset_index(drop=True),
            features_after.drop(columns="computed_at").reset_index(drop=True),
        )
        assert warehouse.stale_marks("features").empty and warehouse.stale_marks("risk_scores").empty
        if (
            warehouse.dialect == "sqlite"
        ):  # a run of several batches leaves the planner statistics of its tables
            with warehouse.engine.connect() as conn:
                analysed = {row[0] for row in conn.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1")}
            assert {"market_features", "features", "risk_scores"} <= analysed
    finally:
        warehouse.dispose()


def test_a_financial_firm_is_excluded_and_named_in_the_scores_metadata(graph_copy: Path) -> None:
    """A company flagged financial is not scored by the corporate models; the run names it."""
    import sqlalchemy as sa

    from risk_assets.storage.schema import TABLES

    warehouse = Warehouse(Settings.from_env().warehouse_url)
    try:
        _one_day(warehouse)
        company = warehouse.distinct("features", "company_id")[0]
        companies = TABLES["companies"]
        with warehouse.transaction() as conn:
            conn.execute(
                sa.update(companies).where(companies.c.company_id == company).values(is_financial=True)
            )
            warehouse.mark_stale(conn, ["risk_scores"], [company])
        assert run_job("rescore_all").success
        assert _latest_metadata("risk_scores")["excluded_financial_firms"] == company
    finally:
        warehouse.dispose()


def test_a_run_lists_the_companies_it_re_derived_only_when_they_are_few() -> None:
    """What a check of only the rows a run wrote reads (market_features_point_in_time): the companies of a small run,
    never those of a run over every company or over too many to list."""
    marks = pd.DataFrame(columns=["company_id"])
    few = CompanyWork(["a", "b"], marks, False, "2 companies with changed inputs").metadata()
    assert few[RECOMPUTED_COMPANIES].value == ["a", "b"] and few["companies_recomputed"] == 2
    many = [f"c{i}" for i in range(LISTED_COMPANIES + 1)]
    assert RECOMPUTED_COMPANIES not in CompanyWork(many, marks, False, "many").metadata()
    everything = CompanyWork(["a"], marks, True, "every company").metadata()
    assert RECOMPUTED_COMPANIES not in everything and everything[EVERY_COMPANY] is True
