"""The warehouse's bulk writes store exactly what SQLAlchemy's own parameter processing stores.

`Warehouse.upsert` and `update` convert a frame a column at a time and hand the driver positional rows (the
per-row processing cost more than the database on wide tables, issue 11). These tests write the same awkward
values both ways and compare what the database holds, as the driver reads it back (on SQLite that is the
stored text of dates and times, which later comparisons in SQL depend on).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_assets.storage import warehouse as warehouse_module
from risk_assets.storage.schema import TABLES
from risk_assets.storage.warehouse import Warehouse, _to_db_value

ROWS = 11


def _values(column: sa.Column, rows: int) -> list:
    """Awkward values of a column's type: what the product's frames carry (numpy scalars, Timestamps, NaN)."""
    kind = column.type
    nullable = column.nullable and not column.primary_key
    if isinstance(kind, sa.DateTime):
        out = [pd.Timestamp(2024, 3, 1, 12, 30, 15, 250000), dt.datetime(2023, 1, 2, 3, 4, 5), None]
    elif isinstance(kind, sa.Date):
        out = [dt.date(2021, 12, 31), pd.Timestamp("2022-06-30"), "2023-09-30T00:00:00", None]
    elif isinstance(kind, sa.Boolean):
        out = [np.True_, False, True, None]
    elif isinstance(kind, sa.Float):
        out = [0.125, np.float64(1e-17), np.nan, -3.5, 12345678.901234567, 1e16, 1.0, -0.0, 5e-324, 0.1 + 0.2]
    elif isinstance(kind, sa.Integer):
        out = [np.int64(2021), 7, None]
    else:
        length = getattr(kind, "length", None) or 50
        # text a literal must escape: quotes, a backslash, '%' and a placeholder-like '%(x)s', Korean
        out = [np.str_("a"), "\u00e9", None, "x" * min(length, 30), "it's 50% \\ %(x)s", '삼성전자 "quoted"']
        # what a load's text must escape: its separators, its escape character, its NULL, and the empty string
        out += ["tab\there\nline\rend", "\\N", "", "\\"]
        out = [value if value is None else value[:length] for value in out]
    if not nullable:
        out = [
            value for value in out if value is not None and not (isinstance(value, float) and np.isnan(value))
        ]
    if column.primary_key:  # unique keys: one value per row
        if isinstance(kind, sa.Date):
            return [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(rows)]
        if isinstance(kind, sa.Integer):
            return list(range(rows))
        return [f"k{i:02d}" for i in range(rows)]
    return [out[i % len(out)] for i in range(rows)]


def _frame(table: sa.Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(_values(c, ROWS), dtype=object) for c in table.columns})


def _typed(frame: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """The frame with the dtypes pandas gives real data: floats as float64, whole numbers as Int64."""
    out = frame.copy()
    for column in table.columns:
        if isinstance(column.type, sa.Float):
            out[column.name] = out[column.name].astype(float)
        elif isinstance(column.type, sa.Integer) and not column.primary_key:
            out[column.name] = out[column.name].astype("Int64")
    return out


def _stored(warehouse: Warehouse, table: sa.Table) -> list[tuple]:
    keys = ", ".join(c.name for c in table.primary_key.columns)
    with warehouse.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY {keys}")]


def _sqlalchemy_insert(warehouse: Warehouse, table: sa.Table, frame: pd.DataFrame) -> None:
    """The reference: SQLAlchemy's executemany with its own per-row parameter processing."""
    columns = {c.name: c for c in table.columns}
    records = [
        {name: _to_db_value(value, columns[name]) for name, value in row.items()}
        for row in frame.to_dict("records")
    ]
    with warehouse.transaction() as conn:
        conn.execute(sa.delete(table))
        conn.execute(sa.insert(table), records)


@pytest.mark.parametrize(
    "table_name", ["risk_scores", "features", "statements", "market_features", "companies"]
)
@pytest.mark.parametrize("typed", [False, True], ids=["objects", "typed"])
@pytest.mark.parametrize("as_mappings", [False, True], ids=["frame", "mappings"])
# 4: the rows go in three batches, each converted on its own (float columns are held as numbers until then)
@pytest.mark.parametrize("batch_size", [2000, 4], ids=["one_batch", "batches_of_4"])
# fresh: a replace of the whole table, so the rows are a plain INSERT; upsert: whole rows over their keys (on
# MariaDB Connector/Python both are local loads, whatever the row count here, the upsert's a REPLACE);
# upsert_executed: the same upsert never loaded (the connector's bulk execution)
@pytest.mark.parametrize("write", ["upsert", "upsert_executed", "fresh"])
def test_a_bulk_write_stores_what_sqlalchemy_stores(
    warehouse: Warehouse,
    table_name: str,
    typed: bool,
    as_mappings: bool,
    batch_size: int,
    write: str,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(warehouse_module, "LOAD_DATA_ROWS", 10**9 if write == "upsert_executed" else 1)
    replace = {} if write == "fresh" else None
    table = TABLES[table_name]
    frame = _frame(table)
    if typed:
        frame = _typed(frame, table)
    rows = frame.to_dict("records") if as_mappings else frame
    _sqlalchemy_insert(warehouse, table, frame)
    reference = _stored(warehouse, table)
    with warehouse.transaction() as conn:
        conn.execute(sa.delete(table))
    written = warehouse.upsert(table_name, rows, track_changes=False, batch_size=batch_size, replace=replace)
    assert written == ROWS
    assert _stored(warehouse, table) == reference
    # written again over itself (the update branch of the upsert, or a replace): nothing changes
    warehouse.upsert(table_name, rows, track_changes=False, batch_size=batch_size, replace=replace)
    assert _stored(warehouse, table) == reference


def test_mappings_of_different_columns_are_written_in_groups(warehouse: Warehouse):
    now = dt.datetime(2024, 5, 6, 7, 8, 9)
    rows = [
        {"company_id": "c1", "name": "One", "country": "US", "source": "test", "updated_at": now},
        {
            "company_id": "c2",
            "name": "Two",
            "country": "KR",
            "source": "test",
            "updated_at": now,
            "sic": "3571",
        },
    ]
    assert warehouse.upsert("companies", rows, track_changes=False) == 2
    stored = warehouse.read("companies", order_by=["company_id"])
    assert stored["name"].tolist() == ["One", "Two"]
    assert stored["sic"].tolist() == [None, "3571"]
    assert stored["is_financial"].astype(bool).tolist() == [False, False]  # the column's Python default


def test_a_left_out_column_keeps_its_stored_value_and_defaults_only_new_rows(warehouse: Warehouse):
    """An upsert without alert_pending inserts the column's default but never resets a stored row's flag."""
    frame = _typed(_frame(TABLES["risk_scores"]), TABLES["risk_scores"]).drop(columns=["alert_pending"])
    default = TABLES["risk_scores"].c.alert_pending.default.arg
    warehouse.upsert("risk_scores", frame, track_changes=False)
    keys = frame[["company_id", "as_of", "model_version", "kind"]]
    assert (warehouse.read("risk_scores")["alert_pending"].astype(bool) == default).all()
    warehouse.update("risk_scores", keys.iloc[:3].assign(alert_pending=not default))
    warehouse.upsert("risk_scores", frame, track_changes=False)
    pending = warehouse.read("risk_scores", order_by=["company_id"])["alert_pending"].astype(bool)
    assert pending.tolist() == [not default] * 3 + [default] * (ROWS - 3)


def test_an_update_without_a_key_column_or_an_upsert_without_a_required_one_is_refused(warehouse: Warehouse):
    with pytest.raises(
        ValueError, match=r"an update needs the key columns, \['as_of', 'model_version', 'kind'\] missing"
    ):
        warehouse.update("risk_scores", pd.DataFrame({"company_id": ["c"], "percentile": [1.0]}))
    with pytest.raises(ValueError, match=r"an upsert needs the key columns, \['kind'\] missing"):
        warehouse.upsert("default_events", [{"company_id": "c", "event_date": dt.date(2020, 1, 1)}])


def _sqlalchemy_read(warehouse: Warehouse, statement: sa.Select) -> pd.DataFrame:
    """The reference read: SQLAlchemy's own Rows, their result processing per row, into a frame."""
    with warehouse.engine.connect() as conn:
        result = conn.execute(statement)
        return pd.DataFrame([tuple(r) for r in result.fetchall()], columns=list(result.keys()))


@pytest.mark.parametrize(
    "table_name", ["risk_scores", "features", "statements", "market_features", "companies"]
)
@pytest.mark.parametrize("nulls", [True, False], ids=["with_nulls", "without_nulls"])
def test_a_read_gives_the_values_and_dtypes_sqlalchemy_gives(
    warehouse: Warehouse, table_name: str, nulls: bool
):
    table = TABLES[table_name]
    frame = _typed(_frame(table), table)
    if (
        not nulls
    ):  # every value given: flags read as bool, times as datetime64, as the frame constructor infers
        frame = frame.apply(lambda column: column.ffill().bfill() if column.isna().any() else column)
    warehouse.upsert(table_name, frame, track_changes=False)
    keys = [c for c in table.primary_key.columns]
    for statement in (
        sa.select(table).order_by(*keys),
        sa.select(*[c for c in table.columns if not c.primary_key][:5], *keys).order_by(*keys),
        sa.select(table).where(sa.false()),
    ):
        pd.testing.assert_frame_equal(warehouse.query(statement), _sqlalchemy_read(warehouse, statement))
    read = warehouse.read(table_name, order_by=[c.name for c in keys])
    pd.testing.assert_frame_equal(read, _sqlalchemy_read(warehouse, sa.select(table).order_by(*keys)))
    assert len(read) == ROWS
    flags = [c.name for c in table.columns if isinstance(c.type, sa.Boolean)]
    if not nulls:
        assert all(read[name].dtype == bool for name in flags)
