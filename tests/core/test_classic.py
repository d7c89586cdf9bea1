"""Classic scores on worked examples computed by hand from the published coefficients."""

from __future__ import annotations

import json
import math

import pytest

from risk_assets.core.classic import (
    altman_z,
    altman_z_double_prime,
    classic_scores,
    merton_distance_to_default,
    naive_distance_to_default,
    ohlson_o,
    ohlson_probability,
    zmijewski,
    zmijewski_probability,
)
from risk_assets.core.price_index import (
    annual_averages,
    ohlson_price_index,
    parse_fred_observations,
    price_level_index,
    rebase,
)

# A made-up healthy firm, amounts in US dollars.
FIRM = {
    "currency": "USD",
    "total_assets": 1_000_000_000.0,
    "total_liabilities": 600_000_000.0,
    "current_assets": 400_000_000.0,
    "current_liabilities": 250_000_000.0,
    "retained_earnings": 150_000_000.0,
    "ebit": 90_000_000.0,
    "market_value_equity": 800_000_000.0,
    "revenue": 1_200_000_000.0,
    "total_equity": 400_000_000.0,
    "net_income": 60_000_000.0,
    "operating_cash_flow": 110_000_000.0,
}
PRIOR = {"net_income": 40_000_000.0}

# A made-up distressed firm: losses two years running, liabilities above assets.
DISTRESSED = {
    "currency": "USD",
    "total_assets": 1_000_000_000.0,
    "total_liabilities": 1_100_000_000.0,
    "current_assets": 300_000_000.0,
    "current_liabilities": 500_000_000.0,
    "net_income": -50_000_000.0,
    "operating_cash_flow": -30_000_000.0,
}
DISTRESSED_PRIOR = {"net_income": -20_000_000.0}


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# --- Altman -----------------------------------------------------------------------------------------------


def test_altman_z_worked_example() -> None:
    # X1 = WC/TA = 150/1000 = 0.15; X2 = RE/TA = 0.15; X3 = EBIT/TA = 0.09; X4 = MVE/TL = 800/600; X5 = 1.2
    # Z = 1.2*0.15 + 1.4*0.15 + 3.3*0.09 + 0.6*800/600 + 1.0*1.2 = 0.18 + 0.21 + 0.297 + 0.8 + 1.2 = 2.687
    result = altman_z(FIRM)
    assert result.value == pytest.approx(2.687, rel=1e-12)
    assert result.reason is None
    assert result.zone == "grey"  # 1.81 <= 2.687 <= 2.99


# A firm in distress on both Altman scores: TA 1000, TL 900, WC -100, RE -100, EBIT -20 (each test adds its
# equity measure).
WEAK_FIRM = {
    "total_assets": 1000.0,
    "total_liabilities": 900.0,
    "current_assets": 200.0,
    "current_liabilities": 300.0,
    "retained_earnings": -100.0,
    "ebit": -20.0,
}


def test_altman_z_zones() -> None:
    # MVE 3000m: Z = 2.687 - 0.8 + 0.6*3000/600 = 4.887 > 2.99
    assert altman_z({**FIRM, "market_value_equity": 3_000_000_000.0}).zone == "safe"
    # TA 1000, TL 900, WC -100, RE -100, EBIT -20, MVE 100, sales 500:
    # Z = 1.2*(-0.1) + 1.4*(-0.1) + 3.3*(-0.02) + 0.6*100/900 + 1.0*0.5 = 0.2406667 < 1.81
    result = altman_z({**WEAK_FIRM, "market_value_equity": 100.0, "revenue": 500.0})
    assert result.value == pytest.approx(0.24066666666666667, rel=1e-12)
    assert result.zone == "distress"


def test_altman_z_without_market_value_names_it() -> None:
    result = altman_z({**FIRM, "market_value_equity": None})
    assert result.value is None and result.zone is None
    assert "market_value_equity" in result.reason
    missing_two = altman_z({k: v for k, v in FIRM.items() if k not in {"ebit", "revenue"}})
    assert "ebit" in missing_two.reason and "revenue" in missing_two.reason


def test_altman_z_double_prime() -> None:
    # 6.56*0.15 + 3.26*0.15 + 6.72*0.09 + 1.05*400/600 = 0.984 + 0.489 + 0.6048 + 0.7 = 2.7778 > 2.6
    plain = altman_z_double_prime(FIRM)
    assert plain.value == pytest.approx(2.7778, rel=1e-12)
    assert plain.zone == "safe"
    # With the emerging-market constant: 2.7778 + 3.25 = 6.0278 > 5.85 (= 2.6 + 3.25)
    em = altman_z_double_prime(FIRM, emerging_market_constant=True)
    assert em.value == pytest.approx(6.0278, rel=1e-12)
    assert em.zone == "safe"
    # RE = 0: 0.984 + 0 + 0.6048 + 0.7 = 2.2888, grey (1.1 .. 2.6); with +3.25 = 5.5388, grey (4.35 .. 5.85)
    no_re = {**FIRM, "retained_earnings": 0.0}
    assert altman_z_double_prime(no_re).value == pytest.approx(2.2888, rel=1e-12)
    assert altman_z_double_prime(no_re).zone == "grey"
    assert altman_z_double_prime(no_re, emerging_market_constant=True).zone == "grey"
    # TA 1000, TL 900, WC -100, RE -100, EBIT -20, equity 100:
    # 6.56*(-0.1) + 3.26*(-0.1) + 6.72*(-0.02) + 1.05*100/900 = -0.656 - 0.326 - 0.1344 + 0.1166667 = -0.9997333
    weak = {**WEAK_FIRM, "total_equity": 100.0}
    assert altman_z_double_prime(weak).value == pytest.approx(-0.9997333333333334, rel=1e-12)
    assert altman_z_double_prime(weak).zone == "distress"
    assert altman_z_double_prime(weak, emerging_market_constant=True).zone == "distress"  # 2.2502667 < 4.35
    assert "total_equity" in altman_z_double_prime({**FIRM, "total_equity": None}).reason


# --- Ohlson -----------------------------------------------------------------------------------------------


def test_ohlson_o_worked_example() -> None:
    # SIZE = ln(1e9 USD / 500) = ln(2e6) = 14.508657738524219;  0.407 * SIZE = 5.905023699579357
    # TLTA 0.6, WCTA 0.15, CLCA 250/400 = 0.625, NITA 0.06, FUTL 110/600, INTWO 0, OENEG 0,
    # CHIN = (60 - 40) / (60 + 40) = 0.2
    # O = -1.32 - 5.905023699579357 + 6.03*0.6 - 1.43*0.15 + 0.0757*0.625 - 2.37*0.06 - 1.83*110/600 - 0.521*0.2
    #   = -1.32 - 5.905023699579357 + 3.618 - 0.2145 + 0.0473125 - 0.1422 - 0.3355 - 0.1042 = -4.356111199579357
    result = ohlson_o(FIRM, PRIOR, usd_per_unit=None, price_index=500.0)
    assert result.value == pytest.approx(-4.356111199579357, rel=1e-12)
    assert result.reason is None
    # P = 1 / (1 + exp(4.356111199579357)) = 0.01266569916579019
    assert ohlson_probability(result.value) == pytest.approx(0.01266569916579019, rel=1e-10)


def test_ohlson_o_distressed_firm_uses_the_dummies() -> None:
    # SIZE term as above (-5.905023699579357); TLTA 1.1, WCTA -0.2, CLCA 500/300, NITA -0.05, FUTL -30/1100,
    # INTWO 1 (two losses), OENEG 1 (TL > TA), CHIN = (-50 - -20) / (50 + 20) = -0.428571...
    # O = -1.32 - 5.905023699579357 + 6.633 + 0.286 + 0.1261667 + 0.1185 + 0.0499091 + 0.285 - 1.72 + 0.2232857
    #   = -1.2231622277178844
    result = ohlson_o(DISTRESSED, DISTRESSED_PRIOR, usd_per_unit=None, price_index=500.0)
    assert result.value == pytest.approx(-1.2231622277178844, rel=1e-12)


def test_ohlson_size_is_in_us_dollars() -> None:
    # The same firm reported in KRW at 1/1300 USD per KRW gives the same O as in USD.
    in_krw = {**FIRM, "currency": "KRW", **{k: v * 1300.0 for k, v in FIRM.items() if isinstance(v, float)}}
    prior_krw = {"net_income": PRIOR["net_income"] * 1300.0}
    converted = ohlson_o(in_krw, prior_krw, usd_per_unit=1 / 1300.0, price_index=500.0)
    assert converted.value == pytest.approx(-4.356111199579357, rel=1e-9)
    # Amounts in thousands of dollars are not dollars: SIZE drops by ln(1000) = 6.907755278982137,
    # so O rises by 0.407 * 6.907755278982137 = 2.8114563985457295
    thousands = {**FIRM, **{k: v / 1000.0 for k, v in FIRM.items() if isinstance(v, float)}}
    shifted = ohlson_o(thousands, {"net_income": 40_000.0}, usd_per_unit=None, price_index=500.0)
    assert shifted.value == pytest.approx(-4.356111199579357 + 2.8114563985457295, rel=1e-9)


def test_ohlson_missing_inputs_have_reasons() -> None:
    no_prior = ohlson_o(FIRM, None, usd_per_unit=None, price_index=500.0)
    assert no_prior.value is None
    assert "needs the prior year's net income" in no_prior.reason
    assert (
        "prior year's net income"
        in ohlson_o(FIRM, {"net_income": None}, usd_per_unit=None, price_index=500.0).reason
    )
    krw = ohlson_o({**FIRM, "currency": "KRW"}, PRIOR, usd_per_unit=None, price_index=500.0)
    assert krw.value is None and "KRW" in krw.reason and "usd_per_unit" in krw.reason
    unknown = ohlson_o(
        {k: v for k, v in FIRM.items() if k != "currency"}, PRIOR, usd_per_unit=None, price_index=500.0
    )
    assert unknown.value is None and "usd_per_unit" in unknown.reason
    no_index = ohlson_o(FIRM, PRIOR, usd_per_unit=None, price_index=None)
    assert no_index.value is None and "price_index" in no_index.reason
    no_cash_flow = ohlson_o(
        {**FIRM, "operating_cash_flow": None}, PRIOR, usd_per_unit=None, price_index=500.0
    )
    assert "operating_cash_flow" in no_cash_flow.reason


# --- Zmijewski --------------------------------------------------------------------------------------------


def test_zmijewski_worked_example() -> None:
    # X = -4.336 - 4.513*0.06 + 5.679*0.6 + 0.004*1.6 = -4.336 - 0.27078 + 3.4074 + 0.0064 = -1.19298
    result = zmijewski(FIRM)
    assert result.value == pytest.approx(-1.19298, rel=1e-12)
    assert result.zone is None
    # Phi(-1.19298) = 0.11643860295709907
    assert zmijewski_probability(result.value) == pytest.approx(0.11643860295709907, rel=1e-10)
    assert "net_income" in zmijewski({**FIRM, "net_income": None}).reason


def test_classic_scores_bundle() -> None:
    scores = classic_scores(FIRM, PRIOR, price_index=500.0)
    assert scores["altman_z"].value == pytest.approx(2.687)
    assert scores["altman_z_double_prime"].value == pytest.approx(2.7778)  # without the +3.25
    assert scores["ohlson_o"].value == pytest.approx(-4.356111199579357)
    assert scores["ohlson_probability"].value == pytest.approx(0.01266569916579019)
    assert scores["zmijewski_probability"].value == pytest.approx(0.11643860295709907)
    without_prior = classic_scores(FIRM)
    assert without_prior["ohlson_o"].value is None
    assert without_prior["ohlson_probability"].reason == without_prior["ohlson_o"].reason
    assert without_prior["altman_z"].value == pytest.approx(2.687)


# --- Merton -----------------------------------------------------------------------------------------------


def _merton_equity(v: float, sigma_v: float, d: float, r: float, t: float) -> tuple[float, float]:
    sd = sigma_v * math.sqrt(t)
    d1 = (math.log(v / d) + (r + sigma_v**2 / 2) * t) / sd
    e = v * _norm_cdf(d1) - d * math.exp(-r * t) * _norm_cdf(d1 - sd)
    return e, v / e * _norm_cdf(d1) * sigma_v


def test_merton_recovers_known_assets() -> None:
    # Known assets V = 100, sigma_V = 0.25, D = 80, r = 0.05, T = 1:
    # d1 = (ln 1.25 + 0.05 + 0.25^2/2) / 0.25 = (0.22314355131 + 0.08125) / 0.25 = 1.217574205256839
    # d2 = d1 - 0.25 = 0.967574205256839; N(d1) = 0.8883070891645315, N(d2) = 0.8333714675540299
    # E = 100*N(d1) - 80*e^-0.05*N(d2) = 25.412511998314315;  sigma_E = 100/E * N(d1) * 0.25 = 0.8738875255852859
    # DD = (ln 1.25 + 0.05 - 0.03125) / 0.25 = 0.967574205256839;  PD = N(-DD) = 0.16662853244597006
    result = merton_distance_to_default(25.412511998314315, 0.8738875255852859, 80.0, 0.05, 1.0)
    assert result.converged and result.method == "merton" and result.reason is None
    assert result.asset_value == pytest.approx(100.0, rel=1e-6)
    assert result.asset_volatility == pytest.approx(0.25, rel=1e-6)
    assert result.dd == pytest.approx(0.967574205256839, rel=1e-6)
    assert result.pd == pytest.approx(0.16662853244597006, rel=1e-6)


@pytest.mark.parametrize(
    ("equity", "sigma_e", "debt", "rate", "horizon"),
    [
        (25.412511998314315, 0.8738875255852859, 80.0, 0.05, 1.0),
        (2.5e12, 0.28, 1.1e11, 0.045, 1.0),  # large, lightly levered
        (50.0, 1.2, 900.0, 0.02, 1.0),  # highly levered, volatile
        (10.0, 0.05, 10.0, 0.0, 0.25),  # calm equity, short horizon
        (1.0, 0.6, 300.0, -0.005, 5.0),  # negative rate, long horizon
    ],
)
def test_merton_solution_reproduces_equity(
    equity: float, sigma_e: float, debt: float, rate: float, horizon: float
) -> None:
    result = merton_distance_to_default(equity, sigma_e, debt, rate, horizon)
    assert result.converged
    e_model, sigma_e_model = _merton_equity(result.asset_value, result.asset_volatility, debt, rate, horizon)
    assert abs(e_model - equity) <= 1e-6 * equity
    assert abs(sigma_e_model - sigma_e) <= 1e-6
    dd = (math.log(result.asset_value / debt) + (rate - result.asset_volatility**2 / 2) * horizon) / (
        result.asset_volatility * math.sqrt(horizon)
    )
    assert result.dd == pytest.approx(dd, rel=1e-12)
    assert result.pd == pytest.approx(_norm_cdf(-dd), rel=1e-12)


def test_naive_distance_to_default() -> None:
    # E = 60, D = 40, sigma_E = 0.5, r = mu = 0.05, T = 1:
    # sigma_D = 0.05 + 0.25*0.5 = 0.175; sigma_V = 0.6*0.5 + 0.4*0.175 = 0.37
    # DD = (ln(100/40) + 0.05 - 0.37^2/2) / 0.37 = (0.9162907318741551 + 0.05 - 0.06845) / 0.37 = 2.426596572632852
    # PD = N(-2.426596572632852) = 0.0076205966780135605
    result = naive_distance_to_default(60.0, 0.5, 40.0, 0.05)
    assert result.method == "naive_bharath_shumway"
    assert result.asset_value == pytest.approx(100.0)
    assert result.asset_volatility == pytest.approx(0.37, rel=1e-12)
    assert result.dd == pytest.approx(2.426596572632852, rel=1e-12)
    assert result.pd == pytest.approx(0.0076205966780135605, rel=1e-10)
    # With the prior-year stock return as mu (Bharath-Shumway): mu = 0.15 adds 0.10/0.37 = 0.2702703 to DD
    assert naive_distance_to_default(60.0, 0.5, 40.0, 0.05, expected_return=0.15).dd == pytest.approx(
        2.426596572632852 + 0.27027027027027023, rel=1e-12
    )


def test_merton_falls_back_to_naive_when_not_converged() -> None:
    result = merton_distance_to_default(60.0, 0.5, 40.0, 0.05, 1.0, max_iter=1)
    assert not result.converged
    assert result.method == "naive_bharath_shumway"
    assert result.dd == pytest.approx(2.426596572632852, rel=1e-12)  # the naive example above
    assert "did not converge" in result.reason


def test_merton_rejects_missing_or_non_positive_inputs() -> None:
    missing = merton_distance_to_default(100.0, None, 80.0, 0.05)  # type: ignore[arg-type]
    assert missing.dd is None and missing.method is None and "equity_volatility" in missing.reason
    zero_debt = merton_distance_to_default(100.0, 0.3, 0.0, 0.05)
    assert zero_debt.dd is None and "debt_face" in zero_debt.reason
    negative_equity = naive_distance_to_default(-5.0, 0.3, 80.0, 0.05)
    assert negative_equity.dd is None and "equity_value" in negative_equity.reason
    nan_rate = merton_distance_to_default(100.0, 0.3, 80.0, float("nan"))
    assert nan_rate.dd is None and "risk_free_rate" in nan_rate.reason


# --- price-level index ------------------------------------------------------------------------------------


def test_price_level_index_is_core_cpi_rebased_to_1968() -> None:
    assert price_level_index(1968) == (100.0, None)
    # 1968 months sum 435.9, 1969 months sum 461.0 (CPILFESL fixture): 461.0 / 435.9 * 100 = 105.75820142234458
    value, note = price_level_index(1969)
    assert value == pytest.approx(105.75820142234458, rel=1e-12)
    assert note is None
    # 2023 months sum 3700.568: 3700.568 / 435.9 * 100 = 848.948841477403
    assert price_level_index(2023)[0] == pytest.approx(848.948841477403, rel=1e-12)
    # 2024 has only January-September: the 2023 value is carried forward, with a note.
    value_2024, note_2024 = price_level_index(2024)
    assert value_2024 == pytest.approx(848.948841477403, rel=1e-12)
    assert "2023" in note_2024 and "carried forward" in note_2024
    # Ohlson takes the index of the year before the balance-sheet year.
    assert ohlson_price_index(1970) == price_level_index(1969)
    with pytest.raises(ValueError):
        price_level_index(1950)


def test_fred_parsing_skips_missing_and_partial_years() -> None:
    payload = json.loads(
        '{"observations": ['
        + ",".join(f'{{"date": "2000-{m:02d}-01", "value": "{10 + m}"}}' for m in range(1, 13))
        + ',{"date": "2001-01-01", "value": "."}'
        + "".join(f',{{"date": "2001-{m:02d}-01", "value": "30"}}' for m in range(2, 13))
        + "]}"
    )
    observations = parse_fred_observations(payload)
    assert len(observations) == 23  # the "." is dropped
    assert observations[0] == ("2000-01-01", 11.0)
    averages = annual_averages(observations)
    assert averages == {2000: pytest.approx(16.5)}  # (11 + ... + 22) / 12; 2001 has 11 months only
    assert rebase({2000: 16.5, 2001: 33.0}, base_year=2000) == {2000: 100.0, 2001: 200.0}
