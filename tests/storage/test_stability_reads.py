"""The population-stability check's reads of today's snapshots: the companies and segments from the ranking index
alone, then each snapshot's model PD and feature values by key, a list of companies at a time, so that a market's
snapshot rows are each read once."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_assets.defs.scoring import checks
from risk_assets.storage import stale
from risk_assets.storage.warehouse import Warehouse
from tests.storage.test_warehouse import score
from tests.support.sql import sent

TODAY = dt.date(2026, 12, 7)
VALUES = {
    "c1": ('{"a": 1.0, "b": null}', 0.01),
    "c2": ('{"a": 2.5, "b": 3.0}', 0.2),
    "c3": ('{"b": 4.0}', 0.05),
}


def seeded(store: Warehouse) -> None:
    store.upsert(
        "risk_scores",
        [
            score(c, TODAY, kind="current", pd_value=pd_, feature_values=text, segment="sme", status="scored")
            for c, (text, pd_) in VALUES.items()
        ]
        # yesterday's snapshot and today's filing score of c1: neither is the newest day's snapshot
        + [
            score(
                "c1", TODAY - dt.timedelta(days=1), kind="current", feature_values='{"a": 9.0}', segment="sme"
            ),
            score("c1", TODAY, kind="period", pd_value=0.3, feature_values='{"a": 7.0}', segment="sme"),
        ],
    )


def test_the_snapshots_are_found_in_the_ranking_index_alone(warehouse: Warehouse) -> None:
    seeded(warehouse)
    plans = sent(warehouse.engine, lambda: checks._latest_snapshots(warehouse), "SELECT", plans=True)
    snapshots = checks._latest_snapshots(warehouse)
    assert sorted(snapshots["company_id"]) == ["c1", "c2", "c3"]
    assert set(snapshots["as_of"]) == {TODAY}
    assert list(snapshots.columns) == ["company_id", "as_of", "segment"]
    if warehouse.dialect == "sqlite":
        assert "COVERING INDEX ix_scores_rank" in plans[0], plans
    else:
        assert plans[0].split()[1] == "ix_scores_rank", plans


def test_each_snapshot_s_pd_and_values_are_read_by_key_a_list_at_a_time(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDs and values come back in the snapshots' order, whichever list of companies they were read in."""
    seeded(warehouse)
    snapshots = checks._latest_snapshots(warehouse).sort_values("company_id", ascending=False)
    monkeypatch.setattr(stale, "chunks", lambda values: [values[i : i + 2] for i in range(0, len(values), 2)])
    read: list[tuple[np.ndarray, pd.DataFrame]] = []
    statements = sent(
        warehouse.engine,
        lambda: read.append(checks._snapshot_features(warehouse, snapshots, ["a", "b"])),
        "SELECT",
    )
    model_pd, values = read[0]
    assert len(statements) == 2  # lists of two companies: c3 c2, then c1
    assert all("feature_values" in statement and "model_pd" in statement for statement in statements)
    np.testing.assert_allclose(model_pd, [0.05, 0.2, 0.01])
    pd.testing.assert_frame_equal(values, pd.DataFrame({"a": [np.nan, 2.5, 1.0], "b": [4.0, 3.0, np.nan]}))


def test_no_snapshot_reads_nothing(warehouse: Warehouse) -> None:
    model_pd, values = checks._snapshot_features(warehouse, checks._latest_snapshots(warehouse), ["a"])
    assert len(model_pd) == 0 and list(values.columns) == ["a"] and values.empty
