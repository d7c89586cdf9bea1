"""Live mode end to end: RISKGRAPH_DATA_SOURCE=live with every client's base URL pointed at a local server that
serves the recorded responses (tests/sources/stubs.py says which bodies are built from documented formats).

watchlist -> company_universe -> raw_filings (every body stored before parsing) -> statements (FY and TTM) ->
market data -> features, for Apple (SEC) and Samsung Electronics (OpenDART). Then a statements re-run from the
stored bytes sends no request at all.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from risk_assets.settings import Settings
from risk_assets.storage.objects import open_object_store, sha256_hex
from risk_assets.storage.warehouse import Warehouse
from risk_assets.storage.watchlist import add_to_watchlist
from tests.conftest import use_home
from tests.sources import stubs
from tests.support.stub_server import StubServer

MILLION = 1_000_000


def run(
    name: str, resources: dict, *, partition_key: str | None = None, assets: list[str] | None = None
) -> None:
    """Run a named job of the real definitions, with the source resources replaced by ``resources``."""
    from risk_assets.definitions import defs

    base = defs()
    replaced = dg.Definitions(
        assets=base.assets,
        asset_checks=base.asset_checks,
        jobs=base.jobs,
        resources={**(base.resources or {}), **resources},
    )
    job = replaced.resolve_job_def(name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key=partition_key,
            raise_on_error=False,
            asset_selection=[dg.AssetKey(a) for a in assets] if assets else None,
        )
    failures = [e.step_key for e in result.all_events if e.is_step_failure]
    failed_checks = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert result.success and not failed_checks, (name, failures, failed_checks)


@pytest.fixture
def live_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    use_home(monkeypatch, home)
    monkeypatch.setenv("RISKGRAPH_DATA_SOURCE", "live")
    for name in ("RISKGRAPH_SEC_USER_AGENT", "OPENDART_API_KEY", "FRED_API_KEY", "ECOS_API_KEY"):
        monkeypatch.delenv(name, raising=False)  # the resources below carry test credentials explicitly
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def test_watchlist_to_features_through_the_live_path(live_home: Path) -> None:
    settings = Settings.from_env()
    store = Warehouse(settings.warehouse_url)
    store.create_schema()
    add_to_watchlist(store, cik="320193", added_by="test")
    add_to_watchlist(store, dart_corp_code=stubs.SAMSUNG_CORP, added_by="test")

    with StubServer() as stub:
        stubs.serve_sec(stub)
        stubs.serve_dart(stub, with_q1_2024=True)
        stubs.serve_fred(stub)
        stubs.serve_prices(stub)
        resources = stubs.resources_for(stub)

        run("refresh_universe", resources)
        for company in (stubs.APPLE, stubs.SAMSUNG):
            run("ingest_filings", resources, partition_key=company)
        run("refresh_market", resources)
        run(
            "rescore_all",
            resources,
            assets=["default_events", "warning_signals", "market_features", "features"],
        )
        assert stub.unmatched == []

        # --- universe: enriched from SEC submissions and OpenDART company.json (recorded).
        companies = store.read("companies").set_index("company_id")
        assert companies.loc[stubs.APPLE, ["name", "sic", "fiscal_year_end", "ticker"]].tolist() == [
            "Apple Inc.",
            "3571",
            "0926",
            "AAPL",
        ]
        assert companies.loc[
            stubs.SAMSUNG, ["name", "induty_code", "fiscal_year_end", "ticker"]
        ].tolist() == ["SAMSUNG ELECTRONICS CO,.LTD", "264", "1231", "005930"]

        # --- raw filings: every stored object is the exact body served, under its sha256.
        objects = open_object_store(settings.object_store_url)
        raw = store.read("raw_filings")
        for row in raw.itertuples():
            assert sha256_hex(objects.get(row.object_key)) == row.sha256 and row.sha256 in row.object_key
        kinds = {(r.company_id, r.kind) for r in raw.itertuples()}
        assert {
            (stubs.APPLE, "companyfacts"),
            (stubs.APPLE, "submissions"),
            (stubs.APPLE, "submissions:001"),
            (stubs.SAMSUNG, "company"),
            (stubs.SAMSUNG, "list:A:p1"),
            (stubs.SAMSUNG, "dfOcr"),
            (stubs.SAMSUNG, "fnlttSinglAcntAll:2023:11011:CFS"),
            (stubs.SAMSUNG, "fnlttSinglAcntAll:2024:11013:CFS"),
            (stubs.SAMSUNG, "auditOpinion:2023"),
        } <= kinds
        facts = raw[(raw["company_id"] == stubs.APPLE) & (raw["kind"] == "companyfacts")].iloc[0]
        assert facts["sha256"] == sha256_hex(
            stubs.read(stubs.DATA / "sec" / "companyfacts" / "CIK0000320193.json.gz")
        )

        # --- statements: annual versions (restatements kept) and trailing twelve months.
        statements = store.read("statements")
        apple = statements[statements["company_id"] == stubs.APPLE]
        fy2009 = apple[(apple["period_end"].astype(str) == "2009-09-26") & (apple["period_type"] == "FY")]
        # NetIncomeLoss FY2009: 5,704m (10-K 0001193125-09-214859), 8,235m (10-K/A 0001193125-10-012091).
        assert sorted(fy2009["net_income"] / MILLION) == [5704, 8235]
        q1_fy2010 = apple[apple["accession"] == "0001193125-10-012085"].iloc[0]
        # TTM to 2009-12-26 = FY2009 as restated (8,235m) + Q1 FY2010 (3,378m) - Q1 FY2009 as restated (2,255m).
        assert (q1_fy2010["period_type"], q1_fy2010["fiscal_period"]) == ("TTM", "Q1")
        assert q1_fy2010["net_income"] / MILLION == 8235 + 3378 - 2255
        samsung = statements[statements["company_id"] == stubs.SAMSUNG]
        by_period = {(r.period_type, str(r.period_end)): r for r in samsung.itertuples()}
        fy_revenue = 258_935_494_000_000  # [IS] ifrs-full_Revenue thstrm_amount, FY2023
        assert by_period[("FY", "2023-12-31")].revenue == fy_revenue
        # The built Q1 2024 report's YTD and prior-year YTD are the FY2023 line times the stub's factors.
        expected_ttm = (
            fy_revenue + round(fy_revenue * stubs.Q1_CURRENT_YTD) - round(fy_revenue * stubs.Q1_PRIOR_YTD)
        )
        ttm = by_period[("TTM", "2024-03-31")]._asdict()
        assert ttm["revenue"] == expected_ttm
        assert ttm["accession"] == stubs.SAMSUNG_Q1_2024_RCEPT and ttm["fiscal_period"] == "Q1"

        # --- market data and features for both companies, FY and TTM.
        indicators = store.read("indicators")
        assert set(indicators["series_id"]) == {"GDP", "CPILFESL", "WGS10YR"}
        assert set(store.read("market_prices")["symbol"]) == {"AAPL"}
        features = store.read("features")
        assert {(c, t) for c, t in zip(features["company_id"], features["period_type"], strict=True)} == {
            (stubs.APPLE, "FY"),
            (stubs.APPLE, "TTM"),
            (stubs.SAMSUNG, "FY"),
            (stubs.SAMSUNG, "TTM"),
        }
        assert len(features) == len(statements)
        apple_fy2020 = features[
            (features["company_id"] == stubs.APPLE) & (features["period_end"].astype(str) == "2020-09-26")
        ]
        assert apple_fy2020["altman_z"].notna().all()
        # As of the FY2020 10-K's filing (2020-10-30): GDP Q3 2020 was first released on 2020-10-29.
        assert apple_fy2020.iloc[0]["macro_gdp_growth_observed"] == dt.date(2020, 7, 1)
        # Live mode judges deadlines up to the fetch day (today), and the served filing lists stop early: Apple's
        # recording on 2026-03-05, the built DART list after the Q1 2024 report. Each company's first missing
        # report is signalled once; the clean audit opinion and Apple's recent filings (no NT 10-K/10-Q) add none.
        signals = store.read("warning_signals")
        assert sorted(zip(signals["company_id"], signals["kind"], signals["reference"], strict=True)) == [
            (stubs.SAMSUNG, "filing_overdue", "annual:2024-12-31"),  # FY2023 annual + 1 year, due + 90 days
            (stubs.APPLE, "filing_overdue", "quarterly:2026-03-29"),  # the 10-Q for 2025-03-29 + 1 year
        ]

        # --- a parser fix re-runs statements from the stored bytes: no request reaches the server.
        before = statements.sort_values(["company_id", "period_end", "accession"]).reset_index(drop=True)
        stub.clear_requests()
        for company in (stubs.APPLE, stubs.SAMSUNG):
            run("ingest_filings", resources, partition_key=company, assets=["statements"])
        assert stub.requests == []
        after = (
            store.read("statements")
            .sort_values(["company_id", "period_end", "accession"])
            .reset_index(drop=True)
        )
        assert after.equals(before)
    store.dispose()
