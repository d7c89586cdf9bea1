"""A change made for an API key and its audit row commit together: when the audit insert fails, the change is
not stored; when it succeeds, exactly one audit row records it. On SQLite and on MariaDB."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from risk_assets.storage import queries
from risk_assets.storage.api_keys import Audit, audit_rows
from risk_assets.storage.warehouse import Warehouse, utc_now
from risk_assets.storage.watchlist import add_to_watchlist, list_watchlist, remove_from_watchlist
from tests.support.audit import audit_log_refusing_inserts

AS_OF = dt.date(2022, 2, 24)


def _watched(warehouse: Warehouse) -> list[str]:
    return list(list_watchlist(warehouse)["company_id"])


def test_a_watchlist_add_whose_audit_row_fails_is_not_stored(warehouse: Warehouse):
    with audit_log_refusing_inserts(warehouse), pytest.raises(sa.exc.DBAPIError):
        add_to_watchlist(warehouse, cik="320193", added_by="admin", audit=Audit("admin"))
    assert _watched(warehouse) == [] and audit_rows(warehouse) == []

    add_to_watchlist(warehouse, cik="320193", added_by="admin", audit=Audit("admin"))
    assert _watched(warehouse) == ["sec-0000320193"]
    (row,) = audit_rows(warehouse)
    assert (row["actor"], row["action"], row["target"]) == ("admin", "watchlist_add", "sec-0000320193")


def test_a_watchlist_removal_whose_audit_row_fails_is_not_stored(warehouse: Warehouse):
    add_to_watchlist(warehouse, dart_corp_code="00126380", added_by="admin")
    with audit_log_refusing_inserts(warehouse), pytest.raises(sa.exc.DBAPIError):
        remove_from_watchlist(warehouse, "dart-00126380", audit=Audit("admin"))
    assert _watched(warehouse) == ["dart-00126380"] and audit_rows(warehouse) == []

    assert remove_from_watchlist(warehouse, "dart-00126380", audit=Audit("admin")) is True
    assert _watched(warehouse) == []
    (row,) = audit_rows(warehouse)
    assert (row["actor"], row["action"], row["target"]) == ("admin", "watchlist_remove", "dart-00126380")
    assert remove_from_watchlist(warehouse, "dart-00126380", audit=Audit("admin")) is False
    assert len(audit_rows(warehouse)) == 1  # nothing removed, nothing recorded


def test_an_acknowledgement_whose_audit_row_fails_is_not_stored(warehouse: Warehouse):
    warehouse.upsert(
        "companies",
        [
            {
                "company_id": "sec-0000320193",
                "name": "Apple Inc.",
                "country": "US",
                "is_financial": False,
                "source": "test",
                "updated_at": utc_now(),
            }
        ],
    )
    warehouse.upsert(
        "risk_alerts",
        [
            {
                "company_id": "sec-0000320193",
                "as_of": AS_OF,
                "model_version": "1",
                "previous_as_of": dt.date(2021, 2, 24),
                "previous_pd": 0.01,
                "pd": 0.05,
                "previous_grade": "B",
                "grade": "C",
                "reasons": "grade fell",
                "created_at": utc_now(),
            }
        ],
    )
    with audit_log_refusing_inserts(warehouse), pytest.raises(sa.exc.DBAPIError):
        queries.acknowledge_alert(warehouse, "sec-0000320193", AS_OF, "1", by="admin", note="seen")
    alert = queries.get_alert(warehouse, "sec-0000320193", AS_OF, "1")
    assert alert is not None and alert["acknowledged_at"] is None and alert["acknowledged_by"] is None
    assert audit_rows(warehouse) == []

    outcome = queries.acknowledge_alert(warehouse, "sec-0000320193", AS_OF, "1", by="admin", note="seen")
    assert outcome == "acknowledged"
    assert queries.get_alert(warehouse, "sec-0000320193", AS_OF, "1")["acknowledged_by"] == "admin"
    (row,) = audit_rows(warehouse)
    assert (row["actor"], row["action"], row["detail"]) == ("admin", "acknowledge_alert", "seen")
