"""A batch of score alerts written whole (as a worker on a server warehouse writes it: the scores read under row
locks, their flags cleared by one UPDATE per chunk of companies) leaves what the split path leaves (read, then
each compared score's flag cleared by its key), and never clears the flag of a score it did not compare."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.core.alerts import AlertRule
from risk_assets.derive.alerts import ScoreAlertBatch
from risk_assets.storage.stale import CHUNK
from risk_assets.storage.warehouse import Warehouse, WriteConflict
from tests.storage.test_mysql_writes import every_driver
from tests.support.sql import sent

NOW = dt.datetime(2026, 12, 7, 12, 0)
#: Per company, its filing scores' (year, pd, grade, pending, status): the last two of A and C are news.
HISTORIES = {
    "A": [
        (2019, 0.002, "4", False, "scored"),
        (2020, 0.01, "6", True, "scored"),
        (2021, 0.05, "8", True, "scored"),
    ],
    "B": [
        (2019, 0.02, "7", False, "scored"),
        (2020, 0.01, "6", True, "scored"),
        (2021, 0.4, "10", True, None),
    ],
    "C": [(2019, 0.001, "3", False, "scored"), (2020, 0.1, "9", True, "scored")],
    "D": [(2020, 0.2, "10", True, "insufficient_data")],
}


def score_row(company: str, year: int, pd_: float, grade: str, pending: bool, status: str | None) -> dict:
    filed = dt.date(year + 1, 3, 1)
    return {
        "company_id": company,
        "as_of": filed,
        "model_version": "3",
        "kind": "period",
        "model_name": "corporate_pd_listed",
        "period_end": dt.date(year, 12, 31),
        "fiscal_year": year,
        "accession": f"{company}-{year}",
        "filed_at": filed,
        "pd": pd_,
        "model_pd": pd_,
        "grade": grade,
        "log_odds": 0.0,
        "drivers": "{}",
        "in_default": False,
        "out_of_domain": False,
        "code_version": "test",
        "scored_at": NOW,
        "alert_pending": pending,
        "status": status,
    }


def seeded(warehouse: Warehouse) -> Warehouse:
    rows = [score_row(company, *score) for company, scores in HISTORIES.items() for score in scores]
    warehouse.upsert("risk_scores", rows)
    return warehouse


def pending_flags(warehouse: Warehouse) -> dict[tuple[str, int], bool]:
    scores = warehouse.read("risk_scores", order_by=["company_id", "as_of"])
    return {
        (row.company_id, pd.Timestamp(row.as_of).year - 1): bool(row.alert_pending)
        for row in scores.itertuples()
    }


def stored_alerts(warehouse: Warehouse) -> pd.DataFrame:
    alerts = warehouse.read("risk_alerts", order_by=["company_id", "as_of"]).drop(columns="created_at")
    return alerts.reset_index(drop=True)


def test_a_whole_batch_leaves_what_the_split_path_leaves(warehouse: Warehouse):
    task = ScoreAlertBatch(AlertRule(), NOW)
    batch = ["A", "B", "D"]
    seeded(warehouse)
    split = task.write(warehouse, batch, task.derived(warehouse, batch))
    split_alerts, split_flags = stored_alerts(warehouse), pending_flags(warehouse)

    with warehouse.transaction() as connection:
        connection.execute(sa.delete(sa.table("risk_alerts")))
    seeded(warehouse)  # the flags set again
    whole = task(warehouse, batch)

    assert (whole.alerts, whole.evaluated) == (split.alerts, split.evaluated) == (3, 4)
    assert stored_alerts(warehouse).equals(split_alerts)
    assert split_alerts[["company_id", "grade"]].values.tolist() == [["A", "6"], ["A", "8"], ["B", "10"]]
    assert (
        pending_flags(warehouse)
        == split_flags
        == {
            ("A", 2019): False,
            ("A", 2020): False,
            ("A", 2021): False,
            ("B", 2019): False,
            ("B", 2020): False,
            ("B", 2021): False,  # no status (scored before statuses were kept): served, compared
            ("C", 2019): False,
            ("C", 2020): True,  # outside the batch
            ("D", 2020): True,  # not served: never compared, still pending
        }
    )


@every_driver
def test_a_score_written_between_the_read_and_the_update_is_compared_not_cleared(warehouse: Warehouse):
    """Another writer adds a pending score of a batch company after the locking read (READ COMMITTED takes no
    gap locks): the UPDATE would clear it unseen, so the batch rolls back and runs again, comparing it."""
    seeded(warehouse)
    other = Warehouse(warehouse.url)
    added: list[bool] = []

    def add_a_score_once(conn, cursor, statement, parameters, context, executemany):
        if not added and statement.lstrip().upper().startswith("UPDATE RISK_SCORES"):
            added.append(True)
            other.upsert("risk_scores", [score_row("A", 2022, 0.3, "10", True, "scored")])

    sa.event.listen(warehouse.engine, "before_cursor_execute", add_a_score_once)
    try:
        written = ScoreAlertBatch(AlertRule(), NOW)(warehouse, ["A", "B"])
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", add_a_score_once)
        other.dispose()
    assert added == [True]
    assert written.evaluated == 5  # the second attempt compared A's new score too
    alerts = stored_alerts(warehouse)
    assert alerts[["company_id", "grade"]].values.tolist() == [
        ["A", "6"],
        ["A", "8"],
        ["A", "10"],
        ["B", "10"],
    ]
    flags = pending_flags(warehouse)
    assert not any(flag for (company, _), flag in flags.items() if company in ("A", "B"))
    assert flags[("C", 2020)]


def test_a_conflict_on_every_attempt_fails_the_batch_with_nothing_written(tmp_path):
    store = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    seeded(store)
    flags = pending_flags(store)
    years = iter(range(2030, 2100))

    def a_new_score_each_time(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE RISK_SCORES"):  # in the batch's own transaction
            year = next(years)
            cursor.execute(
                "INSERT INTO risk_scores (company_id, as_of, model_version, kind, model_name, period_end, "
                "fiscal_year, accession, filed_at, pd, model_pd, grade, log_odds, drivers, in_default, "
                "out_of_domain, code_version, scored_at, alert_pending, status) VALUES "
                f"('B', '{year}-03-01', '3', 'period', 'm', '{year - 1}-12-31', {year - 1}, 'x', '{year}-03-01', "
                "0.5, 0.5, '10', 0, '{}', 0, 0, 't', '2026-12-07 00:00:00', 1, 'scored')"
            )

    sa.event.listen(store.engine, "before_cursor_execute", a_new_score_each_time)
    try:
        with pytest.raises(WriteConflict, match="alert flags to clear"):
            ScoreAlertBatch(AlertRule(), NOW)(store, ["A", "B"])
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", a_new_score_each_time)
    assert pending_flags(store) == flags  # every attempt rolled back
    assert store.count("risk_alerts") == 0
    store.dispose()


def test_a_batch_of_more_companies_than_a_list_takes_is_read_and_cleared_a_list_at_a_time(
    warehouse: Warehouse,
):
    """The locking read and the flags' UPDATE name at most stale.CHUNK companies each (MariaDB makes a list of
    1,000 a subquery, which it joined against a scan of the whole table), through the primary key on a server,
    and the batch compares and clears every company's scores."""
    companies = [f"c{c:04d}" for c in range(1200)]
    warehouse.upsert(
        "risk_scores",
        [
            score_row(company, year, pd_, grade, True, "scored")
            for company in companies
            for year, pd_, grade in ((2019, 0.002, "4"), (2020, 0.05, "8"))
        ],
    )
    task = ScoreAlertBatch(AlertRule(), NOW)
    statements = sent(warehouse.engine, lambda: task(warehouse, companies))
    on_scores = [
        s
        for s in statements
        if "FROM risk_scores" in s or s.lstrip().upper().startswith("UPDATE RISK_SCORES")
    ]
    assert len(on_scores) == 6  # three lists of companies, each read under lock and cleared
    assert all(s.count("%s") + s.count("?") <= CHUNK + 4 for s in on_scores)
    if warehouse.dialect != "sqlite":
        assert all("FORCE INDEX (PRIMARY)" in s and "FOR UPDATE" in s for s in on_scores if "SELECT" in s)
        assert all("risk_scores FORCE INDEX (PRIMARY) SET" in s for s in on_scores if s.startswith("UPDATE"))
    assert warehouse.count("risk_alerts") == 1200  # each company's grade 4 -> 8
    assert not any(pending_flags(warehouse).values())
