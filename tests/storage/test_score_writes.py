"""A batch's filing scores written (derive/score_writes.py's write_scores): a company scored for the first time has
its rows loaded as fresh rows (a local load on MariaDB Connector/Python), a stored company's changed rows are
upserted, and rows another writer stored meanwhile are neither duplicated nor lost."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.derive.score_writes import write_scores
from risk_assets.storage import warehouse as warehouse_module
from risk_assets.storage.warehouse import Warehouse
from tests.storage.test_mysql_writes import MARIADB_CONNECTOR, session_counter
from tests.storage.test_warehouse import score

CHAMPIONS = [("corporate_pd", "1")]
DAYS = [dt.date(2010 + year, 3, 1) for year in range(12)]


def produced() -> pd.DataFrame:
    """A rescore of S (stored: its last filing's PD changed) and of N (never scored), under the champion."""
    return pd.DataFrame(
        [score("S", day, pd_value=0.02 if day == DAYS[-1] else 0.01) for day in DAYS]
        + [score("N", day, pd_value=0.03) for day in DAYS]
    )


def stored_rows(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.read("risk_scores", order_by=["company_id", "as_of", "model_version"])


def test_first_scored_companies_are_loaded_and_stored_ones_upserted(warehouse: Warehouse, monkeypatch):
    monkeypatch.setattr(warehouse_module, "LOAD_DATA_ROWS", 5)  # a load of N's 12 rows where the driver loads
    warehouse.upsert("risk_scores", [score("S", day) for day in DAYS] + [score("S", DAYS[0], version="0")])
    before = stored_rows(warehouse)
    rows = produced()
    with warehouse.transaction() as connection:
        loads = session_counter(connection, "Com_load") if warehouse.dialect != "sqlite" else 0
        written = write_scores(warehouse, connection, rows, before, CHAMPIONS)
        if warehouse.engine.dialect.driver == "mariadbconnector":
            assert session_counter(connection, "Com_load") == loads + 1  # N's rows, one load
    assert written == 1 + 12  # S's changed filing score and N's
    after = stored_rows(warehouse)
    assert len(after) == 12 + 1 + 12  # nothing duplicated; S's older model's score kept
    mine = after[after["model_version"] == "1"].reset_index(drop=True)
    assert mine["pd"].tolist() == rows.sort_values(["company_id", "as_of"])["pd"].tolist()
    assert after.loc[after["model_version"] == "0", "company_id"].tolist() == ["S"]


@pytest.mark.parametrize("backend", [MARIADB_CONNECTOR])
def test_a_first_score_another_writer_stored_meanwhile_is_replaced_not_duplicated(
    warehouse: Warehouse, monkeypatch
):
    """Another writer stores one of N's scores after the batch read what was stored (nothing of N's) and after
    its delete made room: the load meets it, and the transaction runs again, its delete taking it away."""
    monkeypatch.setattr(warehouse_module, "LOAD_DATA_ROWS", 5)
    rows = produced()
    rows = rows[rows["company_id"] == "N"]
    other = Warehouse(warehouse.url)
    loads: list[bool] = []

    def store_one_before_the_first_load(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("LOAD DATA"):
            if not loads:
                other.upsert("risk_scores", [score("N", DAYS[3], pd_value=0.5)])
            loads.append(True)

    sa.event.listen(warehouse.engine, "before_cursor_execute", store_one_before_the_first_load)
    try:
        written = warehouse.retried_transaction(
            lambda connection: write_scores(
                warehouse, connection, rows, stored_rows(warehouse).iloc[:0], CHAMPIONS
            )
        )
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", store_one_before_the_first_load)
        other.dispose()
    assert loads == [True, True]  # the first load met the other writer's row; the second stored every row
    after = stored_rows(warehouse)
    assert written == len(after) == 12
    assert (after["pd"] == 0.03).all()
