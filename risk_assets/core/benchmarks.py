"""The classic scores as transparent benchmarks beside the model: from statements, or from Polish ratios.

A score is evaluated only on the rows where it exists. Where it cannot exist (Altman Z without a market value
of equity, Ohlson O without the prior year) it is reported as not available with the reason, never computed
from a guess. ``risk`` is oriented so that higher means riskier (Altman's Z is negated) for AUC and KS;
``probability`` is set only where the author defined one (Ohlson's logit, Zmijewski's probit).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_assets.core.canonical import CANONICAL_ITEMS
from risk_assets.core.classic import classic_scores
from risk_assets.core.metrics import accuracy_ratio, brier_score, ks_statistic, roc_auc

CLASSIC_SCORES = ("altman_z", "altman_z_double_prime", "ohlson_o", "zmijewski")
#: Scores where a higher value means a SAFER firm.
_SAFER_WHEN_HIGHER = frozenset({"altman_z", "altman_z_double_prime"})


@dataclass
class ClassicScore:
    """One classic score over a set of rows: NaN where it is not available, and why (``reasons``: text per
    row, None where the score exists)."""

    name: str
    risk: np.ndarray
    probability: np.ndarray | None
    reasons: np.ndarray
    note: str = ""

    def available(self) -> np.ndarray:
        return ~np.isnan(self.risk)


def _polish(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _with_reasons(
    name: str,
    values: np.ndarray,
    probability: np.ndarray | None,
    inputs: list[str],
    frame: pd.DataFrame,
    note: str,
) -> ClassicScore:
    reasons = np.full(len(values), None, dtype=object)
    for i in np.flatnonzero(np.isnan(values)):
        absent = [c for c in inputs if c not in frame.columns or pd.isna(frame[c].iloc[i])]
        reasons[i] = (
            f"{name} needs {', '.join(absent)}, which {'is' if len(absent) == 1 else 'are'} missing"
            if absent
            else f"{name}: an input is not a finite number"
        )
    risk = -values if name in _SAFER_WHEN_HIGHER else values
    return ClassicScore(name, risk, probability, reasons, note)


def _z_double_prime(
    frame: pd.DataFrame,
    x1_to_x3: tuple[str, str, str],
    equity_tl: np.ndarray,
    equity_inputs: list[str],
    note: str,
) -> ClassicScore:
    """Altman's Z'' = 6.56 X1 + 3.26 X2 + 6.72 X3 + 1.05 book equity/TL (no +3.25) over ``frame``'s columns
    ``x1_to_x3`` (WC/TA, RE/TA, EBIT/TA); ``equity_tl`` comes from ``equity_inputs``, which the data holds in
    its own form."""
    wc, re, ebit = (_polish(frame, name) for name in x1_to_x3)
    z2 = 6.56 * wc + 3.26 * re + 6.72 * ebit + 1.05 * equity_tl
    return _with_reasons("altman_z_double_prime", z2, None, [*x1_to_x3, *equity_inputs], frame, note)


def _zmijewski(frame: pd.DataFrame, inputs: tuple[str, str, str], note: str) -> ClassicScore:
    """Zmijewski X = -4.336 - 4.513 NI/TA + 5.679 TL/TA + 0.004 CA/CL over ``frame``'s columns ``inputs`` (in that
    order), with its probability Phi(X)."""
    from scipy import stats  # imported where the scores are computed: loading the definitions skips SciPy

    ni_ta, tl_ta, ca_cl = (_polish(frame, name) for name in inputs)
    zm = -4.336 - 4.513 * ni_ta + 5.679 * tl_ta + 0.004 * ca_cl
    return _with_reasons("zmijewski", zm, stats.norm.cdf(zm), list(inputs), frame, note)


POLISH_ALTMAN_Z_REASON = (
    "Altman Z needs the market value of equity (X4 = market value of equity / total liabilities): the Polish "
    "data holds book equity only (Attr8)"
)
POLISH_OHLSON_REASON = (
    "Ohlson O needs the prior year's net income (INTWO, CHIN) and total assets in US dollars deflated by a GNP "
    "price index (SIZE): a Polish row holds one year and log total assets in PLN (Attr29)"
)


def _not_computable_from_polish(frame: pd.DataFrame, name: str, reason: str) -> ClassicScore:
    """A classic score the Polish attributes cannot give: no value on any row, each row saying why."""
    n = len(frame)
    return ClassicScore(
        name,
        np.full(n, np.nan),
        None,
        np.full(n, reason, dtype=object),
        "not computable from the Polish attributes",
    )


def classic_from_polish_ratios(frame: pd.DataFrame) -> dict[str, ClassicScore]:
    """Z'' and Zmijewski from the Polish attributes; Altman Z and Ohlson O not available (reasons given).

    Z'' = 6.56 Attr3 (WC/TA) + 3.26 Attr6 (RE/TA) + 6.72 Attr22 (operating profit/TA, the EBIT the mapping
    table uses: Attr7 'EBIT/TA' holds pre-tax profit in the data) + 1.05 Attr8 (book equity/TL), without the
    +3.25 emerging-market constant (a shift changes no ranking).
    Zmijewski = -4.336 - 4.513 Attr1 (NI/TA) + 5.679 Attr2 (TL/TA) + 0.004 Attr4 (CA/CL); probability Phi(X).
    """
    return {
        "altman_z": _not_computable_from_polish(frame, "altman_z", POLISH_ALTMAN_Z_REASON),
        "altman_z_double_prime": _z_double_prime(
            frame,
            ("Attr3", "Attr6", "Attr22"),
            _polish(frame, "Attr8"),
            ["Attr8"],
            "6.56 Attr3 + 3.26 Attr6 + 6.72 Attr22 + 1.05 Attr8 (no +3.25 constant)",
        ),
        "ohlson_o": _not_computable_from_polish(frame, "ohlson_o", POLISH_OHLSON_REASON),
        "zmijewski": _zmijewski(
            frame,
            ("Attr1", "Attr2", "Attr4"),
            "-4.336 - 4.513 Attr1 + 5.679 Attr2 + 0.004 Attr4, probability Phi(X)",
        ),
    }


def _items(row: pd.Series) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in CANONICAL_ITEMS:
        value = row.get(item)
        out[item] = None if value is None or pd.isna(value) else float(value)
    out["currency"] = row.get("currency")
    return out


def classic_from_statements(statements: pd.DataFrame) -> dict[str, ClassicScore]:
    """Each classic score per statement row, as published (core/classic.py), prior year taken point in time.

    ``statements``: company_id, fiscal_year, filed_at (t; no gaps), currency (optional: USD assumed absent
    means unknown, so Ohlson O needs it), canonical items. Ohlson's SIZE uses core/price_index.
    """
    from risk_assets.core.pit import prior_year_versions
    from risk_assets.core.price_index import ohlson_price_index

    frame = statements.reset_index(drop=True)
    prior = prior_year_versions(frame)
    values = {name: np.full(len(frame), np.nan) for name in CLASSIC_SCORES}
    probabilities = {name: np.full(len(frame), np.nan) for name in ("ohlson_o", "zmijewski")}
    reasons = {name: np.full(len(frame), None, dtype=object) for name in CLASSIC_SCORES}
    for i, row in frame.iterrows():
        has_prior = prior.loc[i].notna().any()
        currency = row.get("currency")
        usd = 1.0 if isinstance(currency, str) and currency.upper() == "USD" else None
        index, _note = ohlson_price_index(int(row["fiscal_year"]))
        scores = classic_scores(
            _items(row), _items(prior.loc[i]) if has_prior else None, usd_per_unit=usd, price_index=index
        )
        for name in CLASSIC_SCORES:
            result = scores[name]
            if result.value is None:
                reasons[name][i] = result.reason or f"{name} not available"
            else:
                values[name][i] = result.value
        for name, key in (("ohlson_o", "ohlson_probability"), ("zmijewski", "zmijewski_probability")):
            if scores[key].value is not None:
                probabilities[name][i] = scores[key].value
    out = {}
    for name in CLASSIC_SCORES:
        risk = -values[name] if name in _SAFER_WHEN_HIGHER else values[name]
        out[name] = ClassicScore(
            name, risk, probabilities.get(name), reasons[name], "as published (core/classic.py)"
        )
    return out


def classic_figures(score: ClassicScore, y: np.ndarray, rows: np.ndarray | None = None) -> dict:
    """AUC, AR, KS (and Brier where the score is a probability) on the rows where the score exists.

    Not available (``available`` False) when no row has it or the rows that do hold one class only; the
    reason is the most common missing-input reason.
    """
    y = np.asarray(y, dtype=int)
    index = np.arange(len(y)) if rows is None else np.asarray(rows)
    risk = score.risk[index]
    present = ~np.isnan(risk)
    labels = y[index][present]
    reasons = Counter(str(reason) for reason in score.reasons[index][~present])
    top = [f"{reason} ({count} rows)" for reason, count in reasons.most_common(3)]
    base = {
        "family": "classic",
        "note": score.note,
        "n_test": int(index.size),
        "n_available": int(present.sum()),
        "coverage": float(present.mean()) if index.size else 0.0,
        "n_train": 0,
        "positives": int(labels.sum()),
    }
    if present.sum() == 0 or labels.min() == labels.max():
        why = top[0] if top else "the rows where it exists hold one class only"
        if present.sum() and labels.min() == labels.max():
            why = f"the {int(present.sum())} rows where it exists hold one class only"
        return base | {"available": False, "reason": why, "missing_reasons": top}
    figures = {
        "auc": roc_auc(labels, risk[present]),
        "ar": accuracy_ratio(labels, risk[present]),
        "ks": ks_statistic(labels, risk[present]),
        "brier": None,
        "log_loss": None,
    }
    if score.probability is not None:
        figures["brier"] = brier_score(labels, score.probability[index][present])
    else:
        figures["brier_note"] = "a score, not a probability: no Brier score"
    return base | {"available": True, **figures, "missing_reasons": top}


def _field(frame: pd.DataFrame, name: str) -> np.ndarray:
    return _polish(frame, name)


def classic_from_field_features(frame: pd.DataFrame) -> dict[str, ClassicScore]:
    """Altman Z, Z'' (book equity for X4), Zmijewski and Ohlson O from the field features (core/field_features).

    Z = 1.2 wc_ta + 1.4 re_ta + 3.3 ebit_ta + 0.6 mve_tl + 1.0 sales_ta (Altman 1968, decimal form).
    Z'' = 6.56 wc_ta + 3.26 re_ta + 6.72 ebit_ta + 1.05 (1/tl_ta - 1) (book equity / liabilities; no +3.25).
    Zmijewski = -4.336 - 4.513 ni_ta + 5.679 tl_ta + 0.004 ca_cl; probability Phi(X).
    O = -1.32 - 0.407 SIZE + 6.03 tl_ta - 1.43 wc_ta + 0.0757 / ca_cl - 1.72 OENEG - 2.37 ni_ta - 1.83 ffo_tl
        + 0.285 intwo - 0.521 chin, SIZE = log_real_assets (log real US$ millions: a shift of Ohlson's unit, so
        O ranks as published but its level, and so its probability, is not Ohlson's).
    """
    wc, re, ebit, sales = (_field(frame, n) for n in ("wc_ta", "re_ta", "ebit_ta", "sales_ta"))
    tl, ni, ca_cl, mve_tl = (_field(frame, n) for n in ("tl_ta", "ni_ta", "ca_cl", "mve_tl"))
    with np.errstate(divide="ignore", invalid="ignore"):
        book_cover = np.where(tl > 0, 1.0 / tl - 1.0, np.nan)
        cl_ca = np.where(ca_cl > 0, 1.0 / ca_cl, np.nan)
    z = 1.2 * wc + 1.4 * re + 3.3 * ebit + 0.6 * mve_tl + 1.0 * sales
    oeneg = np.where(np.isnan(tl), np.nan, (tl > 1).astype(float))
    o = (
        -1.32
        - 0.407 * _field(frame, "log_real_assets")
        + 6.03 * tl
        - 1.43 * wc
        + 0.0757 * cl_ca
        - 1.72 * oeneg
        - 2.37 * ni
        - 1.83 * _field(frame, "ffo_tl")
        + 0.285 * _field(frame, "intwo")
        - 0.521 * _field(frame, "chin")
    )
    return {
        "altman_z": _with_reasons(
            "altman_z",
            z,
            None,
            ["wc_ta", "re_ta", "ebit_ta", "mve_tl", "sales_ta"],
            frame,
            "1.2 X1 + 1.4 X2 + 3.3 X3 + 0.6 X4 + 1.0 X5 (Altman 1968)",
        ),
        "altman_z_double_prime": _z_double_prime(
            frame,
            ("wc_ta", "re_ta", "ebit_ta"),
            book_cover,
            ["tl_ta"],
            "6.56 X1 + 3.26 X2 + 6.72 X3 + 1.05 book equity/TL (no +3.25)",
        ),
        "ohlson_o": _with_reasons(
            "ohlson_o",
            o,
            None,
            ["log_real_assets", "tl_ta", "wc_ta", "ca_cl", "ni_ta", "ffo_tl", "intwo", "chin"],
            frame,
            "Ohlson (1980) model 1, SIZE in log real US$ millions (ranking only)",
        ),
        "zmijewski": _zmijewski(
            frame,
            ("ni_ta", "tl_ta", "ca_cl"),
            "-4.336 - 4.513 NI/TA + 5.679 TL/TA + 0.004 CA/CL, probability Phi(X)",
        ),
    }
