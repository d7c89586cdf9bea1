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


def test_a_failing_asset_makes_materialize_exit_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    use_home(monkeypatch, tmp_path / "empty")
    # Scoring on an empty home: no features, no champion -> the risk_scores step fails.
    assert main(["materialize", "--jobs", "rescore_all"]) == 1
    assert "rescore_all FAILED" in capsys.readouterr().out


def test_a_failing_blocking_check_fails_the_job(graph_copy: Path) -> None:
    store = Warehouse(Settings.from_env().warehouse_url)
    with store.transaction() as conn:  # break the identity for every company but Apple
        conn.execute(sa.update(statements).where(statements.c.company_id != "sec-0000320193")
                     .values(total_liabilities=statements.c.total_assets * 2))
    outcome = run_job("ingest_filings", partition_keys=["sec-0000320193"])
    assert not outcome.success
    assert outcome.failed_checks == ["accounting_identity_holds"]
