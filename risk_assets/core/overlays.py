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
import math
from dataclasses import dataclass
from typing import Any

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
    p = min(max(pd_model, 1e-12), 1 - 1e-12)
    shifted = math.log(p / (1 - p)) + sum(term["log_odds"] for term in terms)
    return 1.0 / (1.0 + math.exp(-shifted))
