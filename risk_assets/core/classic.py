"""Classic default scores with their published coefficients: Altman Z and Z'', Ohlson O, Zmijewski, Merton DD.

They are benchmarks and features beside the model, so each is computed exactly as published; where an input is
missing the score is None with a reason that names the input, never a guess. Items are canonical statement items
(core/canonical.py) in the filing currency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

Items = Mapping[str, object]


@dataclass(frozen=True)
class ScoreResult:
    """A score, or None with the reason (the missing input is named); ``zone`` where the author defined one."""

    value: float | None
    reason: str | None
    zone: str | None


@dataclass(frozen=True)
class MertonResult:
    """Distance to default and PD = N(-DD). ``converged`` is whether the iterative Merton solve converged.

    ``method`` is "merton" for the solved model, "naive_bharath_shumway" for the naive form (called
    directly or as the fallback), None when inputs were unusable (then ``reason`` says why).
    """

    dd: float | None
    pd: float | None
    asset_value: float | None
    asset_volatility: float | None
    converged: bool
    method: str | None
    reason: str | None = None


def _missing(reason: str) -> ScoreResult:
    return ScoreResult(value=None, reason=reason, zone=None)


def _number(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _inputs(items: Items, names: tuple[str, ...], score: str) -> tuple[dict[str, float], str | None]:
    """The named items as floats, or a reason naming every missing one."""
    values = {name: _number(items.get(name)) for name in names}
    absent = [name for name, value in values.items() if value is None]
    if absent:
        return {}, f"{score} needs {', '.join(absent)}, which {'is' if len(absent) == 1 else 'are'} missing"
    return values, None  # type: ignore[return-value]


def _nonzero(values: Mapping[str, float], names: tuple[str, ...], score: str) -> str | None:
    zero = [name for name in names if values[name] == 0]
    return f"{score}: {', '.join(zero)} is zero (division by zero)" if zero else None


def _positive_assets(values: Mapping[str, float], score: str) -> str | None:
    return None if values["total_assets"] > 0 else f"{score}: total_assets is not positive"


def _zone(value: float, distress_below: float, safe_above: float) -> str:
    """Altman's zones: distress below the lower cut-off, safe above the upper one, grey in between (inclusive)."""
    if value < distress_below:
        return "distress"
    if value > safe_above:
        return "safe"
    return "grey"


def _altman_inputs(items: Items, names: tuple[str, ...], score: str) -> tuple[dict[str, float], str | None]:
    """The inputs of an Altman score, or why it cannot be computed: all present, positive assets, nonzero TL."""
    values, reason = _inputs(items, names, score)
    return values, reason or _positive_assets(values, score) or _nonzero(
        values, ("total_liabilities",), score
    )


def _altman_x1_to_x3(values: Mapping[str, float], wc: float, re: float, ebit: float) -> float:
    """The terms Z and Z'' share, each with its own coefficient: working capital, retained earnings and EBIT over
    total assets (summed in the published order, so both scores keep their exact floating-point values)."""
    ta = values["total_assets"]
    return (
        wc * (values["current_assets"] - values["current_liabilities"]) / ta
        + re * values["retained_earnings"] / ta
        + ebit * values["ebit"] / ta
    )


_ALTMAN_Z_ITEMS = (
    "current_assets",
    "current_liabilities",
    "retained_earnings",
    "ebit",
    "market_value_equity",
    "revenue",
    "total_assets",
    "total_liabilities",
)


def altman_z(items: Items) -> ScoreResult:
    """Altman (1968): Z = 1.2 WC/TA + 1.4 RE/TA + 3.3 EBIT/TA + 0.6 MVE/TL + 1.0 Sales/TA.

    Decimal-coefficient form (the paper's 0.012 ... 0.999 take ratios in percent). MVE is the market value of
    equity and TL the book value of total liabilities. Zones: < 1.81 distress, 1.81-2.99 grey, > 2.99 safe.
    """
    v, reason = _altman_inputs(items, _ALTMAN_Z_ITEMS, "Altman Z")
    if reason:
        return _missing(reason)
    z = (
        _altman_x1_to_x3(v, 1.2, 1.4, 3.3)
        + 0.6 * v["market_value_equity"] / v["total_liabilities"]
        + 1.0 * v["revenue"] / v["total_assets"]
    )
    return ScoreResult(value=z, reason=None, zone=_zone(z, 1.81, 2.99))


_Z2_ITEMS = (
    "current_assets",
    "current_liabilities",
    "retained_earnings",
    "ebit",
    "total_equity",
    "total_assets",
    "total_liabilities",
)
EMERGING_MARKET_CONSTANT = 3.25


def altman_z_double_prime(items: Items, emerging_market_constant: bool = False) -> ScoreResult:
    """Altman's Z'' (non-manufacturers and emerging markets): 6.56 X1 + 3.26 X2 + 6.72 X3 + 1.05 BVE/TL.

    The +3.25 constant of Altman's emerging-market score is added only when asked. Zones without it: < 1.1
    distress, 1.1-2.6 grey, > 2.6 safe; with it the same cut-offs shifted by 3.25 (4.35 and 5.85).
    """
    v, reason = _altman_inputs(items, _Z2_ITEMS, "Altman Z''")
    if reason:
        return _missing(reason)
    z = _altman_x1_to_x3(v, 6.56, 3.26, 6.72) + 1.05 * v["total_equity"] / v["total_liabilities"]
    shift = EMERGING_MARKET_CONSTANT if emerging_market_constant else 0.0
    z += shift
    return ScoreResult(value=z, reason=None, zone=_zone(z, 1.1 + shift, 2.6 + shift))


_OHLSON_ITEMS = (
    "total_assets",
    "total_liabilities",
    "current_assets",
    "current_liabilities",
    "net_income",
    "operating_cash_flow",
)


def _total_assets_usd(
    items: Items, total_assets: float, usd_per_unit: float | None
) -> tuple[float | None, str | None]:
    """Total assets in US dollars: ``usd_per_unit`` converts; without it only a USD filing is usable."""
    if usd_per_unit is not None:
        rate = _number(usd_per_unit)
        if rate is None or rate <= 0:
            return None, f"Ohlson O: usd_per_unit must be a positive number, got {usd_per_unit!r}"
        return total_assets * rate, None
    currency = items.get("currency")
    if currency is None or str(currency).strip() == "":
        return (
            None,
            "Ohlson O needs total assets in USD: the filing currency is unknown and no usd_per_unit was given",
        )
    if str(currency).strip().upper() != "USD":
        return (
            None,
            f"Ohlson O needs total assets in USD: the statement is in {currency} and no usd_per_unit was given",
        )
    return total_assets, None


def ohlson_o(
    items: Items,
    prior_items: Items | None,
    *,
    usd_per_unit: float | None,
    price_index: float | None,
) -> ScoreResult:
    """Ohlson (1980) model 1 (bankruptcy within one year), as published:

    O = -1.32 - 0.407 SIZE + 6.03 TLTA - 1.43 WCTA + 0.0757 CLCA - 2.37 NITA - 1.83 FUTL + 0.285 INTWO
        - 1.72 OENEG - 0.521 CHIN

    SIZE = ln(total assets in US dollars (units, not thousands) / price-level index with 1968 = 100), as Ohlson
    (total assets "as reported in dollars"). ``price_index`` should be core/price_index.ohlson_price_index(year)
    (CPILFESL standing in for the GNP deflator). FUTL uses operating_cash_flow for Ohlson's "funds provided by
    operations". INTWO = 1 if net income was negative in this and the prior year; OENEG = 1 if TL > TA;
    CHIN = (NI_t - NI_t-1) / (|NI_t| + |NI_t-1|), taken as 0 when both are zero (no change).
    The statement's currency is read from ``items["currency"]``; non-USD needs ``usd_per_unit``.
    """
    v, reason = _inputs(items, _OHLSON_ITEMS, "Ohlson O")
    if reason:
        return _missing(reason)
    prior_ni = _number(prior_items.get("net_income")) if prior_items is not None else None
    if prior_ni is None:
        return _missing("Ohlson O needs the prior year's net income (prior_items['net_income'])")
    reason = _positive_assets(v, "Ohlson O") or _nonzero(
        v, ("total_liabilities", "current_assets"), "Ohlson O"
    )
    if reason:
        return _missing(reason)
    index = _number(price_index)
    if index is None or index <= 0:
        return _missing("Ohlson O needs the GNP price-level index (price_index, 1968 = 100)")
    assets_usd, reason = _total_assets_usd(items, v["total_assets"], usd_per_unit)
    if assets_usd is None:
        return _missing(reason or "Ohlson O: total assets in USD unavailable")

    ta, tl, ni = v["total_assets"], v["total_liabilities"], v["net_income"]
    size = math.log(assets_usd / index)
    tlta = tl / ta
    wcta = (v["current_assets"] - v["current_liabilities"]) / ta
    clca = v["current_liabilities"] / v["current_assets"]
    nita = ni / ta
    futl = v["operating_cash_flow"] / tl
    intwo = 1.0 if ni < 0 and prior_ni < 0 else 0.0
    oeneg = 1.0 if tl > ta else 0.0
    scale = abs(ni) + abs(prior_ni)
    chin = (ni - prior_ni) / scale if scale > 0 else 0.0
    o = (
        -1.32
        - 0.407 * size
        + 6.03 * tlta
        - 1.43 * wcta
        + 0.0757 * clca
        - 2.37 * nita
        - 1.83 * futl
        + 0.285 * intwo
        - 1.72 * oeneg
        - 0.521 * chin
    )
    return ScoreResult(value=o, reason=None, zone=None)


def ohlson_probability(o: float) -> float:
    """Ohlson's logistic probability of bankruptcy, 1 / (1 + exp(-O)), without overflow."""
    if o >= 0:
        return 1.0 / (1.0 + math.exp(-o))
    e = math.exp(o)
    return e / (1.0 + e)


_ZMIJEWSKI_ITEMS = (
    "net_income",
    "total_assets",
    "total_liabilities",
    "current_assets",
    "current_liabilities",
)


def zmijewski(items: Items) -> ScoreResult:
    """Zmijewski (1984) probit index X = -4.336 - 4.513 NI/TA + 5.679 TL/TA + 0.004 CA/CL (value = X)."""
    v, reason = _inputs(items, _ZMIJEWSKI_ITEMS, "Zmijewski")
    reason = reason or _positive_assets(v, "Zmijewski") or _nonzero(v, ("current_liabilities",), "Zmijewski")
    if reason:
        return _missing(reason)
    ta = v["total_assets"]
    x = (
        -4.336
        - 4.513 * v["net_income"] / ta
        + 5.679 * v["total_liabilities"] / ta
        + 0.004 * v["current_assets"] / v["current_liabilities"]
    )
    return ScoreResult(value=x, reason=None, zone=None)


def zmijewski_probability(x: float) -> float:
    """Probit probability Phi(X) of Zmijewski's index."""
    return _norm_cdf(x)


def _merton_inputs(
    equity_value: object,
    equity_volatility: object,
    debt_face: object,
    risk_free_rate: object,
    horizon_years: object,
) -> tuple[tuple[float, float, float, float, float] | None, str | None]:
    named = {
        "equity_value": equity_value,
        "equity_volatility": equity_volatility,
        "debt_face": debt_face,
        "risk_free_rate": risk_free_rate,
        "horizon_years": horizon_years,
    }
    values = {name: _number(value) for name, value in named.items()}
    absent = [name for name, value in values.items() if value is None]
    if absent:
        return None, f"distance to default needs {', '.join(absent)} (missing or not a finite number)"
    not_positive = [
        name
        for name in ("equity_value", "equity_volatility", "debt_face", "horizon_years")
        if values[name] <= 0
    ]  # type: ignore[operator]
    if not_positive:
        return None, f"distance to default needs positive {', '.join(not_positive)}"
    return (
        values["equity_value"],
        values["equity_volatility"],
        values["debt_face"],  # type: ignore[return-value]
        values["risk_free_rate"],
        values["horizon_years"],
    ), None


def _norm_cdf(x: float) -> float:
    """Standard normal CDF with math.erfc: accurate in both tails and fast for scalars."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _distance(
    asset_value: float, asset_volatility: float, debt_face: float, drift: float, horizon: float
) -> float:
    return (math.log(asset_value / debt_face) + (drift - 0.5 * asset_volatility**2) * horizon) / (
        asset_volatility * math.sqrt(horizon)
    )


def _call_value(
    asset_value: float, asset_volatility: float, debt_face: float, rate: float, horizon: float
) -> tuple[float, float]:
    """Black-Scholes-Merton equity value (a call on the assets) and N(d1)."""
    sd = asset_volatility * math.sqrt(horizon)
    d1 = (math.log(asset_value / debt_face) + (rate + 0.5 * asset_volatility**2) * horizon) / sd
    n_d1 = _norm_cdf(d1)
    equity = asset_value * n_d1 - debt_face * math.exp(-rate * horizon) * _norm_cdf(d1 - sd)
    return equity, n_d1


def merton_distance_to_default(
    equity_value: float,
    equity_volatility: float,
    debt_face: float,
    risk_free_rate: float,
    horizon_years: float = 1.0,
    *,
    tol: float = 1e-8,
    max_iter: int = 500,
) -> MertonResult:
    """Merton (1974) distance to default, solving asset value V and volatility sigma_V from equity.

    Solves E = V N(d1) - D e^{-rT} N(d2) and sigma_E = (V/E) N(d1) sigma_V jointly. For a given sigma_V the
    first equation has one root V in [E, E + D e^{-rT}] (the call value rises with V and lies between
    V - D e^{-rT} and V), so the system reduces to one equation in sigma_V, whose root lies in
    [sigma_E E / (E + D e^{-rT}), sigma_E] (the equity's elasticity is >= 1 and <= (E + D e^{-rT}) / E). Both
    are solved by bracketed Brent iterations (relative tolerance ``tol``, at most ``max_iter`` outer
    iterations); the result is accepted when both equations hold within 100 x ``tol`` relative.
    DD = (ln(V/D) + (r - sigma_V^2/2) T) / (sigma_V sqrt T), PD = N(-DD) (drift r: the risk-neutral form).
    Otherwise it falls back to the naive Bharath-Shumway form (``converged`` False, the reason says so).
    """
    checked, reason = _merton_inputs(
        equity_value, equity_volatility, debt_face, risk_free_rate, horizon_years
    )
    if checked is None:
        return MertonResult(None, None, None, None, converged=False, method=None, reason=reason)
    from scipy.optimize import brentq  # SciPy (~1.5 s to import) only where a Merton model is solved

    e, sigma_e, d, r, t = checked
    upper_value = e + d * math.exp(-r * t)

    def asset_value(sigma_v: float) -> float:
        # The bracket is widened by 1e-6 so rounding cannot give both ends the same sign.
        return brentq(
            lambda a: _call_value(a, sigma_v, d, r, t)[0] - e,
            e * (1 - 1e-6),
            upper_value * (1 + 1e-6),
            xtol=1e-300,
            rtol=4 * 2.220446049250313e-16,
            maxiter=500,
        )

    def volatility_gap(sigma_v: float) -> float:
        v = asset_value(sigma_v)
        return v / e * _call_value(v, sigma_v, d, r, t)[1] * sigma_v - sigma_e

    try:
        sigma_v = brentq(
            volatility_gap,
            0.5 * sigma_e * e / upper_value,
            sigma_e,
            xtol=1e-300,
            rtol=max(tol, 4 * 2.220446049250313e-16),
            maxiter=max_iter,
        )
        v = asset_value(sigma_v)
        equity_model, n_d1 = _call_value(v, sigma_v, d, r, t)
        solved = (
            abs(equity_model - e) <= 100 * tol * e
            and abs(v / e * n_d1 * sigma_v - sigma_e) <= 100 * tol * sigma_e
        )
    except (ValueError, RuntimeError, ZeroDivisionError, OverflowError):
        solved = False
    if solved:
        dd = _distance(v, sigma_v, d, r, t)
        return MertonResult(
            dd=dd, pd=_norm_cdf(-dd), asset_value=v, asset_volatility=sigma_v, converged=True, method="merton"
        )
    fallback = naive_distance_to_default(e, sigma_e, d, r, t)
    return MertonResult(
        dd=fallback.dd,
        pd=fallback.pd,
        asset_value=fallback.asset_value,
        asset_volatility=fallback.asset_volatility,
        converged=False,
        method=fallback.method,
        reason="the Merton solve did not converge; naive Bharath-Shumway form used",
    )


def naive_distance_to_default(
    equity_value: float,
    equity_volatility: float,
    debt_face: float,
    risk_free_rate: float,
    horizon_years: float = 1.0,
    *,
    expected_return: float | None = None,
) -> MertonResult:
    """Bharath & Shumway (2008) naive distance to default (no solve).

    V = E + D; sigma_D = 0.05 + 0.25 sigma_E; sigma_V = E/(E+D) sigma_E + D/(E+D) sigma_D;
    DD = (ln(V/D) + (mu - sigma_V^2/2) T) / (sigma_V sqrt T), PD = N(-DD). Bharath and Shumway take mu as the
    firm's stock return over the previous year; here mu = ``expected_return`` if given, else the risk-free rate.
    """
    checked, reason = _merton_inputs(
        equity_value, equity_volatility, debt_face, risk_free_rate, horizon_years
    )
    if checked is None:
        return MertonResult(None, None, None, None, converged=False, method=None, reason=reason)
    e, sigma_e, d, r, t = checked
    mu = r if expected_return is None else _number(expected_return)
    if mu is None:
        return MertonResult(
            None,
            None,
            None,
            None,
            converged=False,
            method=None,
            reason="naive distance to default: expected_return is not a finite number",
        )
    v = e + d
    sigma_d = 0.05 + 0.25 * sigma_e
    sigma_v = e / v * sigma_e + d / v * sigma_d
    dd = _distance(v, sigma_v, d, mu, t)
    return MertonResult(
        dd=dd,
        pd=_norm_cdf(-dd),
        asset_value=v,
        asset_volatility=sigma_v,
        converged=False,
        method="naive_bharath_shumway",
    )


def classic_scores(
    items: Items,
    prior_items: Items | None = None,
    *,
    usd_per_unit: float | None = None,
    price_index: float | None = None,
) -> dict[str, ScoreResult]:
    """All statement-based classic scores for one statement (Z'' without the emerging-market constant).

    Merton DD is not here: it needs equity volatility and debt from market data (market_features computes it).
    The probability entries carry the parent score's reason when it is missing.
    """
    o = ohlson_o(items, prior_items, usd_per_unit=usd_per_unit, price_index=price_index)
    x = zmijewski(items)
    return {
        "altman_z": altman_z(items),
        "altman_z_double_prime": altman_z_double_prime(items),
        "ohlson_o": o,
        "ohlson_probability": ScoreResult(
            value=None if o.value is None else ohlson_probability(o.value), reason=o.reason, zone=None
        ),
        "zmijewski": x,
        "zmijewski_probability": ScoreResult(
            value=None if x.value is None else zmijewski_probability(x.value), reason=x.reason, zone=None
        ),
    }


# --- the same scores over a frame of statements (the features asset: a whole market at once) ----------------

#: The statement-based scores of classic_scores, in its order; each has a value and a reason column in
#: classic_score_frame, the Altman scores a zone column too.
CLASSIC_SCORES: tuple[str, ...] = (
    "altman_z",
    "altman_z_double_prime",
    "ohlson_o",
    "ohlson_probability",
    "zmijewski",
    "zmijewski_probability",
)
ZONED_SCORES: tuple[str, ...] = ("altman_z", "altman_z_double_prime")


def _math_map(function: Callable[[float], float], values: np.ndarray) -> np.ndarray:
    """``function`` (a ``math`` function) over an array. numpy's vectorised log, exp and erfc differ from libm's in
    the last bits; mapping the scalar function keeps every value bit-identical to classic_scores'."""
    return np.fromiter(map(function, values.tolist()), dtype=float, count=values.size)


def _frame_values(items: pd.DataFrame, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named items as float arrays, NaN where absent or not finite (what _number reads as None)."""
    out = {}
    for name in names:
        column = (
            pd.to_numeric(items[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            if name in items.columns
            else np.full(len(items), np.nan)
        )
        out[name] = np.where(np.isfinite(column), column, np.nan)
    return out


class _Reasons:
    """Reasons per row, the first one found winning (the scalar functions return at the first failed check)."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, None, dtype=object)
        self.ok = np.ones(n, dtype=bool)

    def fail(self, bad: np.ndarray, text: str | np.ndarray) -> None:
        """Rows still computable where ``bad`` holds get ``text`` (one string, or one per row)."""
        hit = self.ok & bad
        self.text[hit] = text if isinstance(text, str) else text[hit]
        self.ok &= ~hit

    def missing(self, values: Mapping[str, np.ndarray], names: tuple[str, ...], score: str) -> None:
        """_inputs' reason: every missing input named in ``names``' order (one string per missing pattern)."""
        absent = np.column_stack([np.isnan(values[name]) for name in names])
        codes = absent.astype(np.int64) @ (np.int64(1) << np.arange(len(names), dtype=np.int64))
        patterns, inverse = np.unique(codes, return_inverse=True)
        texts = np.array(
            [
                _inputs({n: (None if code >> i & 1 else 0.0) for i, n in enumerate(names)}, names, score)[1]
                for code in patterns.tolist()
            ],
            dtype=object,
        )
        self.fail(codes > 0, texts[inverse])

    def nonzero(self, values: Mapping[str, np.ndarray], names: tuple[str, ...], score: str) -> None:
        """_nonzero's reason: every zero denominator among ``names`` named."""
        zero = np.column_stack([values[name] == 0 for name in names])
        for pattern in {tuple(row) for row in np.unique(zero[self.ok], axis=0).tolist()} - {
            (False,) * len(names)
        }:
            hit = (zero == np.array(pattern)).all(axis=1)
            self.fail(
                hit,
                f"{score}: {', '.join(n for n, z in zip(names, pattern, strict=True) if z)} is zero (division by zero)",
            )

    def positive_assets(self, values: Mapping[str, np.ndarray], score: str) -> None:
        self.fail(~(values["total_assets"] > 0), f"{score}: total_assets is not positive")


def _zone_array(
    value: np.ndarray, computed: np.ndarray, distress_below: float, safe_above: float
) -> np.ndarray:
    """_zone per row where the score was computed (None elsewhere): a NaN score is "grey", as _zone says."""
    zone = np.where(value < distress_below, "distress", np.where(value > safe_above, "safe", "grey"))
    return np.where(computed, zone.astype(object), None)


def _altman_reasons(values: Mapping[str, np.ndarray], names: tuple[str, ...], score: str) -> _Reasons:
    """_altman_inputs' checks per row: every input present, positive assets, nonzero total liabilities."""
    reasons = _Reasons(len(values["total_assets"]))
    reasons.missing(values, names, score)
    reasons.positive_assets(values, score)
    reasons.nonzero(values, ("total_liabilities",), score)
    return reasons


def _x1_to_x3(v: Mapping[str, np.ndarray], wc: float, re: float, ebit: float) -> np.ndarray:
    ta = v["total_assets"]
    return (
        wc * (v["current_assets"] - v["current_liabilities"]) / ta
        + re * v["retained_earnings"] / ta
        + ebit * v["ebit"] / ta
    )


def classic_score_frame(
    items: pd.DataFrame,
    prior_net_income: np.ndarray | pd.Series | None = None,
    *,
    usd_per_unit: np.ndarray | pd.Series | None = None,
    price_index: np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """classic_scores for every row of ``items`` at once: for each name of CLASSIC_SCORES a value column (NaN
    where classic_scores' value is None or not finite), ``<name>_reason`` and, for ZONED_SCORES, ``<name>_zone``.

    Same semantics, reasons and floating-point values as classic_scores row by row: ``items`` holds canonical
    items as columns (an absent column is a missing item; ``currency`` read as classic_scores reads
    ``items["currency"]``); ``prior_net_income`` is the prior year's net income (NaN: no prior year known);
    ``usd_per_unit`` per row (NaN: not given) and ``price_index`` per row (NaN: unknown).
    """
    n = len(items)
    needed = tuple(dict.fromkeys(_ALTMAN_Z_ITEMS + _Z2_ITEMS + _OHLSON_ITEMS + _ZMIJEWSKI_ITEMS))
    v = _frame_values(items, needed)

    def per_row(values: np.ndarray | pd.Series | None) -> np.ndarray:
        if values is None:
            return np.full(n, np.nan)
        out = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        if out.shape != (n,):
            raise ValueError(f"classic_score_frame: {out.shape[0]} values for {n} rows")
        return out

    prior_ni, rate, index = per_row(prior_net_income), per_row(usd_per_unit), per_row(price_index)
    prior_ni = np.where(np.isfinite(prior_ni), prior_ni, np.nan)
    out: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        # Altman Z and Z''
        reasons = _altman_reasons(v, _ALTMAN_Z_ITEMS, "Altman Z")
        z = (
            _x1_to_x3(v, 1.2, 1.4, 3.3)
            + 0.6 * v["market_value_equity"] / v["total_liabilities"]
            + 1.0 * v["revenue"] / v["total_assets"]
        )
        out["altman_z"] = np.where(reasons.ok, z, np.nan)
        out["altman_z_reason"] = reasons.text
        out["altman_z_zone"] = _zone_array(z, reasons.ok, 1.81, 2.99)

        reasons = _altman_reasons(v, _Z2_ITEMS, "Altman Z''")
        z2 = _x1_to_x3(v, 6.56, 3.26, 6.72) + 1.05 * v["total_equity"] / v["total_liabilities"]
        z2 += 0.0  # no emerging-market constant: classic_scores adds a 0.0 shift (-0.0 becomes 0.0)
        out["altman_z_double_prime"] = np.where(reasons.ok, z2, np.nan)
        out["altman_z_double_prime_reason"] = reasons.text
        out["altman_z_double_prime_zone"] = _zone_array(z2, reasons.ok, 1.1, 2.6)

        # Ohlson O: the checks in ohlson_o's order
        reasons = _Reasons(n)
        reasons.missing(v, _OHLSON_ITEMS, "Ohlson O")
        reasons.fail(
            np.isnan(prior_ni), "Ohlson O needs the prior year's net income (prior_items['net_income'])"
        )
        reasons.positive_assets(v, "Ohlson O")
        reasons.nonzero(v, ("total_liabilities", "current_assets"), "Ohlson O")
        reasons.fail(
            ~(np.isfinite(index) & (index > 0)),
            "Ohlson O needs the GNP price-level index (price_index, 1968 = 100)",
        )
        given = ~np.isnan(rate)
        bad_rate = given & ~(np.isfinite(rate) & (rate > 0))
        for value in np.unique(rate[bad_rate & reasons.ok]).tolist():
            reasons.fail(
                bad_rate & (rate == value), f"Ohlson O: usd_per_unit must be a positive number, got {value!r}"
            )
        # Without a rate only a USD statement is usable; a missing currency (None, NaN, blank) is unknown.
        unconverted = ~given & reasons.ok
        if unconverted.any():
            currency = (
                items["currency"].to_numpy(dtype=object)
                if "currency" in items.columns
                else np.full(n, None, dtype=object)
            )
            codes, currencies = pd.factorize(currency[unconverted])
            texts = [_total_assets_usd({"currency": c}, 1.0, None)[1] for c in currencies.tolist()]
            unknown = _total_assets_usd({"currency": None}, 1.0, None)[1]
            why = np.full(n, None, dtype=object)
            why[unconverted] = np.array([*texts, unknown], dtype=object)[codes]  # code -1 (missing): the last
            reasons.fail(unconverted & pd.notna(why), why)
        ta, tl, ni = v["total_assets"], v["total_liabilities"], v["net_income"]
        assets_usd = np.where(given, ta * rate, ta)
        ok = reasons.ok
        size = np.full(n, np.nan)
        size[ok] = _math_map(math.log, assets_usd[ok] / index[ok])
        tlta = tl / ta
        wcta = (v["current_assets"] - v["current_liabilities"]) / ta
        clca = v["current_liabilities"] / v["current_assets"]
        nita = ni / ta
        futl = v["operating_cash_flow"] / tl
        intwo = np.where((ni < 0) & (prior_ni < 0), 1.0, 0.0)
        oeneg = np.where(tl > ta, 1.0, 0.0)
        scale = np.abs(ni) + np.abs(prior_ni)
        chin = np.where(scale > 0, (ni - prior_ni) / scale, 0.0)
        o = (
            -1.32
            - 0.407 * size
            + 6.03 * tlta
            - 1.43 * wcta
            + 0.0757 * clca
            - 2.37 * nita
            - 1.83 * futl
            + 0.285 * intwo
            - 1.72 * oeneg
            - 0.521 * chin
        )
        o = np.where(ok, o, np.nan)
        positive = o >= 0
        e = np.full(n, np.nan)
        e[ok] = _math_map(math.exp, np.where(positive, -o, o)[ok])
        out["ohlson_o"] = o
        out["ohlson_o_reason"] = reasons.text
        out["ohlson_probability"] = np.where(positive, 1.0 / (1.0 + e), e / (1.0 + e))
        out["ohlson_probability_reason"] = reasons.text

        # Zmijewski
        reasons = _Reasons(n)
        reasons.missing(v, _ZMIJEWSKI_ITEMS, "Zmijewski")
        reasons.positive_assets(v, "Zmijewski")
        reasons.nonzero(v, ("current_liabilities",), "Zmijewski")
        x = (
            -4.336
            - 4.513 * ni / ta
            + 5.679 * tl / ta
            + 0.004 * v["current_assets"] / v["current_liabilities"]
        )
        x = np.where(reasons.ok, x, np.nan)
        tail = np.full(n, np.nan)
        tail[reasons.ok] = _math_map(math.erfc, (-x / math.sqrt(2.0))[reasons.ok])
        out["zmijewski"] = x
        out["zmijewski_reason"] = reasons.text
        out["zmijewski_probability"] = 0.5 * tail
        out["zmijewski_probability_reason"] = reasons.text
    for name in CLASSIC_SCORES:  # classic values are finite or None
        out[name] = np.where(np.isfinite(out[name]), out[name], np.nan)
    return pd.DataFrame(out, index=items.index)
