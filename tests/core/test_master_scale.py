"""The master scale: contiguous bands, edge convention (a PD on a boundary goes to the riskier grade), D."""

from __future__ import annotations

import math

import pytest

from risk_assets.core.master_scale import (
    AGENCY_BANDS,
    AGENCY_ONE_YEAR_DEFAULT_RATES,
    DEFAULT_GRADE,
    INVESTMENT_GRADE_MAX_PD,
    MASTER_SCALE,
    agency_band,
    grade_by_label,
    grade_for_pd,
    grade_index,
    is_downgrade,
    is_investment_grade,
)

# AA/A, A/BBB, BBB (split), BBB/BB, BB (split), BB/B, B (split), B/CCC, CCC (split), 1
UPPER_BOUNDS = [
    math.sqrt(0.0002 * 0.0005),
    math.sqrt(0.0005 * 0.0015),
    0.0016,
    0.003,
    0.006,
    math.sqrt(0.006 * 0.03),
    0.03,
    0.09,
    0.20,
    1.0,
]


def test_ten_contiguous_bands_cover_zero_to_one():
    assert [grade.label for grade in MASTER_SCALE] == [str(k) for k in range(1, 11)]
    assert [grade.upper_pd for grade in MASTER_SCALE] == pytest.approx(UPPER_BOUNDS, rel=1e-12)
    assert MASTER_SCALE[0].lower_pd == 0.0
    for lower_grade, upper_grade in zip(MASTER_SCALE, MASTER_SCALE[1:], strict=False):
        assert upper_grade.lower_pd == lower_grade.upper_pd
    for grade in MASTER_SCALE:
        assert grade.lower_pd <= grade.midpoint_pd < grade.upper_pd
        assert grade.description


def test_midpoints_are_geometric_means():
    # grade 5: sqrt(0.003 * 0.006); grade 1 uses the 3 bp floor: sqrt(0.0003 * 0.000316228)
    assert grade_by_label("5").midpoint_pd == pytest.approx(math.sqrt(0.003 * 0.006))
    assert grade_by_label("1").midpoint_pd == pytest.approx(math.sqrt(0.0003 * math.sqrt(0.0002 * 0.0005)))


def test_pd_inside_bands():
    assert grade_for_pd(0.0) == "1"
    assert grade_for_pd(0.0003) == "1"
    assert grade_for_pd(0.0007) == "2"
    assert grade_for_pd(0.015) == "7"
    assert grade_for_pd(0.07) == "8"
    assert grade_for_pd(0.5) == "10"


def test_pd_exactly_on_a_boundary_goes_to_the_riskier_grade():
    # bands are [lower, upper): 0.003 (the investment-grade line) starts grade 5, 0.03 grade 8, 0.20 grade 10
    assert grade_for_pd(0.003) == "5"
    assert grade_for_pd(0.03) == "8"
    assert grade_for_pd(0.20) == "10"
    assert grade_for_pd(0.0029999) == "4"
    for number, upper in enumerate(UPPER_BOUNDS[:-1], start=1):
        assert grade_for_pd(upper) == str(number + 1)


def test_pd_of_one_is_grade_ten():
    assert grade_for_pd(1.0) == "10"


def test_grades_are_monotone_in_pd():
    pds = [k / 10000 for k in range(0, 10001)]
    indexes = [grade_index(grade_for_pd(pd)) for pd in pds]
    assert all(a <= b for a, b in zip(indexes, indexes[1:], strict=False))
    assert set(indexes) == set(range(1, 11))


def test_nan_and_out_of_range_refused():
    for bad in (float("nan"), -0.01, 1.0001):
        with pytest.raises(ValueError):
            grade_for_pd(bad)


def test_default_is_d_whatever_the_pd():
    assert grade_for_pd(0.001, in_default=True) == DEFAULT_GRADE == "D"
    assert grade_for_pd(float("nan"), in_default=True) == "D"


def test_grade_index_and_downgrades():
    assert grade_index("1") == 1
    assert grade_index("10") == 10
    assert grade_index("D") == 11
    with pytest.raises(ValueError):
        grade_index("11")
    with pytest.raises(ValueError):
        grade_index("AAA")
    # "10" after "9" is a downgrade although "10" < "9" as text
    assert is_downgrade("9", "10")
    assert is_downgrade("10", "D")
    assert not is_downgrade("5", "5")
    assert not is_downgrade("7", "3")


def test_d_has_no_band():
    with pytest.raises(ValueError):
        grade_by_label("D")


def test_agency_bands_are_the_log_midpoints_of_the_published_rates():
    assert AGENCY_ONE_YEAR_DEFAULT_RATES["BBB"] == 0.0015 and AGENCY_ONE_YEAR_DEFAULT_RATES["B"] == 0.03
    assert [band for _, band in AGENCY_BANDS] == ["AA", "A", "BBB", "BB", "B", "CCC/C"]
    assert pytest.approx(0.003) == INVESTMENT_GRADE_MAX_PD
    # each published rate falls in its own band
    for rating, rate in AGENCY_ONE_YEAR_DEFAULT_RATES.items():
        assert agency_band(rate) == ("AA" if rating == "AAA" else rating)
    assert agency_band(0.0029999) == "BBB" and agency_band(0.003) == "BB"
    assert is_investment_grade(0.0029) and not is_investment_grade(0.003)
    assert agency_band(0.4, in_default=True) == "D"
    with pytest.raises(ValueError):
        agency_band(float("nan"))


def test_every_grade_lies_inside_one_agency_band():
    for grade in MASTER_SCALE:
        assert agency_band(grade.lower_pd) == agency_band(grade.upper_pd * (1 - 1e-9)) == grade.agency_band
