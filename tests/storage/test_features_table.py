"""The features table's typed columns on both backends: what build_features writes reads back value for value
(floats exactly, dates as dates, null flags as null), the API's queries serve the same documents, and migration
0005 replaces the JSON table (derived data: dropped, re-derived by the next run) and back."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from risk_assets.core.feature_table import FEATURE_COLUMN_NAMES, FEATURE_COLUMNS, feature_document
from risk_assets.derive.features import ROW_COLUMNS, build_features
from risk_assets.storage import migrations, queries
from risk_assets.storage.warehouse import Warehouse, utc_now
from tests.test_build_features import synthetic_panel

KEY = ["company_id", "period_end", "accession"]


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.assign(period_end=pd.to_datetime(frame["period_end"]).dt.date)
    return out.sort_values(KEY).reset_index(drop=True)


def test_feature_rows_read_back_as_written(warehouse: Warehouse) -> None:
    built = build_features(**synthetic_panel(5, n_companies=10))
    assert built["non_clean_audit_opinion"].isna().any() and built["latest_signal_date"].notna().any()
    warehouse.upsert("features", built.assign(computed_at=utc_now()))
    stored = _by_key(warehouse.read("features"))
    built = _by_key(built)
    assert len(stored) == len(built)
    numbers = [column.name for column in FEATURE_COLUMNS if column.kind in ("float", "int")]
    pd.testing.assert_frame_equal(  # exactly: DOUBLE keeps every bit of a float
        stored[numbers].apply(pd.to_numeric).astype(float), built[numbers].astype(float), check_exact=True
    )
    for got, want in zip(stored.to_dict("records"), built.to_dict("records"), strict=True):
        assert feature_document(got) == feature_document(want), [got[k] for k in KEY]
        assert isinstance(got["market_price_date"] or dt.date.min, dt.date)
        for name in ROW_COLUMNS:
            assert str(got[name]) == str(want[name]), name

    # The API's reads serve the documents the table used to hold as JSON, newest period first.
    company = built["company_id"].iloc[0]
    rows, total = queries.features_for(warehouse, company, limit=500)
    mine = built[built["company_id"] == company]
    assert total == len(mine) == len(rows)
    wanted = {(str(r["period_end"]), r["accession"]): feature_document(r) for r in mine.to_dict("records")}
    for row in rows:
        documents = wanted[(str(row["period_end"]), row["accession"])]
        assert {k: row[k] for k in ("ratios", "classic", "market", "macro", "warnings")} == documents
        assert row["merton_dd"] == documents["classic"]["merton_dd"]["value"]
    assert [r["period_end"] for r in rows] == sorted((r["period_end"] for r in rows), reverse=True)


def test_migration_0005_replaces_the_json_table_and_back(warehouse: Warehouse) -> None:
    def columns() -> set[str]:
        return {c["name"] for c in sa.inspect(warehouse.engine).get_columns("features")}

    assert {"Attr1", "altman_z_reason", "market_symbol", "macro_gdp_growth_observed"} <= columns()
    migrations.downgrade(warehouse, "0004")
    assert {"ratios", "classic", "market", "macro", "warnings"} <= columns() and "Attr1" not in columns()
    old_row = {
        "company_id": "c1",
        "period_end": dt.date(2020, 12, 31),
        "accession": "a1",
        "fiscal_year": 2020,
        "filed_at": dt.date(2021, 2, 1),
        "currency": "USD",
        "ratios": "{}",
        "classic": "{}",
        "computed_at": dt.datetime(2021, 2, 2),
    }
    with warehouse.transaction() as conn:
        conn.execute(sa.table("features", *[sa.column(name) for name in old_row]).insert(), [old_row])
    migrations.upgrade(warehouse)
    assert migrations.current_revision(warehouse) == migrations.head_revision()
    assert "ratios" not in columns() and set(FEATURE_COLUMN_NAMES) <= columns()
    # derived rows are not carried over: the features asset finds the table empty and re-derives every company
    assert warehouse.count("features") == 0
