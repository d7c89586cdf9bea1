"""Point in time on the materialised graph (bundled data): a feature row dated t (its filed_at) holds nothing
filed or released after t; the training view of Apple's FY2009 follows its restatement; Altman Z where a market
value exists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from risk_assets.core.feature_table import feature_document
from risk_assets.core.pit import known_versions
from risk_assets.settings import Settings
from risk_assets.storage.warehouse import Warehouse

APPLE = "sec-0000320193"
MILLION = 1_000_000


@pytest.fixture
def store(graph_env: Path) -> Warehouse:
    return Warehouse(Settings.from_env().warehouse_url)


def _date(text: object) -> dt.date | None:
    return None if text in (None, "") else dt.date.fromisoformat(str(text)[:10])


def test_no_feature_row_holds_anything_published_after_its_date(store: Warehouse) -> None:
    features = store.read("features")
    statements = store.read("statements").set_index(["company_id", "period_end", "accession"])
    checked = {"macro": 0, "market": 0, "warnings": 0}
    for row in features.itertuples():
        t = _date(row.filed_at)
        # The statement itself was filed at t.
        assert _date(statements.loc[(row.company_id, row.period_end, row.accession), "filed_at"]) == t
        documents = feature_document(row._asdict())
        for role, value in documents["macro"].items():
            if value is not None:
                assert _date(value["released_at"]) <= t and _date(value["observation_date"]) <= t, (row, role)
                checked["macro"] += 1
        market = documents["market"]
        for field in ("price_date", "risk_free_released_at"):
            if market[field] is not None:
                assert _date(market[field]) <= _date(row.period_end) <= t, (row, field)
                checked["market"] += 1
        latest = documents["warnings"]["latest_signal_date"]
        if latest is not None:
            assert _date(latest) <= t
            checked["warnings"] += 1
    assert min(checked.values()) > 0, checked  # every kind of input was actually present somewhere


def test_gdp_of_2024q2_appears_in_features_only_from_its_first_release(store: Warehouse) -> None:
    gdp = store.read("indicators", where={"series_id": "GDP"}).set_index("observation_date")
    assert gdp.loc[dt.date(2024, 4, 1), "released_at"] == dt.date(2024, 7, 25)  # the recorded first release
    seen = {}
    for row in store.read("features").itertuples():
        value = feature_document(row._asdict())["macro"]["gdp_growth"]
        if value is not None:
            seen.setdefault(value["observation_date"], []).append(_date(row.filed_at))
    assert min(seen["2024-04-01"]) >= dt.date(2024, 7, 25)
    assert max(seen["2024-01-01"]) < dt.date(2024, 7, 25)


@pytest.mark.parametrize(
    ("as_of", "net_income", "accession"),
    [
        ("2009-12-31", 5704, "0001193125-09-214859"),  # the 10-K of 2009-10-27
        ("2010-02-01", 8235, "0001193125-10-012091"),  # the 10-K/A of 2010-01-25
    ],
)
def test_training_view_of_apple_fy2009(store: Warehouse, as_of: str, net_income: int, accession: str) -> None:
    statements = known_versions(store.read("statements", where={"company_id": APPLE}), as_of)
    fy2009 = statements[statements["period_end"] == dt.date(2009, 9, 26)].iloc[0]
    assert (fy2009["net_income"] / MILLION, fy2009["accession"]) == (net_income, accession)
    features = known_versions(store.read("features", where={"company_id": APPLE}), as_of)
    row = features[features["period_end"] == dt.date(2009, 9, 26)].iloc[0]
    assert row["accession"] == accession
    # Attr1 = net income / total assets of that version.
    ratio = row["Attr1"]
    assert ratio == pytest.approx(fy2009["net_income"] / fy2009["total_assets"], rel=1e-12)
    # The view never holds a later filing nor a TTM row.
    assert (pd.to_datetime(statements["filed_at"]) <= pd.Timestamp(as_of)).all()
    assert set(statements["period_type"]) == {"FY"}


def test_altman_z_of_apple_fy2020_uses_the_market_value(store: Warehouse) -> None:
    end = dt.date(2020, 9, 26)
    statement = (
        store.read("statements", where={"company_id": APPLE, "period_end": end})
        .sort_values("filed_at")
        .iloc[-1]
    )
    market = store.read("market_features", where={"company_id": APPLE, "period_end": end}).iloc[0]
    feature = store.read(
        "features", where={"company_id": APPLE, "period_end": end, "accession": statement["accession"]}
    ).iloc[0]
    # 16,976,763,000 shares x the 2020-09-25 close 112.27999877929688 (recorded chart).
    assert market["market_value_equity"] == 16_976_763_000 * 112.27999877929688
    s = statement
    z = (
        1.2 * (s["current_assets"] - s["current_liabilities"]) / s["total_assets"]
        + 1.4 * s["retained_earnings"] / s["total_assets"]
        + 3.3 * s["ebit"] / s["total_assets"]
        + 0.6 * market["market_value_equity"] / s["total_liabilities"]
        + 1.0 * s["revenue"] / s["total_assets"]
    )
    assert feature["altman_z"] == pytest.approx(z, rel=1e-12)
    # Merton DD needs a year of returns; the bundled chart has 18 up to the balance-sheet date.
    assert pd.isna(feature["merton_dd"])
    assert "18 available" in feature["merton_dd_reason"]
