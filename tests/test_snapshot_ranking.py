"""A few companies rescored (a new filing) are ranked among all of today's snapshots, theirs included, from the
ranking index alone: the percentile is the share of today's scored PDs at or below the company's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.defs.scoring.assets import percentiles_in, rank_among_today
from risk_assets.storage.schema import TABLES
from risk_assets.storage.warehouse import Warehouse
from tests.storage.test_warehouse import score

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
    from risk_assets.defs.scoring.assets import _snapshot_summary, snapshot_summary_queries

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
        with store.engine.connect() as conn:
            for statement in (by_segment, riskiest_pds):
                sql = str(
                    statement.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True})
                )
                plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
                assert "COVERING INDEX ix_scores_rank" in plan, plan
    finally:
        store.dispose()


def test_the_stability_check_reads_the_snapshots_feature_values_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch
) -> None:
    """The PSI check's current sample: each snapshot's feature values, in the snapshots' order, whichever chunk
    of companies they were read in."""
    from risk_assets.defs.scoring import checks

    store = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    try:
        values = {"c1": '{"a": 1.0, "b": null}', "c2": '{"a": 2.5, "b": 3.0}', "c3": '{"b": 4.0}'}
        store.upsert(
            "risk_scores",
            [
                score(c, TODAY, kind="current", feature_values=text, segment="listed")
                for c, text in values.items()
            ]
            + [score("c1", TODAY - dt.timedelta(days=1), kind="current", feature_values='{"a": 9.0}')],
        )
        snapshots = checks._latest_snapshots(store).sort_values("company_id", ascending=False)
        monkeypatch.setattr(
            checks, "chunks", lambda items: [items[i : i + 2] for i in range(0, len(items), 2)]
        )
        frame = checks._snapshot_features(store, snapshots, ["a", "b"])
        expected = pd.DataFrame({"a": [np.nan, 2.5, 1.0], "b": [4.0, 3.0, np.nan]})
        pd.testing.assert_frame_equal(frame, expected)
    finally:
        store.dispose()
