"""Early-warning signals on the materialised graph, and the alerts they raise once (on a private copy)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from risk_assets.commands.graph import run_job
from risk_assets.defs.scoring.assets import WARNING_MODEL_VERSION
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse

NIKOLA, SUNEDISON, SAMSUNG = "sec-0001731289", "sec-0000945436", "dart-00126380"


def warehouse() -> Warehouse:
    return Warehouse(Settings.from_env().warehouse_url)


def test_the_bundled_filers_signals(graph_env: Path) -> None:
    signals = warehouse().read("warning_signals")
    keys = set(zip(signals["company_id"], signals["kind"], signals["signal_date"].astype(str), strict=True))
    # Nikola: NT 10-K 2025-03-31 (recorded submissions), its FY2024 10-K overdue from 2025-04-16 (filed 2025-10-09).
    assert (NIKOLA, "late_filing_notice", "2025-03-31") in keys
    assert (NIKOLA, "filing_overdue", "2025-04-16") in keys
    # SunEdison: NT 10-K 2016-02-29, and the FY2015 10-K that never came.
    assert (SUNEDISON, "late_filing_notice", "2016-02-29") in keys
    assert (SUNEDISON, "filing_overdue", "2016-04-15") in keys
    # The healthy filers' snapshots show no late report (judged up to each snapshot's last filing).
    assert set(signals["company_id"]) == {NIKOLA, SUNEDISON}
    assert not signals["alert_pending"].astype(bool).any()  # risk_alerts handled every one

    alerts = warehouse().read("risk_alerts", where={"model_version": WARNING_MODEL_VERSION})
    assert set(alerts["kind"]) == {"warning"}
    nikola = alerts[(alerts["company_id"] == NIKOLA) & (alerts["as_of"].astype(str) == "2025-03-31")].iloc[0]
    assert "late_filing_notice: NT 10-K filed 2025-03-31" in nikola["reasons"]
    assert nikola["pd"] == nikola["previous_pd"]  # the company's score at the time: news, not a score change


def test_a_new_signal_raises_one_alert_once(graph_copy: Path) -> None:
    store = warehouse()
    before = store.read("risk_alerts")
    store.upsert(
        "warning_signals",
        [
            {
                "company_id": SAMSUNG,
                "kind": "non_clean_audit_opinion",
                "reference": "20240312000736",
                "signal_date": dt.date(2024, 3, 12),
                "resolved_at": None,
                "source": "dart_audit_opinion",
                "detail": "의견거절 (test auditor), 제55기 (당기)",
                "alert_pending": True,
                "loaded_at": dt.datetime(2026, 1, 1),
            }
        ],
    )
    assert run_job("rescore_all", assets=["risk_alerts"]).success
    after = store.read("risk_alerts")
    new = after.merge(before[["company_id", "as_of", "model_version"]], how="left", indicator=True)
    new = new[new["_merge"] == "left_only"]
    assert list(zip(new["company_id"], new["as_of"].astype(str), new["model_version"], strict=True)) == [
        (SAMSUNG, "2024-03-12", WARNING_MODEL_VERSION)
    ]
    assert new.iloc[0]["reasons"] == "non_clean_audit_opinion: 의견거절 (test auditor), 제55기 (당기)"
    # Samsung's FY2023 score as of its filing that day carries over as the alert's PD and grade.
    score = store.read(
        "risk_scores", where={"company_id": SAMSUNG, "kind": "period", "as_of": dt.date(2024, 3, 12)}
    )
    assert new.iloc[0]["pd"] == score.iloc[0]["pd"] and new.iloc[0]["grade"] == score.iloc[0]["grade"]
    assert (
        not store.read("warning_signals", where={"company_id": SAMSUNG})["alert_pending"].astype(bool).any()
    )

    assert run_job("rescore_all", assets=["risk_alerts"]).success
    again = store.read("risk_alerts")
    pd.testing.assert_frame_equal(
        again.sort_values(["company_id", "as_of", "model_version"]).reset_index(drop=True),
        after.sort_values(["company_id", "as_of", "model_version"]).reset_index(drop=True),
    )

    # Another signal of that day: the same alert, its reasons merged with the stored ones; no other alert moves.
    store.upsert(
        "warning_signals",
        [
            {
                "company_id": SAMSUNG,
                "kind": "late_filing_notice",
                "reference": "20240312000999",
                "signal_date": dt.date(2024, 3, 12),
                "resolved_at": None,
                "source": "dart_disclosure_list",
                "detail": "test notice",
                "alert_pending": True,
                "loaded_at": dt.datetime(2026, 1, 2),
            }
        ],
    )
    assert run_job("rescore_all", assets=["risk_alerts"]).success
    merged = store.read("risk_alerts").sort_values(["company_id", "as_of", "model_version"])
    key = ["company_id", "as_of", "model_version"]
    changed = merged.merge(again, how="left", indicator=True, on=[*key, "reasons"])
    changed = changed[changed["_merge"] == "left_only"]
    assert list(changed["company_id"]) == [SAMSUNG] and len(merged) == len(again)
    assert changed.iloc[0]["reasons"] == (
        "non_clean_audit_opinion: 의견거절 (test auditor), 제55기 (당기); late_filing_notice: test notice"
    )
