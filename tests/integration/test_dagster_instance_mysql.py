"""Dagster's own instance from the deployment dagster.yaml, on MySQL/MariaDB (a scratch database): a run
executes against it and its run, events and dynamic partitions are read back from the MySQL tables, its
step logs from the S3 bucket (the compute-log manager pointed at moto_server)."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from risk_assets.commands.graph import run_job
from tests.integration.conftest import BUCKET, production_env
from tests.support.servers import MotoServer, scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.mysql]


def test_a_run_on_the_deployment_instance_is_recorded_in_mysql(tmp_path, monkeypatch, moto: MotoServer):
    with scratch_database("riskgraph_test_dagster_") as database:
        production_env(
            monkeypatch,
            tmp_path / "home",
            moto=moto,
            prefix="dagster-instance-test",
            warehouse_url=f"sqlite:///{tmp_path / 'warehouse.db'}",
            dagster_database=database,
        )
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "MySQLRunStorage"
        outcome = run_job("refresh_universe")
        assert outcome.success

        connection = database.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT run_id, pipeline_name, status FROM runs")
                runs = cursor.fetchall()
                cursor.execute(
                    "SELECT dagster_event_type, asset_key, event FROM event_logs WHERE run_id = %s "
                    "ORDER BY id",
                    (outcome.run_id,),
                )
                events = cursor.fetchall()
                cursor.execute(
                    "SELECT `partition` FROM dynamic_partitions WHERE partitions_def_name = 'companies'"
                )
                partitions = [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()
    assert runs == ((outcome.run_id, "refresh_universe", "SUCCESS"),)
    types = [row[0] for row in events]
    assert types[0] == "ASSET_MATERIALIZATION_PLANNED" and types[-1] == "PIPELINE_SUCCESS"
    assert types.index("PIPELINE_START") < types.index("STEP_START") < types.index("ASSET_MATERIALIZATION")
    [materialisation] = [row for row in events if row[0] == "ASSET_MATERIALIZATION"]
    assert json.loads(materialisation[1]) == ["company_universe"]
    assert '"companies"' in materialisation[2]  # the metadata (14 companies) is in the stored event
    assert len(partitions) == 14 and "sec-0000320193" in partitions
    assert moto.objects(BUCKET, f"dagster/compute-logs/storage/{outcome.run_id}/")
