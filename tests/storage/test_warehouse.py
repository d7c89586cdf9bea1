"""The same Warehouse code on SQLite and on MySQL/MariaDB: upserts by natural key, partition replacement,
update(), one transaction per write, and values that read back as they were written."""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.storage import stale
from risk_assets.storage import warehouse as warehouse_module
from risk_assets.storage.schema import risk_scores
from risk_assets.storage.warehouse import Warehouse
from tests.support.sql import sent

NOW = dt.datetime(2024, 3, 1, 9, 30, 15, 123456)


def company(company_id: str, name: str, **extra) -> dict:
    return {
        "company_id": company_id,
        "name": name,
        "country": "US",
        "source": "sec",
        "is_financial": False,
        "updated_at": NOW,
        **extra,
    }


def score(
    company_id: str, as_of: dt.date, version: str = "1", kind: str = "period", pd_value: float = 0.01, **extra
) -> dict:
    return {
        "company_id": company_id,
        "as_of": as_of,
        "model_version": version,
        "kind": kind,
        "model_name": "corporate_pd",
        "period_end": as_of - dt.timedelta(days=60),
        "fiscal_year": as_of.year,
        "accession": f"acc-{company_id}-{as_of.isoformat()}",
        "filed_at": as_of,
        "pd": pd_value,
        "model_pd": pd_value,
        "grade": "4",
        "percentile": None,
        "log_odds": math.log(pd_value / (1 - pd_value)),
        "drivers": "{}",
        "feature_values": "{}",
        "in_default": False,
        "out_of_domain": False,
        "domain_note": None,
        "code_version": "test",
        "scored_at": NOW,
        "alert_pending": False,
        **extra,
    }


def scores_for(companies: int, years: int, version: str = "1") -> list[dict]:
    return [
        score(f"c{c:04d}", dt.date(2015 + y, 3, 1), version, pd_value=0.001 * (c % 50 + 1))
        for c in range(companies)
        for y in range(years)
    ]


def key_counts(warehouse: Warehouse, table: sa.Table) -> pd.Series:
    """Rows per primary key (every value must be 1)."""
    keys = list(table.primary_key.columns)
    statement = sa.select(*keys, sa.func.count().label("n")).group_by(*keys)
    return warehouse.query(statement)["n"]


# --- upserts ------------------------------------------------------------------------------------------------


def test_upsert_inserts_new_keys_and_updates_existing_ones(warehouse):
    assert warehouse.upsert("companies", [company("sec-1", "Apple"), company("sec-2", "Nvidia")]) == 2
    warehouse.upsert(
        "companies", [company("sec-2", "NVIDIA Corp", ticker="NVDA"), company("sec-3", "Disney")]
    )
    frame = warehouse.read("companies", order_by=["company_id"])
    assert list(frame["company_id"]) == ["sec-1", "sec-2", "sec-3"]
    assert list(frame["name"]) == ["Apple", "NVIDIA Corp", "Disney"]
    assert frame.set_index("company_id").loc["sec-2", "ticker"] == "NVDA"


def test_an_upsert_leaves_columns_it_does_not_name_alone(warehouse):
    warehouse.upsert("companies", [company("sec-1", "Apple", ticker="AAPL", sector="Technology")])
    row = {key: value for key, value in company("sec-1", "Apple Inc.").items()}
    warehouse.upsert("companies", [row])
    stored = warehouse.read("companies").iloc[0]
    assert (stored["name"], stored["ticker"], stored["sector"]) == ("Apple Inc.", "AAPL", "Technology")


def test_repeated_upserts_never_duplicate_a_natural_key(warehouse):
    rows = scores_for(companies=120, years=10)  # 1200 rows, several batches
    for _ in range(3):
        warehouse.upsert("risk_scores", rows, batch_size=500)
    assert warehouse.count("risk_scores") == 1200
    assert set(key_counts(warehouse, risk_scores)) == {1}


def test_rows_with_different_column_sets_are_written_in_one_call(warehouse):
    full = company("sec-1", "Apple", ticker="AAPL")
    partial = company("sec-2", "Nvidia")
    assert warehouse.upsert("companies", [full, partial]) == 2
    frame = warehouse.read("companies", order_by=["company_id"])
    assert list(frame["ticker"].map(lambda value: value or None)) == ["AAPL", None]


def test_an_unknown_column_is_refused_before_anything_is_written(warehouse):
    with pytest.raises(ValueError, match="unknown columns"):
        warehouse.upsert("companies", [company("sec-1", "Apple"), company("sec-2", "X", colour="red")])
    assert warehouse.count("companies") == 0


# --- replace: one partition at a time --------------------------------------------------------------------------


def test_replace_swaps_one_partition_and_leaves_the_others(warehouse):
    warehouse.upsert("risk_scores", scores_for(companies=5, years=4, version="1"))
    warehouse.upsert("risk_scores", scores_for(companies=5, years=4, version="2"))
    newer = scores_for(companies=3, years=2, version="1")
    warehouse.upsert("risk_scores", newer, replace={"model_version": "1", "kind": "period"})
    assert warehouse.count("risk_scores", where={"model_version": "1"}) == 6
    assert warehouse.count("risk_scores", where={"model_version": "2"}) == 20
    kept = warehouse.read("risk_scores", where={"model_version": "1"})
    assert set(kept["company_id"]) == {"c0000", "c0001", "c0002"}


def test_rows_inside_what_replace_deleted_are_inserted_others_upserted(warehouse):
    """A replaced partition's rows cannot meet a stored row: a plain INSERT (faster on SQLite). Rows outside the
    replace, a replace by a column that is not part of the key, or two rows with one key keep the upsert (the last
    row wins), as before."""
    warehouse.upsert("risk_scores", scores_for(companies=3, years=2))
    conflict = ("ON CONFLICT", "ON DUPLICATE KEY")

    def upserted(rows, replace) -> bool:
        (statement,) = set(
            sent(warehouse.engine, lambda: warehouse.upsert("risk_scores", rows, replace=replace), "INSERT")
        )
        return any(clause in statement for clause in conflict)

    fresh = scores_for(companies=2, years=3, version="1")
    assert not upserted(fresh, {"company_id": ["c0000", "c0001"]})
    assert warehouse.count("risk_scores") == 6 + 2  # c0000, c0001 three years each, c0002 two
    outside = scores_for(companies=3, years=1, version="1")  # c0002's row is outside the replace
    assert upserted(outside, {"company_id": ["c0000", "c0001"]})
    twice = [dict(row, pd=0.2) for row in fresh[:1]] + [dict(row, pd=0.3) for row in fresh[:1]]
    assert upserted(twice, {"company_id": "c0000"})
    assert warehouse.read("risk_scores", where={"company_id": "c0000"})["pd"].tolist() == [0.3]
    assert upserted(scores_for(companies=1, years=1, version="1"), {"model_name": "corporate_pd"})


def test_replace_with_no_rows_empties_the_partition(warehouse):
    warehouse.upsert("risk_scores", scores_for(companies=2, years=2, version="1"))
    warehouse.upsert("risk_scores", scores_for(companies=2, years=2, version="2"))
    assert warehouse.upsert("risk_scores", [], replace={"model_version": "1"}) == 0
    assert warehouse.count("risk_scores", where={"model_version": "1"}) == 0
    assert warehouse.count("risk_scores") == 4


def test_a_failing_batch_rolls_back_the_whole_write_and_the_replace(warehouse):
    """One transaction per write: a bad row in the last batch undoes the delete and the earlier batches."""
    before = scores_for(companies=10, years=3, version="1")
    warehouse.upsert("risk_scores", before)
    replacement = scores_for(companies=20, years=3, version="1")
    replacement[-1]["grade"] = None  # NOT NULL: the last batch fails on both backends
    with pytest.raises(sa.exc.IntegrityError):
        warehouse.upsert("risk_scores", replacement, replace={"model_version": "1"}, batch_size=10)
    stored = warehouse.read("risk_scores", order_by=["company_id", "as_of"])
    assert len(stored) == 30
    assert set(stored["company_id"]) == {f"c{c:04d}" for c in range(10)}


def test_writes_sharing_a_connection_commit_together(warehouse):
    with pytest.raises(RuntimeError), warehouse.transaction() as connection:
        warehouse.upsert("companies", [company("sec-1", "Apple")], connection=connection)
        warehouse.upsert("risk_scores", scores_for(companies=1, years=1), connection=connection)
        raise RuntimeError("the run failed after both writes")
    assert warehouse.count("companies") == 0
    assert warehouse.count("risk_scores") == 0


# --- update -----------------------------------------------------------------------------------------------------


def test_update_changes_the_named_columns_of_existing_rows_only(warehouse):
    rows = scores_for(companies=3, years=1)
    warehouse.upsert("risk_scores", rows)
    keys = {name: rows[0][name] for name in ("company_id", "as_of", "model_version", "kind")}
    missing = {**keys, "company_id": "no-such-company"}
    assert (
        warehouse.update("risk_scores", [{**keys, "alert_pending": True}, {**missing, "alert_pending": True}])
        == 2
    )
    stored = warehouse.read("risk_scores", order_by=["company_id"])
    assert len(stored) == 3
    assert list(stored["alert_pending"]) == [True, False, False]
    assert list(stored["pd"]) == [row["pd"] for row in rows]


def test_an_update_of_one_key_reads_that_row_not_the_table(warehouse):
    """A new filing's run updates one snapshot's percentile and clears one score's flag. MariaDB 10.11 reads
    ``(k1, k2, k3, k4) IN ((...))`` with a single row value in an UPDATE by a scan of the whole primary key (18 s
    for one percentile at 100,000 companies), so one key is written as equalities."""
    rows = scores_for(companies=300, years=2)
    warehouse.upsert("risk_scores", rows)
    key = ("company_id", "as_of", "model_version", "kind")
    one = [{**{name: rows[123][name] for name in key}, "alert_pending": True}]

    def rows_read(conn) -> int:
        names = ", ".join(
            f"'Handler_read_{n}'" for n in ("first", "key", "last", "next", "prev", "rnd", "rnd_next")
        )
        status = conn.exec_driver_sql(f"SHOW SESSION STATUS WHERE Variable_name IN ({names})").all()
        return sum(int(value) for _, value in status)

    with warehouse.transaction() as conn:
        if warehouse.dialect != "sqlite":
            baseline = rows_read(conn)
            overhead = rows_read(conn) - baseline  # what reading the status itself counts
            before = rows_read(conn)
        assert warehouse.update("risk_scores", one, connection=conn) == 1
        if warehouse.dialect != "sqlite":
            assert rows_read(conn) - before - overhead < 10  # the key's row, not the table's 600
    stored = warehouse.read("risk_scores", order_by=["company_id", "as_of"])
    assert stored["alert_pending"].map(bool).tolist() == [False] * 123 + [True] + [False] * 476


def test_an_update_setting_the_same_values_everywhere_is_a_statement_per_thousand_keys(warehouse):
    """An alerts pass clears the flags of the scores it compared: through PyMySQL one UPDATE per 249 keys of four
    columns, under the 1,000 values from which MariaDB reads an IN list by a full scan (PyMySQL would send a
    statement per row), each statement a range of the primary key; rows given different values are each set to
    their own."""
    rows = scores_for(companies=1250, years=2)
    warehouse.upsert("risk_scores", rows)
    key = ("company_id", "as_of", "model_version", "kind")
    cleared = [{**{name: row[name] for name in key}, "alert_pending": True} for row in rows[:2100]]
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE"):
            statements.append(executemany)

    sa.event.listen(warehouse.engine, "before_cursor_execute", record)
    try:
        assert warehouse.update("risk_scores", cleared) == 2100
    finally:
        sa.event.remove(warehouse.engine, "before_cursor_execute", record)
    if warehouse.engine.dialect.driver != "pymysql":
        # executemany, a batch of 2,000 rows at a time: in process (SQLite), one bulk execution (the connector)
        assert statements == [True, True]
    else:
        assert statements == [False] * 9  # ceil(2,100 / 249)
        keys = ", ".join(f"('{row['company_id']}', '{row['as_of']}', '1', 'period')" for row in rows[:249])
        with warehouse.engine.connect() as conn:
            plan = (
                conn.exec_driver_sql(
                    "EXPLAIN UPDATE risk_scores SET alert_pending = 1 "
                    f"WHERE (company_id, as_of, model_version, kind) IN ({keys})"
                )
                .mappings()
                .one()
            )
        assert (plan["type"], plan["key"]) == ("range", "PRIMARY")
    stored = warehouse.read("risk_scores", order_by=["company_id", "as_of"])
    assert stored["alert_pending"].map(bool).tolist() == [True] * 2100 + [False] * 400

    moved = [{**{name: row[name] for name in key}, "percentile": float(n)} for n, row in enumerate(rows[:3])]
    warehouse.update("risk_scores", moved)
    stored = warehouse.read("risk_scores", order_by=["company_id", "as_of"])
    assert stored["percentile"].tolist()[:3] == [0.0, 1.0, 2.0]
    assert stored["percentile"].iloc[3:].isna().all()


# --- values read back as written --------------------------------------------------------------------------------


def test_values_read_back_with_their_types(warehouse):
    big_json = json.dumps({f"Attr{i}": {"value": i / 7, "note": "x" * 40} for i in range(2000)})
    assert len(big_json) > 65_535  # beyond TEXT on MySQL: needs MEDIUMTEXT
    row = score(
        "sec-1",
        dt.date(2024, 2, 29),
        pd_value=0.1 + 0.2,
        percentile=float("nan"),
        in_default=True,
        out_of_domain=np.bool_(False),
        drivers=big_json,
        log_odds=-1.2345678901234567e-300,
        domain_note="삼성전자 · 🏦 outside the training domain",
        scored_at=NOW,
    )
    warehouse.upsert("risk_scores", [row])
    warehouse.upsert("companies", [company("dart-00126380", "삼성전자 🏭", updated_at=NOW)])
    stored = warehouse.read("risk_scores").iloc[0]
    assert stored["as_of"] == dt.date(2024, 2, 29)
    assert stored["period_end"] == dt.date(2023, 12, 31)
    assert stored["scored_at"] == NOW  # microseconds kept (DATETIME(6) on MySQL)
    assert stored["pd"] == 0.1 + 0.2  # DOUBLE: every bit of the float
    assert stored["log_odds"] == -1.2345678901234567e-300
    assert stored["percentile"] is None or math.isnan(stored["percentile"])  # NaN is stored as NULL
    assert stored["in_default"] is True or stored["in_default"] == np.True_
    assert bool(stored["out_of_domain"]) is False
    assert json.loads(stored["drivers"]) == json.loads(big_json)
    assert stored["domain_note"] == "삼성전자 · 🏦 outside the training domain"
    assert warehouse.read("companies").iloc[0]["name"] == "삼성전자 🏭"


def test_a_dataframe_with_pandas_types_is_written_like_plain_rows(warehouse):
    rows = scores_for(companies=4, years=2)
    frame = pd.DataFrame(rows)
    frame["as_of"] = pd.to_datetime(frame["as_of"])  # Timestamp in a DATE column
    frame["scored_at"] = pd.Timestamp(NOW)
    frame["in_default"] = np.array([True, False] * 4)
    frame.loc[0, "percentile"] = np.nan
    frame.loc[1, "percentile"] = np.float64(12.5)
    frame["fiscal_year"] = frame["fiscal_year"].astype("int64")
    warehouse.upsert("risk_scores", frame)
    stored = warehouse.read("risk_scores", order_by=["company_id", "as_of"])
    assert list(stored["as_of"]) == [row["as_of"] for row in rows]
    assert list(stored["in_default"].map(bool)) == [True, False] * 4
    assert stored.loc[1, "percentile"] == 12.5
    assert list(stored["scored_at"]) == [NOW] * 8
    assert list(stored["fiscal_year"]) == [row["fiscal_year"] for row in rows]


def test_a_read_in_chunks_is_the_read_in_one_piece(warehouse, monkeypatch):
    """query() fetches FETCH_ROWS rows at a time; a column whose chunks differ (a float column NULL throughout one
    chunk, text in one chunk only) is typed over all of
    them, as one piece would be."""
    rows = scores_for(companies=3, years=4)  # 12 rows, read 5 at a time: chunks of 5, 5 and 2
    for i, row in enumerate(rows):
        row["percentile"] = None if i < 5 else (50.0 if i < 10 else 12.5)  # NULL throughout the first chunk
        row["segment"] = None if i >= 5 else "listed"  # text only in the first chunk
    warehouse.upsert("risk_scores", rows)
    whole = warehouse.read("risk_scores", order_by=["company_id", "as_of"])
    monkeypatch.setattr(warehouse_module, "FETCH_ROWS", 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' concat of an all-NULL chunk warns it will type it otherwise
        chunked = warehouse.read("risk_scores", order_by=["company_id", "as_of"])
    assert whole["percentile"].dtype == np.float64  # NULLs and numbers: a float column
    pd.testing.assert_frame_equal(chunked, whole)
    assert chunked["percentile"].isna().sum() == 5 and chunked["percentile"].iloc[-1] == 12.5
    assert list(chunked["segment"].iloc[:5]) == ["listed"] * 5 and chunked["segment"].iloc[5:].isna().all()


def test_a_read_of_a_long_list_of_keys_types_its_columns_over_every_list(warehouse):
    """read() with more keys than one IN list takes (stale.CHUNK) reads a list at a time; a column NULL throughout
    one list's rows is typed by all of them."""
    rows = scores_for(companies=1200, years=1)
    for i, row in enumerate(rows):
        row["percentile"] = None if i < 1000 else 12.5
    warehouse.upsert("risk_scores", rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read = warehouse.read("risk_scores", where={"company_id": [row["company_id"] for row in rows]})
    assert read["percentile"].dtype == np.float64
    assert read["percentile"].isna().sum() == 1000 and (read["percentile"].dropna() == 12.5).all()


# --- planner statistics -----------------------------------------------------------------------------------------


def _plans(warehouse: Warehouse, statement: sa.Select, connections: int = 2) -> list[str]:
    """SQLite's plan of ``statement`` on each of ``connections`` pooled connections held at once."""
    compiled = statement.compile(dialect=warehouse.engine.dialect, compile_kwargs={"literal_binds": True})
    held = [warehouse.engine.connect() for _ in range(connections)]
    try:
        return [
            " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
            for conn in held
        ]
    finally:
        for conn in held:
            conn.close()


def test_refreshed_statistics_make_sqlite_find_a_batch_of_companies_by_key(warehouse):
    """Without statistics SQLite reads a batch's period scores through an index led by ``kind`` ((kind,
    alert_pending) or (kind, as_of, ...)): every period row of the market for each batch. Refreshed, it reads them
    through the key, also on the pooled connection that planned the query before (SQLite connections keep the
    statistics they loaded)."""
    if warehouse.dialect != "sqlite":
        pytest.skip("InnoDB keeps its own statistics")
    warehouse.upsert("risk_scores", scores_for(companies=300, years=5))
    batch = [f"c{c:04d}" for c in range(10)]
    statement = sa.select(risk_scores.c.company_id, risk_scores.c.pd).where(
        risk_scores.c.company_id.in_(batch), risk_scores.c.kind == "period"
    )
    # the trap, as SQLite plans it without statistics (on two pooled connections)
    for plan in _plans(warehouse, statement):
        assert "(kind=?)" in plan and "company_id=?" not in plan, plan
    warehouse.refresh_statistics("risk_scores")
    for plan in _plans(warehouse, statement):
        assert "sqlite_autoindex_risk_scores_1 (company_id=?)" in plan, plan
    assert len(warehouse.query(statement)) == 50


def test_refreshing_statistics_on_mysql_changes_nothing(warehouse):
    if warehouse.dialect == "sqlite":
        pytest.skip("SQLite's statistics are the other test's")
    warehouse.upsert("risk_scores", scores_for(companies=3, years=2))
    warehouse.refresh_statistics("risk_scores")
    assert len(warehouse.read("risk_scores")) == 6


def test_distinct_values_of_a_leading_key_column_are_read_from_its_narrowest_index(warehouse: Warehouse):
    """The companies of a table come from a secondary index that starts with company_id where the server would
    otherwise skip through the primary key, a page of rows per company (features: ix_features_filed)."""
    rows = [
        {
            "company_id": f"c{c:03d}",
            "period_end": dt.date(2010 + year, 12, 31),
            "accession": f"a{c}-{year}",
            "fiscal_year": 2010 + year,
            "filed_at": dt.date(2011 + year, 3, 1),
            "currency": "USD",
            "computed_at": NOW,
        }
        for c in range(40)
        for year in range(3)
    ]
    warehouse.upsert("features", rows)
    (statement,) = sent(warehouse.engine, lambda: warehouse.distinct("features", "company_id"), "SELECT")
    assert warehouse.distinct("features", "company_id") == [f"c{c:03d}" for c in range(40)]
    if warehouse.dialect == "sqlite":
        assert "FORCE INDEX" not in statement
        return
    assert "FORCE INDEX (ix_features_filed)" in statement
    with warehouse.engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN {statement}").mappings().one()
    assert plan["key"] == "ix_features_filed"
    # a condition, or a column no index starts with: the server's own plan
    assert "FORCE INDEX" not in "".join(
        sent(warehouse.engine, lambda: warehouse.distinct("features", "company_id", {"currency": "USD"}))
    )


def test_a_list_of_companies_is_read_through_the_primary_key(warehouse: Warehouse):
    """A batch's rows are read by key whatever InnoDB's statistics say: while a bulk run fills a table its sampled
    count of companies lags the live row count, and MariaDB read 1,000 companies' market features by a scan of
    the whole table (stale.through_primary_key)."""
    rows = [
        {
            "company_id": f"c{c:04d}",
            "period_end": dt.date(2010 + year, 12, 31),
            "accession": f"a{c}-{year}",
            "filed_at": dt.date(2011 + year, 3, 1),
            "computed_at": NOW,
        }
        for c in range(1200)
        for year in range(2)
    ]
    warehouse.upsert("market_features", rows)
    batch = [f"c{c:04d}" for c in range(100, 1100)]  # 1,000: MariaDB makes the list a subquery
    statements = sent(
        warehouse.engine, lambda: warehouse.read("market_features", where={"company_id": batch})
    )
    read = warehouse.read("market_features", where={"company_id": batch})
    assert sorted(set(read["company_id"])) == batch and len(read) == 2000
    reads = [s for s in statements if "FROM market_features" in s]
    assert len(reads) == 2  # lists of stale.CHUNK companies
    if warehouse.dialect == "sqlite":
        assert not any("FORCE INDEX" in statement for statement in reads)
        return
    assert all("FROM market_features FORCE INDEX (PRIMARY)" in statement for statement in reads)
    plans = sent(
        warehouse.engine, lambda: warehouse.read("market_features", where={"company_id": batch}), plans=True
    )
    assert plans == ["range PRIMARY", "range PRIMARY"]
    # an UPDATE of some companies' rows takes the same hint
    table = warehouse_module.TABLES["market_features"]
    update = stale.through_primary_key(
        sa.update(table).where(table.c.company_id.in_(batch)).values(close=1.0), table
    )
    assert "UPDATE market_features FORCE INDEX (PRIMARY) SET" in str(
        update.compile(dialect=warehouse.engine.dialect)
    )
