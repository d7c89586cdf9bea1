"""The master scale: one table of PD bands shared by scoring, alerts, monitoring and the API, anchored to the
default experience of the rating agencies.

Grades run from "1" (lowest PD) to "10" (highest); "D" marks a company in default.

Anchor. S&P Global Ratings publishes the one-year average default rate of the companies it rates, by rating
(its annual global corporate default and rating transition study; long-term averages since 1981, rounded):
AAA 0.00%, AA 0.02%, A 0.05%, BBB 0.15%, BB 0.60%, B 3%, CCC/C 27% (``AGENCY_ONE_YEAR_DEFAULT_RATES``). A PD's
agency-equivalent band is the rating whose average rate is nearest on the log scale, so the band boundaries are
the geometric midpoints of neighbouring rates: AA/A 0.0316%, A/BBB 0.0866%, BBB/BB 0.30% (the investment-grade
line), BB/B 1.342%, B/CCC-C 9.0%. Below AA/A the band is "AA" (AA or better: AAA's average rate is zero, so no PD
is nearer to it than to AA).

Grades. Ten grades, each inside exactly one band: the band boundaries are grade edges, and the wider bands are
split once (BBB at 0.16%, BB at 0.60%, B at 3%, CCC-C at 20%). Ten grades is the usual granularity of a
corporate master scale and meets the Basel wish for at least seven non-default grades.

Edges. Every band is half-open ``[lower_pd, upper_pd)``: a PD exactly on a boundary goes to the riskier
(higher) grade. That is the conservative choice: reaching a band's threshold puts a company in that band.
Grade 10 is closed on the right so a PD of exactly 1.0 is grade 10; a PD of 0.0 is grade 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_GRADE = "D"

#: S&P Global Ratings, one-year average corporate default rates by rating (long-term global averages, rounded).
AGENCY_ONE_YEAR_DEFAULT_RATES: dict[str, float] = {
    "AAA": 0.0,
    "AA": 0.0002,
    "A": 0.0005,
    "BBB": 0.0015,
    "BB": 0.006,
    "B": 0.03,
    "CCC/C": 0.27,
}
_RATED = ("AA", "A", "BBB", "BB", "B", "CCC/C")  # AAA's zero rate has no midpoint: "AA" is AA or better
#: Upper bounds of the agency bands (geometric midpoints of neighbouring average rates) and their names.
AGENCY_BANDS: tuple[tuple[float, str], ...] = tuple(
    (math.sqrt(AGENCY_ONE_YEAR_DEFAULT_RATES[lower] * AGENCY_ONE_YEAR_DEFAULT_RATES[upper]), lower)
    for i, (lower, upper) in enumerate(zip(_RATED, _RATED[1:], strict=False))
) + ((1.0, "CCC/C"),)
#: PDs below this are investment grade (BBB or better): the BBB/BB boundary, 0.30%.
INVESTMENT_GRADE_MAX_PD: float = AGENCY_BANDS[2][0]


def agency_band(pd: float, in_default: bool = False) -> str:
    """The agency-equivalent band of a PD ("AA", "A", ... "CCC/C": see the module docstring); "D" for a company in default."""
    if in_default:
        return DEFAULT_GRADE
    value = float(pd)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"PD {value!r} has no agency band")
    for upper, band in AGENCY_BANDS:
        if value < upper:
            return band
    return AGENCY_BANDS[-1][1]


def is_investment_grade(pd: float) -> bool:
    """True for a PD in an investment-grade-equivalent band (BBB or better)."""
    return float(pd) < INVESTMENT_GRADE_MAX_PD


# Upper bounds of grades 1..10; grade 1 starts at 0 and grade 10 ends at 1 (inclusive). Band edges exactly, the
# wide bands split once (see the module docstring).
_UPPER_BOUNDS: tuple[float, ...] = (
    AGENCY_BANDS[0][0],
    AGENCY_BANDS[1][0],
    0.0016,
    AGENCY_BANDS[2][0],
    0.006,
    AGENCY_BANDS[3][0],
    0.03,
    AGENCY_BANDS[4][0],
    0.20,
    1.0,
)

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
    agency_band: str = ""


def _build_scale() -> tuple[Grade, ...]:
    grades = []
    lower = 0.0
    for number, (upper, description) in enumerate(zip(_UPPER_BOUNDS, _DESCRIPTIONS, strict=True), start=1):
        midpoint = math.sqrt(max(lower, _GRADE_1_MIDPOINT_FLOOR) * upper)
        grades.append(Grade(str(number), lower, upper, midpoint, description, agency_band(midpoint)))
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


def grades_for_pd(pds: np.ndarray, in_default: np.ndarray) -> np.ndarray:
    """grade_for_pd for many rows at once (one search over the band edges); the same refusals, naming the first
    offending PD."""
    values = np.asarray(pds, dtype=float)
    defaulted = np.asarray(in_default, dtype=bool)
    graded = values[~defaulted]
    if np.isnan(graded).any():
        raise ValueError("PD is NaN: cannot assign a grade")
    outside = (graded < 0.0) | (graded > 1.0)
    if outside.any():
        raise ValueError(f"PD {float(graded[outside][0])!r} is outside [0, 1]")
    labels = np.array([grade.label for grade in MASTER_SCALE], dtype=object)
    edges = np.array([grade.upper_pd for grade in MASTER_SCALE])
    position = np.minimum(np.searchsorted(edges, values, side="right"), len(MASTER_SCALE) - 1)
    out = labels[np.where(defaulted, 0, position)]
    out[defaulted] = DEFAULT_GRADE
    return out


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
