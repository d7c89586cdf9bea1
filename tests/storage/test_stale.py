"""Writes mark the companies whose rows they changed stale for the derived assets, in the same transaction, and a
consumer clears only the marks it read (storage/stale.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_assets.storage.stale import FEEDS, KEY_LIST_VALUES, key_chunks, mark
from risk_assets.storage.warehouse import Warehouse
from tests.support.sql import sent

LOADED = dt.datetime(2026, 1, 1, 12, 0)


def _event(company: str, day: int, kind: str = "bankruptcy", loaded: dt.datetime = LOADED) -> dict:
    return {
        "company_id": company,
        "event_date": dt.date(2020, 1, day),
        "kind": kind,
        "source": "test",
        "reference": f"ref-{company}-{day}",
        "loaded_at": loaded,
    }


def _marked(warehouse: Warehouse, consumer: str) -> set[str]:
    return set(warehouse.stale_marks(consumer)["company_id"])


def test_a_write_marks_the_companies_it_changed_for_each_consumer_of_the_table(warehouse: Warehouse) -> None:
    warehouse.upsert("default_events", [_event("a", 1), _event("b", 1)])
    assert FEEDS["default_events"] == ("risk_scores",)
    assert _marked(warehouse, "risk_scores") == {"a", "b"}
    assert _marked(warehouse, "features") == set()  # not a consumer of events


def test_a_rewrite_changing_only_load_times_marks_nothing_and_a_changed_value_marks_its_company(
    warehouse: Warehouse,
) -> None:
    warehouse.upsert("default_events", [_event("a", 1), _event("b", 1)])
    with warehouse.transaction() as conn:
        warehouse.clear_stale(conn, "risk_scores", warehouse.stale_marks("risk_scores"))
    later = LOADED + dt.timedelta(days=3)
    warehouse.upsert("default_events", [_event("a", 1, loaded=later), _event("b", 1, loaded=later)])
    assert _marked(warehouse, "risk_scores") == set()
    changed = _event("b", 1, loaded=later) | {"source": "corrected"}
    warehouse.upsert("default_events", [_event("a", 1, loaded=later), changed])
    assert _marked(warehouse, "risk_scores") == {"b"}


def test_replace_marks_a_company_whose_rows_it_deletes(warehouse: Warehouse) -> None:
    warehouse.upsert("default_events", [_event("a", 1), _event("a", 2), _event("b", 1)])
    with warehouse.transaction() as conn:
        warehouse.clear_stale(conn, "risk_scores", warehouse.stale_marks("risk_scores"))
    # a's rows written again without its second event: a changed; b untouched
    warehouse.upsert("default_events", [_event("a", 1)], replace={"company_id": ["a", "b"]})
    assert _marked(warehouse, "risk_scores") == {"a", "b"}  # b's row was deleted by the replace
    assert set(warehouse.read("default_events")["company_id"]) == {"a"}


def test_a_mark_made_after_the_consumer_read_survives_its_clear(warehouse: Warehouse) -> None:
    warehouse.upsert("default_events", [_event("a", 1)])
    read = warehouse.stale_marks("risk_scores")
    warehouse.upsert("default_events", [_event("a", 2)])  # a changes again while the consumer works
    with warehouse.transaction() as conn:
        assert warehouse.clear_stale(conn, "risk_scores", read) == 0
    assert _marked(warehouse, "risk_scores") == {"a"}
    with warehouse.transaction() as conn:
        assert warehouse.clear_stale(conn, "risk_scores", warehouse.stale_marks("risk_scores")) == 1
    assert _marked(warehouse, "risk_scores") == set()


def test_a_failed_write_leaves_neither_rows_nor_marks(warehouse: Warehouse) -> None:
    bad = _event("a", 1) | {"source": None}  # NOT NULL
    with pytest.raises(Exception):  # noqa: B017 - the driver's integrity error, whichever backend
        warehouse.upsert("default_events", [_event("z", 1), bad])
    assert warehouse.read("default_events").empty
    assert _marked(warehouse, "risk_scores") == set()


def test_untracked_write_marks_nothing_and_lists_are_read_and_replaced_in_chunks(
    warehouse: Warehouse,
) -> None:
    companies = [f"c{i:05d}" for i in range(2500)]  # more than one IN list
    warehouse.upsert("default_events", [_event(c, 1) for c in companies], track_changes=False)
    assert _marked(warehouse, "risk_scores") == set()
    read = warehouse.read("default_events", where={"company_id": companies[:2400]}, order_by=["company_id"])
    assert read["company_id"].tolist() == companies[:2400]
    warehouse.upsert("default_events", pd.DataFrame(), replace={"company_id": companies[:2400]})
    assert warehouse.distinct("default_events", "company_id") == companies[2400:]
    assert len(warehouse.stale_marks("risk_scores")) == 2400  # the deleted companies changed
    with pytest.raises(ValueError, match="one column"):
        warehouse.read("default_events", where={"company_id": ["a"], "kind": ["x"]})


def test_a_whole_market_of_marks_is_stored_past_the_server_packet_limit(warehouse: Warehouse) -> None:
    """An import marks every company for each consumer in one transaction: 70,000 companies by four consumers are
    ~21 MB of rows, over MariaDB's 16 MB max_allowed_packet if sent as one bulk execution."""
    companies = [f"market-{i:06d}" for i in range(70_000)]
    consumers = ["features", "market_features", "default_events", "warning_signals"]
    with warehouse.transaction() as conn:
        assert mark(conn, consumers, companies, LOADED) == len(companies)
    for consumer in consumers:
        assert len(warehouse.stale_marks(consumer)) == len(companies), consumer


def test_marks_are_replaced_and_cleared_by_key_in_lists_mariadb_reads_by_key(warehouse: Warehouse) -> None:
    """Marks are replaced and cleared by lists of single values (consumers, companies, tokens) of under 1,000
    each: on MariaDB a range of the primary key (from 1,000 values on it reads a list against a full scan), on
    SQLite a search of it (SQLite scans the whole table for a list of pairs: 0.17 s a batch at 100,000
    companies)."""
    parts = list(key_chunks([(str(i), "t") for i in range(2400)], 2))
    assert [len(part) for part in parts] == [499] * 4 + [404]
    assert max(len(part) for part in key_chunks([("a", "b", "c")] * 1000, 3)) * 3 <= KEY_LIST_VALUES
    companies = [f"c{i:05d}" for i in range(20000)]
    warehouse.upsert("default_events", [_event(c, 1) for c in companies])
    marks = warehouse.stale_marks("risk_scores")
    assert len(marks) == 20000
    by_key = "range PRIMARY" if warehouse.dialect != "sqlite" else "(consumer=? AND company_id=?)"

    def mark_again() -> None:
        with warehouse.transaction() as conn:
            warehouse.mark_stale(conn, ["risk_scores", "features"], companies[:2400])

    planned = sent(warehouse.engine, mark_again, "DELETE", plans=True)
    assert len(planned) == 3 and all(by_key in plan for plan in planned), planned
    remarked = warehouse.stale_marks("risk_scores")
    assert len(remarked) == 20000 and set(remarked["token"]) & set(marks["token"]) == set(
        marks["token"].iloc[2400:]
    )  # the first 2,400 replaced with new tokens, the others kept

    def clear() -> None:
        with warehouse.transaction() as conn:
            assert warehouse.clear_stale(conn, "risk_scores", marks) == 17600  # the replaced ones stay

    planned = sent(warehouse.engine, clear, "DELETE", plans=True)
    assert len(planned) == 41 and all(by_key in plan for plan in planned), planned  # lists of 499 pairs
    assert set(_marked(warehouse, "risk_scores")) == set(companies[:2400])
    assert _marked(warehouse, "features") == set(companies[:2400])


def _statements(companies: list[str], revenue: float = 1.5e9) -> pd.DataFrame:
    """Two annual statement versions per company, as the statements asset's frames carry them."""
    rows = [
        {
            "company_id": company,
            "period_end": pd.Timestamp(year, 12, 31),
            "accession": f"{company}-{year}",
            "fiscal_year": year,
            "filed_at": pd.Timestamp(year + 1, 2, 20),
            "currency": "USD",
            "source": "sec",
            "derived_items": "",
            "period_type": "FY",
            "fiscal_period": "FY",
            "revenue": revenue * (year - 2019),
            "total_assets": np.float64(2.25e9),
            "net_income": np.nan,
        }
        for company in companies
        for year in (2020, 2021)
    ]
    return pd.DataFrame(rows)


def test_the_same_statements_in_other_python_forms_change_nothing_and_one_new_value_marks_its_company(
    warehouse: Warehouse,
) -> None:
    """The comparison is of what the driver stores: Timestamps or dates, numpy or Python floats, NaN or None, a
    frame or mappings are the same rows; one changed amount marks its company alone."""
    frame = _statements(["a", "b", "c"])
    warehouse.upsert("statements", frame)
    assert _marked(warehouse, "features") == _marked(warehouse, "market_features") == {"a", "b", "c"}
    with warehouse.transaction() as conn:
        for consumer in FEEDS["statements"]:
            warehouse.clear_stale(conn, consumer, warehouse.stale_marks(consumer))
    again = frame.assign(
        period_end=frame["period_end"].dt.date,
        filed_at=frame["filed_at"].dt.date.astype(str),
        net_income=None,
    )
    warehouse.upsert("statements", again.to_dict("records"))
    assert _marked(warehouse, "features") == _marked(warehouse, "market_features") == set()
    changed = again.copy()
    changed.loc[changed["accession"] == "b-2021", "revenue"] = 3.0e9 + 1.0
    warehouse.upsert("statements", changed, replace={"company_id": ["a", "b", "c"]})
    assert _marked(warehouse, "features") == _marked(warehouse, "market_features") == {"b"}
