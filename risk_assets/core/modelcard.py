"""The model card: what a validator needs on one page, rendered as Markdown and logged beside every version.

Data and period, features (with the Polish attribute map: how each training column is computed from a
filer's statements), the validation figures of every family and classic score, the calibration and the limits
the bundled model carries by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from risk_assets.core.ratios import mapping_table

LIMITS = (
    "Trained on Polish manufacturing SMEs of 2000-2013 (UCI 365, EMIS): the companies it scores (US SEC and "
    "Korean DART filers, much larger, other accounting regimes) are outside that population. Ranking transfers "
    "better than level; treat PDs as indicative and read the drivers.",
    "PDs are calibrated on out-of-fold scores (Platt) and then moved to a configured long-run default rate (a "
    "prior-probability shift from the training sample's rate); the sample's own default rate is not a "
    "population rate.",
    "Rows far outside the training range, or with under half the features available, are flagged "
    "out_of_domain and should not be read as a PD without judgement.",
    "Financial firms (SIC 6000-6799, KSIC section K) are excluded: balance-sheet ratios of banks and insurers "
    "mean something else.",
    "Missing values are not read (missing='impute'): the model is fitted with gaps filled by values drawn from "
    "each ratio's observed values and scores a gap at the training median. In the Polish data a gap is itself a "
    "strong signal of how the data were collected (no prior-year sales: 96% bankrupt) that would not carry to "
    "filers, where a gap is a concept-map gap. A gap is scored at one value, so a large contribution from a "
    "missing ratio deserves a look.",
    "Altman Z and Ohlson O cannot be computed from the Polish attributes (no market value of equity, no prior "
    "year); the classic benchmarks on the training data are Altman Z'' and Zmijewski.",
)


LISTED_LIMITS = (
    "Trained on US listed companies of 1999-2011 (Compustat via Lombardo et al. 2022): NYSE/NASDAQ companies with "
    "three consecutive years, mostly small and mid caps (median total assets about $110m); fewer than 30 firm-years "
    "hold more than $50bn of market value, so the model cannot tell a AA mega-cap from a good small company and its "
    "lowest PDs are about 0.2%.",
    "The panel has no filing or default dates: period end 31 December of the fiscal year, filing 90 days later, "
    "default half a year after the last fiscal year before the Chapter 11/7 filing. No SIC codes: financial firms "
    "in the panel cannot be excluded (they are excluded from scoring).",
    "The panel has no cash, interest expense or daily prices: cash/assets, interest cover, excess return, equity "
    "volatility and Merton distance to default are in the feature space but not in the bundled model.",
    "A filer's market value is usually the public float on its 10-K cover (insiders' shares left out, measured six "
    "months before the year end), not the Compustat year-end market value the model learnt from.",
    "Filing behaviour (late notices, overdue reports, audit opinions, stale statements) is not in the training "
    "data; it adjusts served PDs through documented multipliers (core/overlays.py), not through the model.",
    "Financial firms (SIC 6000-6799, KSIC section K) are excluded from scoring.",
)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def metrics_table(models: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown table of the headline figures; classic scores that are not available say why."""
    rows = []
    for name, figures in models.items():
        available = figures.get("available", True)
        rows.append(
            {
                "model": name,
                "AUC": _fmt(figures.get("auc")) if available else "n/a",
                "AR": _fmt(figures.get("ar")) if available else "n/a",
                "KS": _fmt(figures.get("ks")) if available else "n/a",
                "Brier": _fmt(figures.get("brier")) if available else "n/a",
                "log loss": _fmt(figures.get("log_loss")) if available else "n/a",
                "PSI": _fmt(figures.get("psi")),
                "grades monotone": _fmt((figures.get("grades") or {}).get("monotone")),
                "within noise": _fmt((figures.get("grades") or {}).get("monotone_within_noise")),
                "note": "" if available else str(figures.get("reason", "")),
            }
        )
    return pd.DataFrame(rows).to_markdown(index=False)


def render_model_card(
    *,
    title: str,
    chosen: str,
    selection_rule: str,
    data: Mapping[str, Any],
    features: Sequence[str],
    models: Mapping[str, Mapping[str, Any]],
    calibration: Mapping[str, Any],
    gate_rule: str | None = None,
    extra_limits: Sequence[str] = (),
    limits: Sequence[str] | None = None,
    feature_table: str | None = None,
    sections: Mapping[str, str] | None = None,
) -> str:
    """The card as Markdown. ``models``: name -> validation figures (core/evaluation.validation_figures or
    core/benchmarks.classic_figures); ``chosen`` must be one of them."""
    chosen_figures = models[chosen]
    lines = [f"# {title}", "", f"Chosen family: **{chosen}** ({selection_rule}).", "", "## Data", ""]
    lines += [f"- {key}: {value}" for key, value in data.items()]
    lines += ["", "## Features", "", f"{len(features)} features: {', '.join(features)}.", ""]
    if feature_table is None:
        lines += [
            "How each Polish attribute is computed from a filer's canonical statement items:",
            "",
            mapping_table().to_markdown(index=False),
            "",
        ]
    else:
        lines += [feature_table, ""]
    lines += ["## Validation (held-out rows)", "", metrics_table(models), ""]
    grades = chosen_figures.get("grades") or {}
    if grades.get("table"):
        falls = ", ".join(
            f"{v['grades']} (Fisher p={v['fisher_p']:.3g})" for v in grades.get("violations", [])
        )
        verdict = (
            "yes"
            if grades.get("monotone")
            else (
                f"no: {falls}; "
                + (
                    "none of the falls is significant at 5%"
                    if grades.get("monotone_within_noise")
                    else "a fall is significant at 5%"
                )
            )
        )
        lines += [
            f"Default rate per grade, {chosen} (sample scale). Rises with the grade: {verdict}; "
            f"Jeffreys test per grade at {_fmt(grades.get('jeffreys_alpha_per_grade'))} "
            f"(5% Bonferroni): failing {', '.join(grades.get('failing_grades') or []) or 'none'}.",
            "",
            pd.DataFrame(grades["table"]).to_markdown(index=False, floatfmt=".4g"),
            "",
        ]
    if chosen_figures.get("calibration_by_decile"):
        lines += [
            f"Calibration by decile, {chosen}:",
            "",
            pd.DataFrame(chosen_figures["calibration_by_decile"]).to_markdown(index=False, floatfmt=".4g"),
            "",
        ]
    for heading, body in (sections or {}).items():
        lines += [f"## {heading}", "", body, ""]
    lines += ["## Calibration", ""] + [f"- {key}: {value}" for key, value in calibration.items()]
    if gate_rule:
        lines += ["", "## Champion rule", "", gate_rule]
    lines += ["", "## Limits", ""] + [
        f"- {text}" for text in (*(LIMITS if limits is None else limits), *extra_limits)
    ]
    return "\n".join(lines) + "\n"
