"""Weight of evidence and the classic benchmarks, against values computed by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from risk_assets.core.benchmarks import classic_figures, classic_from_polish_ratios, classic_from_statements
from risk_assets.core.binning import WoeBinning
from risk_assets.core.classic import ohlson_o
from risk_assets.core.price_index import ohlson_price_index, price_level_index


def test_woe_by_hand() -> None:
    # x = 1, 2 | 3, 4 | NaN, NaN with one cut at the median 2.5; y = 0 0 | 1 1 | 1 0. Defaults 3, non-defaults 3,
    # three bins, half a count of smoothing: WoE = ln((bad + 0.5) / 4.5) - ln((good + 0.5) / 4.5)
    #   bin 1: ln(0.5 / 2.5) = -1.609438; bin 2: ln(2.5 / 0.5) = +1.609438; missing: ln(1.5 / 1.5) = 0.
    # Training mean (2 x -1.609 + 2 x 1.609 + 0 + 0) / 6 = 0, so the centred values are the same.
    x = np.array([[1.0], [2.0], [3.0], [4.0], [np.nan], [np.nan]])
    y = np.array([0, 0, 1, 1, 1, 0])
    binning = WoeBinning.fit(x, y, max_bins=2, min_bin_share=0.5)
    assert binning.edges[0].tolist() == [2.5]
    assert binning.transform(x)[:, 0] == pytest.approx(
        [-math.log(5), -math.log(5), math.log(5), math.log(5), 0, 0]
    )
    # IV = (0 - 2/3)(-ln 5) + (2/3 - 0)(ln 5) + 0 = (4/3) ln 5 = 2.145917
    assert binning.information_value(x, y)[0] == pytest.approx(4 / 3 * math.log(5))
    # A value beyond the training range falls in the end bin; 2.5 itself is right-closed into the first bin.
    assert binning.transform(np.array([[100.0], [2.5]]))[:, 0] == pytest.approx([math.log(5), -math.log(5)])


def test_woe_of_a_gap_never_seen_in_training_is_neutral() -> None:
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    binning = WoeBinning.fit(x, np.array([0, 0, 1, 1]), max_bins=2, min_bin_share=0.5)
    # No missing value in training: the missing bin gets WoE 0, not what smoothing alone would give it.
    assert binning.woe[0][-1] == 0.0
    assert binning.transform(np.array([[np.nan]]))[0, 0] == pytest.approx(0.0 - binning.mean[0])


def test_classic_scores_from_polish_ratios_by_hand() -> None:
    frame = pd.DataFrame(
        {
            "Attr1": [0.04, 0.04],
            "Attr2": [0.6, 0.6],
            "Attr3": [0.1, 0.1],
            "Attr4": [1.8, 1.8],
            "Attr6": [0.2, 0.2],
            "Attr8": [1.5, 1.5],
            "Attr22": [0.05, np.nan],
        }
    )
    scores = classic_from_polish_ratios(frame)
    # Z'' = 6.56 x 0.1 + 3.26 x 0.2 + 6.72 x 0.05 + 1.05 x 1.5 = 0.656 + 0.652 + 0.336 + 1.575 = 3.219 (safer when
    # higher, so the risk score is -3.219); the second row has no Attr22.
    z2 = scores["altman_z_double_prime"]
    assert z2.risk[0] == pytest.approx(-3.219) and np.isnan(z2.risk[1])
    assert z2.reasons[1] == "altman_z_double_prime needs Attr22, which is missing"
    # Zmijewski = -4.336 - 4.513 x 0.04 + 5.679 x 0.6 + 0.004 x 1.8 = -4.336 - 0.18052 + 3.4074 + 0.0072 = -1.10192
    zm = scores["zmijewski"]
    assert zm.risk == pytest.approx([-1.10192, -1.10192])
    assert zm.probability[0] == pytest.approx(stats.norm.cdf(-1.10192))
    assert (
        np.isnan(scores["altman_z"].risk).all() and "market value of equity" in scores["altman_z"].reasons[0]
    )
    assert "prior year" in scores["ohlson_o"].reasons[0]


def test_classic_figures_report_reasons_and_use_only_available_rows() -> None:
    frame = pd.DataFrame(
        {"Attr1": [0.1, -0.2, 0.05, np.nan], "Attr2": [0.3, 0.9, 0.5, 0.5], "Attr4": [2.0, 0.8, 1.2, 1.0]}
    )
    y = np.array([0, 1, 0, 1])
    scores = classic_from_polish_ratios(frame)
    figures = classic_figures(scores["zmijewski"], y)
    # Available on rows 0-2: risk -4.336 - 4.513 Attr1 + 5.679 Attr2 + 0.004 Attr4 ranks row 1 (the default) first.
    assert figures["available"] and figures["n_available"] == 3 and figures["auc"] == 1.0
    assert figures["missing_reasons"] == ["zmijewski needs Attr1, which is missing (1 rows)"]
    unavailable = classic_figures(scores["altman_z"], y)
    assert unavailable["available"] is False and "market value of equity" in unavailable["reason"]


def test_classic_scores_from_statements_say_why_not() -> None:
    statements = pd.DataFrame(
        {
            "company_id": ["A", "A"],
            "fiscal_year": [2020, 2021],
            "filed_at": pd.to_datetime(["2021-03-01", "2022-03-01"]),
            "currency": ["USD", "USD"],
            "total_assets": [100.0, 100.0],
            "total_liabilities": [60.0, 50.0],
            "current_assets": [40.0, 45.0],
            "current_liabilities": [20.0, 25.0],
            "net_income": [5.0, -2.0],
            "operating_cash_flow": [8.0, 1.0],
        }
    )
    scores = classic_from_statements(statements)
    # Zmijewski 2021 = -4.336 - 4.513 x (-0.02) + 5.679 x 0.5 + 0.004 x 1.8 = -4.336 + 0.09026 + 2.8395 + 0.0072
    assert scores["zmijewski"].risk[1] == pytest.approx(-1.39904)
    assert scores["altman_z"].reasons[0] == (
        "Altman Z needs retained_earnings, ebit, market_value_equity, revenue, which are missing"
    )
    assert (
        scores["ohlson_o"].reasons[0]
        == "Ohlson O needs the prior year's net income (prior_items['net_income'])"
    )
    assert not np.isnan(scores["ohlson_o"].risk[1]) and scores["ohlson_o"].reasons[1] is None
    # SIZE deflates by the index of the year before the balance sheet (Ohlson 1980), not the balance sheet's own.
    items = {
        "total_assets": 100.0,
        "total_liabilities": 50.0,
        "current_assets": 45.0,
        "current_liabilities": 25.0,
        "net_income": -2.0,
        "operating_cash_flow": 1.0,
        "currency": "USD",
    }
    prior = {
        **items,
        "total_liabilities": 60.0,
        "current_assets": 40.0,
        "current_liabilities": 20.0,
        "net_income": 5.0,
        "operating_cash_flow": 8.0,
    }
    published = ohlson_o(items, prior, usd_per_unit=1.0, price_index=ohlson_price_index(2021)[0]).value
    same_year = ohlson_o(items, prior, usd_per_unit=1.0, price_index=price_level_index(2021)[0]).value
    assert published != same_year
    assert scores["ohlson_o"].risk[1] == pytest.approx(published)  # risk = O: higher is riskier
