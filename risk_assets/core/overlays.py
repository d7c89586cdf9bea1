"""Filing behaviour and stale statements: a documented adjustment of the model's PD.

No bundled training panel records late-filing notices, overdue reports, audit opinions or how old a company's
newest statement is, so no model can learn their weight here. They still carry information a credit analyst
acts on (a company that stops filing, or files an NT 10-K, or gets a going-concern opinion, is not the company
of its last statement), so they adjust the PD by fixed odds multipliers, applied to the calibrated log-odds:

    PD_served = sigmoid(logit(PD_model) + sum of ln(multiplier) over the flags that apply)

The multipliers are expert judgement, written here once, recorded with every score they change (``overlay`` in
the drivers), configurable in code review, and to be re-estimated as soon as a panel with these signals and its
defaults exists (a user's own statements + events would give one).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: An annual statement is due within about 90 days of the year end; a newest statement filed more than this many
#: days before the scoring date means at least one annual report is missing.
STALE_AFTER_DAYS = 15 * 31 + 30


@dataclass(frozen=True)
class OverlayRule:
    late_filing_notice: float = 2.0  # a late-filing notice (NT 10-K / NT 10-Q) in the last 12 months
    filing_overdue: float = 3.0  # a periodic report past its deadline and grace period, still missing
    non_clean_opinion: float = 3.0  # a qualified, adverse or disclaimed opinion, or going-concern doubt
    stale_statements: float = 2.0  # the newest statement is older than STALE_AFTER_DAYS
    stale_after_days: int = STALE_AFTER_DAYS


def overlay_terms(
    flags: dict[str, Any] | None,
    statement_filed_at: dt.date | None,
    as_of: dt.date,
    rule: OverlayRule = OverlayRule(),
) -> list[dict[str, Any]]:
    """The adjustments that apply, each with its reason and log-odds shift."""
    flags = flags or {}
    terms = []

    def add(name: str, multiplier: float, reason: str) -> None:
        terms.append(
            {"name": name, "multiplier": multiplier, "log_odds": math.log(multiplier), "reason": reason}
        )

    if (flags.get("late_filing_notices_12m") or 0) > 0:
        add(
            "late_filing_notice",
            rule.late_filing_notice,
            f"{flags['late_filing_notices_12m']} late-filing notice(s) in the 12 months to {as_of}",
        )
    if flags.get("filing_overdue"):
        add("filing_overdue", rule.filing_overdue, f"a periodic report was overdue at {as_of}")
    if flags.get("non_clean_audit_opinion"):
        add("non_clean_opinion", rule.non_clean_opinion, "a non-clean audit opinion in the last 400 days")
    if statement_filed_at is not None:
        age = (as_of - statement_filed_at).days
        if age > rule.stale_after_days:
            add(
                "stale_statements",
                rule.stale_statements,
                f"the newest statement was filed {age} days before {as_of} (more than {rule.stale_after_days})",
            )
    return terms


def apply_overlay(pd_model: float, terms: list[dict[str, Any]]) -> float:
    """The served PD: the model's PD with the overlay's log-odds added (unchanged without terms)."""
    if not terms:
        return pd_model
    return _shifted(pd_model, sum(term["log_odds"] for term in terms))


def _shifted(pd_model: float, log_odds: float) -> float:
    p = min(max(pd_model, 1e-12), 1 - 1e-12)
    shifted = math.log(p / (1 - p)) + log_odds
    return 1.0 / (1.0 + math.exp(-shifted))


#: Flag columns overlay_table reads (warning_flags' keys); a missing column or value is no flag.
FLAG_COLUMNS = ("late_filing_notices_12m", "filing_overdue", "non_clean_audit_opinion")


def _term_text(name: str, multiplier: float) -> tuple[str, str]:
    """The JSON of one term around its reason, as json.dumps(term, sort_keys=True) writes it."""
    text = json.dumps(
        {"name": name, "multiplier": multiplier, "log_odds": math.log(multiplier), "reason": "@"},
        sort_keys=True,
    )
    before, after = text.split('"@"')
    return before + '"', '"' + after


def overlay_table(
    flags: pd.DataFrame,
    statement_age_days: Sequence[float] | None,
    as_of: Sequence[dt.date],
    rule: OverlayRule = OverlayRule(),
) -> pd.DataFrame:
    """overlay_terms for many rows at once: per row of ``flags`` (FLAG_COLUMNS), the age in days of the newest
    statement (NaN: not judged) and the scoring date, the summed log-odds (``log_odds``, summed in the order
    overlay_terms lists the terms, so the same float), whether any term applies (``any``) and the terms as
    ``json.dumps(overlay_terms(...), sort_keys=True)`` (``terms``). The reasons hold only numbers, dates and fixed
    text, so they need no JSON escaping beyond the quotes around them."""
    n = len(flags)
    index = flags.index

    def column(name: str) -> pd.Series:
        if name not in flags.columns:
            return pd.Series(None, index=index, dtype=object)
        return flags[name]

    late = pd.to_numeric(column("late_filing_notices_12m"), errors="raise").fillna(0)
    age = (
        pd.Series(np.nan, index=index)
        if statement_age_days is None
        else pd.Series(np.asarray(statement_age_days, dtype=float), index=index)
    )
    dates = pd.Series(list(as_of), index=index, dtype=object).astype(str)
    active = [
        (
            late.to_numpy() > 0,
            "late_filing_notice",
            rule.late_filing_notice,
            lambda: late.astype("int64").astype(str) + " late-filing notice(s) in the 12 months to " + dates,
        ),
        (
            _truthy(column("filing_overdue")),
            "filing_overdue",
            rule.filing_overdue,
            lambda: "a periodic report was overdue at " + dates,
        ),
        (
            _truthy(column("non_clean_audit_opinion")),
            "non_clean_opinion",
            rule.non_clean_opinion,
            lambda: pd.Series("a non-clean audit opinion in the last 400 days", index=index),
        ),
        (
            (age > rule.stale_after_days).to_numpy(),
            "stale_statements",
            rule.stale_statements,
            lambda: (
                "the newest statement was filed "
                + age.fillna(0).astype("int64").astype(str)
                + " days before "
                + dates
                + f" (more than {rule.stale_after_days})"
            ),
        ),
    ]
    log_odds = np.zeros(n)
    joined = pd.Series("", index=index, dtype=object)
    for mask, name, multiplier, reason in active:
        log_odds = log_odds + np.where(mask, math.log(multiplier), 0.0)
        if mask.any():
            before, after = _term_text(name, multiplier)
            joined[mask] = joined[mask] + ", " + before + reason()[mask] + after
    has_terms = joined.str.len().to_numpy() > 0
    terms = pd.Series("[]", index=index, dtype=object)
    terms[has_terms] = "[" + joined[has_terms].str[2:] + "]"
    return pd.DataFrame({"log_odds": log_odds, "any": has_terms, "terms": terms}, index=index)


def _truthy(values: pd.Series) -> np.ndarray:
    """``bool(value)`` per value, None and NaN false (a flag that was not judged)."""
    numeric = pd.to_numeric(values, errors="raise")
    return (numeric.notna() & (numeric != 0)).to_numpy()


def apply_overlay_table(pd_model: np.ndarray, log_odds: np.ndarray, any_terms: np.ndarray) -> np.ndarray:
    """apply_overlay per row: rows without terms keep the model's PD; the others are shifted with the scalar
    arithmetic of apply_overlay (math.log/exp, which NumPy's vectorised log/exp differ from by an ulp now and
    then), so a served PD is the same float either way."""
    out = np.array(pd_model, dtype=float, copy=True)
    rows = np.flatnonzero(any_terms)
    out[rows] = [
        _shifted(p, s) for p, s in zip(out[rows].tolist(), np.asarray(log_odds)[rows].tolist(), strict=True)
    ]
    return out
