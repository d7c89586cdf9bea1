"""The master scale: one table of PD bands shared by scoring, alerts, monitoring and the API.

Grades run from "1" (lowest PD) to "10" (highest); "D" marks a company in default.

Why these bands. The upper bounds 0.05%, 0.1%, 0.25%, 0.5%, 1%, 2%, 5%, 10%, 20%, 100% grow by a factor of
2 to 2.5 per grade, so the scale is close to geometric (log-PD is what a logistic model is linear in, and
what rating agencies' grades are roughly even in). The first bound is the 5 bp corporate PD floor of the
final Basel III framework (CRR3 Art. 160), so no internal PD can sit below grade 1's upper edge; the
lower grades line up loosely with agency buckets (roughly: 1-2 AA/A, 3-4 BBB, 5-6 BB, 7-8 B, 9-10 CCC and
below). Ten grades is the usual granularity of a corporate master scale and matches the Basel wish for at
least seven non-default grades.

Edges. Every band is half-open ``[lower_pd, upper_pd)``: a PD exactly on a boundary goes to the riskier
(higher) grade. That is the conservative choice: reaching a band's threshold puts a company in that band.
Grade 10 is closed on the right so a PD of exactly 1.0 is grade 10; a PD of 0.0 is grade 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_GRADE = "D"

# Upper bounds of grades 1..10; grade 1 starts at 0 and grade 10 ends at 1 (inclusive).
_UPPER_BOUNDS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.10, 0.20, 1.0)

# Grade 1 has no positive lower bound, so its midpoint uses the 3 bp Basel II PD floor as its lower end.
_GRADE_1_MIDPOINT_FLOOR = 0.0003

_DESCRIPTIONS: tuple[str, ...] = (
    "Minimal risk",
    "Very low risk",
    "Low risk",
    "Moderate-low risk",
    "Moderate risk",
    "Elevated risk",
    "High risk",
    "Very high risk",
    "Severe risk",
    "Near default",
)


@dataclass(frozen=True)
class Grade:
    """One band of the master scale; ``midpoint_pd`` is the geometric mean of its bounds."""

    label: str
    lower_pd: float
    upper_pd: float
    midpoint_pd: float
    description: str


def _build_scale() -> tuple[Grade, ...]:
    grades = []
    lower = 0.0
    for number, (upper, description) in enumerate(zip(_UPPER_BOUNDS, _DESCRIPTIONS, strict=True), start=1):
        midpoint = math.sqrt(max(lower, _GRADE_1_MIDPOINT_FLOOR) * upper)
        grades.append(Grade(str(number), lower, upper, midpoint, description))
        lower = upper
    return tuple(grades)


MASTER_SCALE: tuple[Grade, ...] = _build_scale()

_INDEX_BY_LABEL: dict[str, int] = {grade.label: number for number, grade in enumerate(MASTER_SCALE, start=1)}
_INDEX_BY_LABEL[DEFAULT_GRADE] = len(MASTER_SCALE) + 1

GRADE_LABELS: tuple[str, ...] = tuple(_INDEX_BY_LABEL)  # "1".."10", "D" in order of worsening


def grade_for_pd(pd: float, in_default: bool = False) -> str:
    """Map a PD to its grade label; a company in default is "D" whatever its model PD.

    Refuses NaN and PDs outside [0, 1] rather than clamping them, so a broken PD never gets a grade.
    """
    if in_default:
        return DEFAULT_GRADE
    value = float(pd)
    if math.isnan(value):
        raise ValueError("PD is NaN: cannot assign a grade")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"PD {value!r} is outside [0, 1]")
    for grade in MASTER_SCALE:
        if value < grade.upper_pd:
            return grade.label
    return MASTER_SCALE[-1].label  # value == 1.0: grade 10 is closed on the right


def grade_index(label: str) -> int:
    """Order of a grade ("1" -> 1 .. "10" -> 10, "D" -> 11), for comparing grades numerically."""
    try:
        return _INDEX_BY_LABEL[label]
    except (KeyError, TypeError):
        raise ValueError(f"unknown grade {label!r}; expected one of {GRADE_LABELS}") from None


def grade_by_label(label: str) -> Grade:
    """The band of a non-default grade label."""
    index = grade_index(label)
    if label == DEFAULT_GRADE:
        raise ValueError("grade D is a state, not a PD band")
    return MASTER_SCALE[index - 1]


def is_downgrade(old: str, new: str) -> bool:
    """True when ``new`` is a worse grade than ``old`` (moving into "D" is a downgrade)."""
    return grade_index(new) > grade_index(old)
