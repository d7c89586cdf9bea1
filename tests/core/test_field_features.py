"""The field feature space: formulas by hand, units, point in time, and one catalogue without aliases."""

import math

import numpy as np
import pandas as pd
import pytest

from risk_assets.core import field_features as ff
from risk_assets.core.fx import KRW_PER_USD, usd_per_unit, usd_per_unit_column
from risk_assets.core.price_index import annual_index


def _statements() -> pd.DataFrame:
    base = {
        "company_id": "c1",
        "currency": "USD",
        "total_assets": 1000.0,
        "total_liabilities": 600.0,
        "current_assets": 400.0,
        "current_liabilities": 200.0,
        "inventory": 100.0,
        "cash": 50.0,
        "retained_earnings": 150.0,
        "ebit": 80.0,
        "revenue": 900.0,
        "cost_of_goods_sold": 600.0,
        "net_income": 40.0,
        "depreciation_amortization": 20.0,
        "interest_expense": 10.0,
        "long_term_debt": 300.0,
        "market_value_equity": 1200.0,
    }
    prior = base | {
        "fiscal_year": 2019,
        "net_income": -10.0,
        "total_assets": 800.0,
        "revenue": 750.0,
        "market_value_equity": 1000.0,
        "period_end": "2019-12-31",
        "filed_at": "2020-02-20",
    }
    now = base | {"fiscal_year": 2020, "period_end": "2020-12-31", "filed_at": "2021-02-20"}
    return pd.DataFrame([prior, now])


def test_formulas_by_hand():
    row = ff.compute_field_features(_statements()).iloc[1]
    assert row["wc_ta"] == pytest.approx(0.2)
    assert row["re_ta"] == pytest.approx(0.15)
    assert row["tl_ta"] == pytest.approx(0.6)
    assert row["ca_cl"] == pytest.approx(2.0)
    assert row["quick_ratio"] == pytest.approx(1.5)
    assert row["ffo_tl"] == pytest.approx(60 / 600)
    assert row["interest_cover"] == pytest.approx(8.0)
    assert row["gross_margin"] == pytest.approx(300 / 900)  # revenue - COGS when gross profit is not reported
    assert row["mve_tl"] == pytest.approx(2.0)
    assert row["mve_change"] == pytest.approx(math.log(1.2))
    assert row["chin"] == pytest.approx(50 / 50)
    assert row["intwo"] == 0.0
    assert row["roa_change"] == pytest.approx(0.04 - (-10 / 800))
    assert row["sales_growth"] == pytest.approx(900 / 750 - 1)
    deflator = annual_index()[ff.REAL_BASE_YEAR] / annual_index()[2020]
    assert row["log_real_assets"] == pytest.approx(math.log(1000 * deflator / 1e6))


def test_prior_year_is_point_in_time():
    frame = _statements()
    frame.loc[0, "filed_at"] = "2021-06-01"  # the prior year's only version was filed after this row
    row = ff.compute_field_features(frame).iloc[1]
    assert math.isnan(row["roa_change"]) and math.isnan(row["intwo"])


def test_unknown_stays_unknown_and_zero_denominators_are_nan():
    frame = _statements().iloc[[1]].assign(current_liabilities=0.0, retained_earnings=np.nan)
    row = ff.compute_field_features(frame).iloc[0]
    assert math.isnan(row["ca_cl"]) and math.isnan(row["re_ta"])


def test_krw_filers_are_sized_in_dollars():
    frame = _statements().iloc[[1]].copy()
    krw = frame.assign(currency="KRW", total_assets=1000.0 * KRW_PER_USD[2020])
    usd_size = ff.compute_field_features(frame)["log_real_assets"].iloc[0]
    assert ff.compute_field_features(krw)["log_real_assets"].iloc[0] == pytest.approx(usd_size)
    assert math.isnan(ff.compute_field_features(frame.assign(currency="EUR"))["log_real_assets"].iloc[0])
    assert usd_per_unit("KRW", 2030) == pytest.approx(1 / KRW_PER_USD[max(KRW_PER_USD)])
    column = usd_per_unit_column(
        np.array(["USD", "KRW", "JPY"], dtype=object), np.array([2020, 2020, 2020.0])
    )
    assert column[0] == 1.0 and column[1] == pytest.approx(1 / KRW_PER_USD[2020]) and np.isnan(column[2])


def test_catalogue_names_each_quantity_once_with_formula_and_unit():
    names = [f.name for f in ff.FEATURES + ff.FILING_FEATURES]
    assert len(names) == len(set(names))
    for feature in ff.FEATURES + ff.FILING_FEATURES:
        assert feature.label and feature.formula and feature.unit and feature.monotone in (-1, 0, 1)
    entries = {entry["name"]: entry for entry in ff.catalogue()}
    assert entries["wc_ta"]["label"] == "Working capital to assets"
    assert "Attr1" in entries  # the Polish attributes the SME model reads are named too
    # no two features are the same number on a real panel (the Polish set had three copies of one ratio)
    from risk_assets.core.us_listed import bundled_panel

    panel, _ = bundled_panel()
    values = panel[list(ff.FIELD_FEATURES)].dropna(axis=1, how="all")
    correlation = values.corr(method="spearman").abs().to_numpy()
    np.fill_diagonal(correlation, 0)
    assert correlation.max() < 0.99


def test_unknown_feature_is_refused():
    with pytest.raises(ValueError, match="unknown field feature"):
        ff.compute_field_features(_statements(), names=["no_such_ratio"])
