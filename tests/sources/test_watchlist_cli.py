"""`riskgraph watchlist add|remove|list` on a temporary warehouse; tickers resolved through SEC company_tickers
(recorded) served by the local server."""

from __future__ import annotations

from pathlib import Path

import pytest

from risk_assets.cli import main
from risk_assets.commands.watchlist import online_ticker_lookup
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse
from risk_assets.storage.watchlist import UnknownCompany, add_to_watchlist, list_watchlist
from tests.conftest import use_home
from tests.sources import stubs
from tests.support.stub_server import StubServer


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_home(monkeypatch, tmp_path / "home")
    for name in ("RISKGRAPH_SEC_USER_AGENT", "OPENDART_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def test_add_list_remove(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watchlist", "add", "--cik", "320193", "--by", "alice"]) == 0
    assert main(["watchlist", "add", "--dart", stubs.SAMSUNG_CORP]) == 0
    assert main(["watchlist", "add", "--cik", "0000320193"]) == 0  # the same company, any padding: one row
    assert "watching sec-0000320193" in capsys.readouterr().out
    assert main(["watchlist", "list"]) == 0
    listed = capsys.readouterr().out
    assert "sec-0000320193" in listed and "dart-00126380" in listed
    assert main(["watchlist", "remove", "sec-0000320193"]) == 0
    assert main(["watchlist", "remove", "sec-0000320193"]) == 1  # not on the list any more
    warehouse = Warehouse(Settings.from_env().warehouse_url)
    assert list(list_watchlist(warehouse)["company_id"]) == ["dart-00126380"]
    warehouse.dispose()


def test_bad_identifiers_are_refused_with_the_reason(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watchlist", "add", "--dart", "126380"]) == 1
    assert "8 digits" in capsys.readouterr().err
    # An unknown ticker, offline (no SEC User-Agent is set either): refused, nothing added.
    assert main(["watchlist", "add", "--ticker", "AAPL", "--offline"]) == 1
    assert "unknown ticker 'AAPL'" in capsys.readouterr().err
    assert main(["watchlist", "list"]) == 0
    assert "empty" in capsys.readouterr().out


def test_a_ticker_is_resolved_through_sec_company_tickers(home: Path) -> None:
    warehouse = Warehouse(Settings.from_env().warehouse_url)
    warehouse.create_schema()
    with StubServer() as stub:
        stubs.serve_sec(stub)
        sec = stubs.resources_for(stub)["sec"]
        row = add_to_watchlist(
            warehouse,
            ticker="aapl",
            added_by="test",
            ticker_lookup=lambda ticker: online_ticker_lookup(ticker, sec=sec),
        )
        # company_tickers.json (recorded): {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."}
        assert (row["company_id"], row["cik"], row["ticker"]) == ("sec-0000320193", "0000320193", "AAPL")
        with pytest.raises(UnknownCompany, match="unknown ticker"):
            add_to_watchlist(
                warehouse,
                ticker="NO-SUCH-TICKER",
                added_by="test",
                ticker_lookup=lambda ticker: online_ticker_lookup(ticker, sec=sec),
            )
    warehouse.dispose()
