"""On a MariaDB warehouse the derive workers write the batches they derive (derive/workers.py): a rescore of the
bundled graph in batches of three companies, two workers writing side by side, leaves every feature, score,
snapshot percentile, alert, flag and mark as one process writing one batch does."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.commands.graph import run_job
from risk_assets.defs import incremental
from risk_assets.settings import Settings
from risk_assets.storage.schema import TABLES, metadata
from risk_assets.storage.warehouse import Warehouse
from tests.support.servers import scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

SCORE_KEY = ["company_id", "as_of", "model_version", "kind"]
FEATURE_KEY = ["company_id", "period_end", "accession"]


def _copy(source: Warehouse, target: Warehouse) -> None:
    """Every warehouse table, row for row (the graph's marks included)."""
    target.create_schema()
    for table in metadata.sorted_tables:
        if table.name in TABLES:
            target.upsert(table.name, source.read(table.name), track_changes=False)


def _state(warehouse: Warehouse) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    scores = warehouse.read("risk_scores").sort_values(SCORE_KEY).reset_index(drop=True)
    columns = [*SCORE_KEY, "pd", "grade", "percentile", "drivers", "feature_values", "alert_pending"]
    features = warehouse.read("features").sort_values(FEATURE_KEY).reset_index(drop=True)
    alerts = warehouse.read("risk_alerts").drop(columns="created_at")
    alerts = alerts.sort_values(list(alerts.columns[:4])).reset_index(drop=True)
    return scores[columns], features.drop(columns="computed_at"), alerts


def _every_score_pending(warehouse: Warehouse) -> None:
    scores = TABLES["risk_scores"]
    with warehouse.transaction() as conn:
        conn.execute(sa.update(scores).where(scores.c.kind == "period").values(alert_pending=True))


def test_workers_writing_their_batches_on_mariadb_write_what_one_batch_writes(
    graph_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded = Warehouse(Settings.from_env().warehouse_url)
    with scratch_database() as server:
        warehouse = Warehouse(server.url("mariadb+mariadbconnector"))
        try:
            _copy(embedded, warehouse)
            monkeypatch.setenv("RISKGRAPH_WAREHOUSE_URL", warehouse.url)
            monkeypatch.setenv("RISKGRAPH_DERIVE_WORKERS", "2")
            # one process, one batch: every company re-derived on this warehouse, every score compared
            _every_score_pending(warehouse)
            assert run_job("rescore_all", tags={incremental.EVERY_COMPANY_TAG: "true"}).success
            scores_before, features_before, alerts_before = _state(warehouse)
            # compared and cleared, but for scores with no PD served (nothing to compare, they stay pending)
            assert len(alerts_before) and scores_before["alert_pending"].mean() < 0.1
            companies = warehouse.distinct("statements", "company_id")
            with warehouse.transaction() as conn:
                warehouse.mark_stale(conn, ["market_features", "features"], companies)
                scores = TABLES["risk_scores"]
                conn.execute(sa.delete(scores).where(scores.c.kind == "current"))
            _every_score_pending(warehouse)
            # three companies a batch: workers derive and write them, side by side
            monkeypatch.setattr(incremental, "COMPANY_BATCH", 3)
            outcome = run_job("rescore_all")
            assert outcome.success
            assert len(companies) > 3 * 2  # more batches than workers: several written at once
            with dg.DagsterInstance.get() as instance:
                said = [entry.user_message for entry in instance.all_logs(outcome.run_id)]
            for asset in ("market_features", "features", "risk_scores", "risk_alerts"):
                assert any(
                    message.startswith(f"{asset}: ") and "each writing the batches it" in message
                    for message in said
                ), asset
            scores_after, features_after, alerts_after = _state(warehouse)
            pd.testing.assert_frame_equal(scores_before, scores_after)
            pd.testing.assert_frame_equal(features_before, features_after)
            pd.testing.assert_frame_equal(alerts_before, alerts_after)
            for consumer in ("market_features", "features", "risk_scores"):
                assert warehouse.stale_marks(consumer).empty, consumer
        finally:
            warehouse.dispose()
            embedded.dispose()
