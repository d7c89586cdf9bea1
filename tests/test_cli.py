"""`riskgraph materialize` exits non-zero when an asset or a blocking check fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from risk_assets.cli import main
from risk_assets.commands.graph import run_job
from risk_assets.settings import Settings
from risk_assets.storage.schema import statements
from risk_assets.storage.warehouse import Warehouse
from tests.conftest import use_home


def test_a_failing_asset_makes_materialize_exit_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_home(monkeypatch, tmp_path / "empty")
    # Scoring on an empty home: no features, no champion -> the risk_scores step fails.
    assert main(["materialize", "--jobs", "rescore_all"]) == 1
    printed = capsys.readouterr()
    assert "rescore_all FAILED" in printed.out
    # quiet by default: no step-event DEBUG lines, but the failure itself in full
    assert " - DEBUG - " not in printed.err
    assert " - ERROR - " in printed.err and "risk_scores" in printed.err
    # RISKGRAPH_LOG_LEVEL=DEBUG brings every step event back
    monkeypatch.setenv("RISKGRAPH_LOG_LEVEL", "debug")
    assert main(["materialize", "--jobs", "rescore_all"]) == 1
    assert " - DEBUG - " in capsys.readouterr().err


def test_a_failing_blocking_check_fails_the_job(graph_copy: Path) -> None:
    store = Warehouse(Settings.from_env().warehouse_url)
    with store.transaction() as conn:  # break the identity for every company but Apple
        conn.execute(
            sa.update(statements)
            .where(statements.c.company_id != "sec-0000320193")
            .values(total_liabilities=statements.c.total_assets * 2)
        )
    outcome = run_job("ingest_filings", partition_keys=["sec-0000320193"])
    assert not outcome.success
    assert outcome.failed_checks == ["accounting_identity_holds"]


def test_top_shows_the_statement_behind_each_score_and_why(
    graph_env: Path, capsys: pytest.CaptureFixture
) -> None:
    """`riskgraph top`: the period the score rests on (a date and FY/TTM, never a fiscal year past it), the filing
    date with its age (Samsung's statement is years old, and its stale-statement overlay says so), and the largest
    drivers by plain name."""
    import re

    assert main(["top", "-n", "20"]) == 0
    printed = capsys.readouterr().out
    rows = {line.strip().split("  ")[0]: line for line in printed.splitlines()[2:]}
    samsung = next(line for name, line in rows.items() if name.startswith("Samsung"))
    assert "2023-12-31 FY" in samsung and "2024-03-12 (" in samsung and "stale statements" in samsung
    age = int(re.search(r"2024-03-12 \((\d+)d\)", samsung).group(1))
    assert age > 365
    apple = next(line for name, line in rows.items() if name.startswith("Apple"))
    assert re.search(r"\d{4}-\d{2}-\d{2} (FY|TTM)", apple)
    assert "Market value of equity to liabilities" in apple
    assert "in default" in next(line for name, line in rows.items() if name.startswith("Nikola"))
    assert "fiscal_year" not in printed.splitlines()[1]


def test_a_driver_whose_value_was_missing_is_marked_filled_in() -> None:
    from risk_assets.commands.graph import explain

    drivers = {
        "contributions": {"tl_ta": 0.4, "quick_ratio": -0.9, "sales_ta": 0.1},
        "overlay": [{"name": "stale_statements", "multiplier": 2.0}],
    }
    assert explain(drivers, {"tl_ta": 0.7, "quick_ratio": None}) == (
        "- Quick ratio (filled in), + Liabilities to assets, x2 odds: stale statements"
    )


def test_the_embedded_instance_has_no_telemetry_and_no_first_visit_popup(graph_env: Path) -> None:
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False


def test_term_structure_prints_a_rising_curve_from_the_current_pd(graph_env: Path, capsys) -> None:
    import re

    assert main(["term-structure", "sec-0000320193"]) == 0
    printed = capsys.readouterr().out
    cumulative = [float(m) for m in re.findall(r"^\s+\d\s+([\d.]+)%", printed, re.M)]
    assert len(cumulative) == 5 and cumulative == sorted(cumulative) and cumulative[0] < cumulative[-1]
    assert re.search(r"one-year PD ([\d.]+)%", printed).group(1) == f"{cumulative[0]:.2f}"
    assert main(["term-structure", "sec-0000000001"]) == 2
    assert "no current score" in capsys.readouterr().out
