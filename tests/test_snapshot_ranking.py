"""A few companies rescored (a new filing) are ranked among all of today's snapshots, theirs included, from the
ranking index alone: the percentile is the share of today's scored PDs at or below the company's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.derive.score_writes import percentiles_in, rank_among_today
from risk_assets.storage.schema import TABLES
from risk_assets.storage.warehouse import Warehouse
from tests.storage.test_warehouse import score
from tests.support.sql import sent

TODAY = dt.date(2026, 12, 6)


def test_percentile_is_the_share_of_the_population_at_or_below() -> None:
    population = np.array([0.01, 0.02, 0.02, 0.05, 0.10])
    assert percentiles_in(np.array([0.02, 0.10, 0.01]), population).tolist() == [60.0, 100.0, 20.0]
    assert np.isnan(percentiles_in(np.array([0.02]), np.array([]))).all()


def test_a_rescored_company_is_ranked_among_today_from_the_index_alone(tmp_path: Path) -> None:
    store = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    try:
        store.upsert(
            "risk_scores",
            [
                *(
                    score(f"c{i}", TODAY, kind="current", pd_value=p, status="scored")
                    for i, p in enumerate([0.01, 0.03, 0.08])
                ),
                score(
                    "yesterday", TODAY - dt.timedelta(days=1), kind="current", pd_value=0.001, status="scored"
                ),
                score("period", TODAY, pd_value=0.002, status="scored"),  # a filing score: not a snapshot
                score("no-pd", TODAY, kind="current", pd_value=0.5, status="insufficient_data"),
            ],
        )
        new = pd.DataFrame([score("new", TODAY, kind="current", pd_value=0.05, status="scored")])
        with store.transaction() as conn:
            store.upsert("risk_scores", new, connection=conn)
            assert rank_among_today(store, conn, new, TODAY) == 1
        stored = store.read("risk_scores", where={"kind": "current", "as_of": TODAY}).set_index("company_id")
        assert stored.loc["new", "percentile"] == pytest.approx(75.0)  # 0.01, 0.03, 0.05 of four at or below
        assert (
            stored["percentile"].drop("new").isna().all()
        )  # the others keep theirs (ranked by the bulk path)

        table = TABLES["risk_scores"]
        population = sa.select(table.c.pd).where(
            table.c.kind == "current", table.c.as_of == TODAY, table.c.status == "scored"
        )
        sql = str(population.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}))
        with store.engine.connect() as conn:
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        assert "COVERING INDEX ix_scores_rank" in plan
    finally:
        store.dispose()


def test_the_market_summary_of_every_run_reads_the_index_and_the_riskiest_rows_alone(tmp_path: Path) -> None:
    from risk_assets.defs.scoring.assets import (
        _snapshot_summary,
        riskiest_companies,
        riskiest_snapshots,
        snapshot_summary_queries,
    )

    store = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    try:
        store.upsert(
            "companies",
            [
                {"company_id": f"c{i:02d}", "name": f"Company {i:02d}", "country": "US", "source": "test"}
                | {"updated_at": dt.datetime(2026, 12, 6)}
                for i in range(14)
            ],
        )
        pds = [0.001 * (i + 1) for i in range(12)] + [0.99, 0.99]  # two tied at the top
        store.upsert(
            "risk_scores",
            [
                score(f"c{i:02d}", TODAY, kind="current", pd_value=p, status="scored", segment="listed")
                for i, p in enumerate(pds)
            ]
            + [score("c00", TODAY, pd_value=0.995, status="scored", segment="listed")],  # a filing score
        )
        summary = _snapshot_summary(store, TODAY)
        assert summary["current_scores"] == 14
        top = summary["top_risk"].value
        names = [line.split("|")[1].strip() for line in top.splitlines()[2:]]
        assert names == ["Company 12", "Company 13", *(f"Company {i:02d}" for i in range(11, 3, -1))]

        by_segment, riskiest_pds = snapshot_summary_queries(TODAY)
        plans = {}
        with store.engine.connect() as conn:
            for name, statement in (
                ("by_segment", by_segment),
                ("pds", riskiest_pds),
                ("companies", riskiest_companies(TODAY, 0.5)),
                ("rows", riskiest_snapshots(TODAY, ["c12", "c13"])),
            ):
                sql = str(
                    statement.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True})
                )
                plans[name] = " ".join(
                    str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
                )
        assert "COVERING INDEX ix_scores_rank" in plans["by_segment"], plans
        assert "COVERING INDEX ix_scores_rank" in plans["pds"], plans
        assert "ix_scores_rank (kind=? AND as_of=?)" in plans["companies"], plans
        # the riskiest rows themselves by primary key (company_id, as_of), not among every snapshot of the day
        assert "sqlite_autoindex_risk_scores_1 (company_id=? AND as_of=?)" in plans["rows"], plans
    finally:
        store.dispose()


def _skewed_scores(store: Warehouse, companies: int) -> list[str]:
    """Every company's snapshot of TODAY and three filing scores on dates of their own, statistics taken: what a
    market looks like to SQLite's planner after a first batch (a date has about one score on average), although
    TODAY has a snapshot per company."""
    store.upsert(
        "risk_scores",
        [score(f"c{i:04d}", TODAY, kind="current", status="scored") for i in range(companies)]
        + [
            score(f"c{i:04d}", dt.date(2010, 1, 1) + dt.timedelta(days=3 * i + y), status="scored")
            for i in range(companies)
            for y in range(3)
        ],
    )
    store.refresh_statistics("risk_scores")
    return [f"c{i:04d}" for i in range(0, companies, 3)]


def _plans_of(store: Warehouse, run) -> list[str]:
    """The plan SQLite chose for each statement ``run(connection)`` executes, with the parameters it was given."""

    def in_a_transaction() -> None:
        with store.transaction() as conn:
            run(conn)

    return sent(store.engine, in_a_transaction, plans=True)


def test_a_batch_finds_its_scores_of_the_day_by_key_not_among_every_snapshot_of_the_day(
    tmp_path: Path,
) -> None:
    """The snapshots a batch replaces and the PSI check's feature values are read by (company, date): with kind
    in the condition SQLite reads every snapshot of the day through ix_scores_rank for each batch (0.26 s a
    chunk at 100,000 companies)."""
    from risk_assets.derive.score_writes import scores_of_the_day, write_snapshots

    store = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    try:
        wanted = _skewed_scores(store, 300)
        table = TABLES["risk_scores"]
        naive = sa.select(table.c.company_id, table.c.feature_values).where(
            table.c.kind == "current", table.c.as_of == TODAY, table.c.company_id.in_(wanted)
        )
        assert (
            "USING INDEX ix_scores_rank" in _plans_of(store, lambda conn: conn.execute(naive))[0]
        )  # the trap
        for (statement,) in (
            scores_of_the_day(wanted, TODAY),
            scores_of_the_day(wanted, TODAY, "feature_values"),
        ):  # one list of 300 companies each
            (plan,) = _plans_of(store, lambda conn, statement=statement: conn.execute(statement))
            assert "INDEX sqlite_autoindex_risk_scores_1 (company_id=? AND as_of=?)" in plan, plan

        # a second rescore of the day: the batch's snapshots replaced (one under another model version), each
        # deleted by its whole key; a filing score of the day and the other companies' snapshots left alone
        store.upsert("risk_scores", [score(wanted[0], TODAY, version="2", kind="current", status="scored")])
        store.upsert("risk_scores", [score(wanted[1], TODAY, status="scored")])  # filed today
        new = pd.DataFrame(
            [score(c, TODAY, version="3", kind="current", status="scored") for c in wanted[:2]]
        )
        plans = _plans_of(store, lambda conn: write_snapshots(store, conn, new, wanted[:2], TODAY))
        delete = next(
            plan for plan in plans if "model_version=? AND kind=?" in plan or "ix_scores_rank" in plan
        )
        assert (
            "sqlite_autoindex_risk_scores_1 (company_id=? AND as_of=? AND model_version=? AND kind=?)"
            in delete
        )
        today = store.read("risk_scores", where={"as_of": TODAY})
        mine = today[today["company_id"].isin(wanted[:2])]
        assert sorted(zip(mine["company_id"], mine["kind"], mine["model_version"], strict=True)) == [
            (wanted[0], "current", "3"),
            (wanted[1], "current", "3"),
            (wanted[1], "period", "1"),
        ]
        assert (today.loc[~today["company_id"].isin(wanted[:2]), "model_version"] == "1").all()
        assert len(today) == 298 + 2 + 1  # the others' snapshots, the two replaced, the filing of the day
    finally:
        store.dispose()


def test_a_batch_deletes_the_filing_scores_it_no_longer_produces_each_by_its_key(tmp_path: Path) -> None:
    """Under the champion, a stored filing score the batch did not produce again is deleted (a withdrawn filing);
    one under another model version, and the produced ones, stay. SQLite finds each by its key (a list of keys
    is a scan of every score there)."""
    from risk_assets.derive.score_writes import write_scores

    store = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    try:
        _skewed_scores(store, 300)
        days = [dt.date(2010, 1, 1) + dt.timedelta(days=y) for y in range(3)]  # c0000's three filing scores
        store.upsert(
            "risk_scores", [score("c0000", days[2], version="0", status="scored")]
        )  # an older model's
        stored = store.read("risk_scores", where={"company_id": ["c0000"]})
        produced = pd.DataFrame(
            [score("c0000", day, status="scored") for day in days[:2]]
        )  # days[2] withdrawn
        plans = _plans_of(
            store, lambda conn: write_scores(store, conn, produced, stored, [("corporate_pd", "1")])
        )
        assert any("(company_id=? AND as_of=? AND model_version=? AND kind=?)" in plan for plan in plans), (
            plans
        )
        assert not any(plan.startswith("SCAN") for plan in plans), plans
        left = store.read("risk_scores", where={"company_id": ["c0000"], "kind": "period"})
        assert sorted(zip(left["as_of"], left["model_version"], strict=True)) == [
            (days[0], "1"),
            (days[1], "1"),
            (days[2], "0"),
        ]
        assert store.count("risk_scores") == 300 * 4  # every other company's scores as they were
    finally:
        store.dispose()
