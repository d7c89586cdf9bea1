"""The whole-table forms of scoring's per-row steps (top drivers, domain notes, overlay terms, early-warning flags,
segments, grades), each against the per-row code it replaces, kept here as the reference: same text, same floats."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.early_warning import (
    FILING_OVERDUE,
    LATE_FILING_NOTICE,
    NON_CLEAN_AUDIT_OPINION,
    warning_flags,
    warning_flags_table,
)
from risk_assets.core.master_scale import MASTER_SCALE, grade_for_pd, grades_for_pd
from risk_assets.core.model import DomainBounds, largest_contributions
from risk_assets.core.overlays import (
    FLAG_COLUMNS,
    apply_overlay,
    apply_overlay_table,
    overlay_table,
    overlay_terms,
)
from risk_assets.core.segments import choose_segment, choose_segments


def _top_by_loop(base: np.ndarray, values: np.ndarray, names: list[str], top: int) -> list[dict]:
    """The reference: PDModel.score's former per-row loop."""
    out = []
    for i in range(len(values)):
        order = np.argsort(-np.abs(values[i]))[:top]
        out.append(
            {
                "base": float(base[i]),
                "contributions": {names[j]: float(values[i, j]) for j in order},
                "other": float(values[i].sum() - values[i, order].sum()),
            }
        )
    return out


def test_largest_contributions_pick_and_sum_as_the_row_loop_ties_included() -> None:
    rng = np.random.default_rng(5)
    names = [f"f{j}" for j in range(40)]
    values = rng.normal(size=(500, 40)) * 10.0 ** rng.integers(-6, 2, size=(500, 40))
    values[:, 25:] = 0.0  # features a tree model never splits on contribute exactly 0: ties
    values[:100, 3:] = 0.0  # rows with fewer non-zero contributions than asked for
    values[100:150, :10] = 0.5  # exact ties among the largest
    base = rng.normal(size=500)
    for top in (1, 5, 12):
        found = largest_contributions(base, values, names, top)
        expected = _top_by_loop(base, values, names, top)
        assert found == expected
        assert [list(d["contributions"]) for d in found] == [list(d["contributions"]) for d in expected]
    assert largest_contributions(base[:0], values[:0], names, 5) == []


def _notes_by_loop(bounds: DomainBounds, x: np.ndarray, names: list[str]) -> list[str]:
    """The reference: DomainBounds.check's former per-row loop."""
    present = ~np.isnan(x)
    outside = present & ((x < bounds.lower) | (x > bounds.upper))
    share_present = present.mean(axis=1)
    notes = []
    for i in range(x.shape[0]):
        parts = []
        if share_present[i] < bounds.min_share_present:
            parts.append(f"only {share_present[i]:.0%} of features available")
        if outside[i].any():
            names_outside = [names[j] for j in np.flatnonzero(outside[i])]
            parts.append(f"{len(names_outside)} outside training range: {', '.join(names_outside[:8])}")
        notes.append("; ".join(parts))
    return notes


def test_domain_notes_are_the_row_loops() -> None:
    rng = np.random.default_rng(9)
    names = [f"x{j}" for j in range(12)]
    bounds = DomainBounds(np.full(12, -1.0), np.full(12, 1.0))
    x = rng.normal(scale=0.8, size=(2000, 12))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:50] = np.nan  # nothing known
    x[50:60, :] = 5.0  # everything outside
    flags, notes = bounds.check(x, names)
    assert notes == _notes_by_loop(bounds, x, names)
    assert {"", "only 0% of features available"} <= set(notes)
    assert any("; " in note for note in notes) and any(note.startswith("12 outside") for note in notes)
    assert flags[:60].all()
    assert bounds.check(x[:0], names)[1] == []


def _flag_rows() -> pd.DataFrame:
    """Every combination of flags warning_flags can give, and absent ones."""
    rows = []
    for late in (0, 1, 3, None):
        for overdue in (0, 1, None):
            for opinion in (0, 1, None):
                rows.append(
                    {
                        "late_filing_notices_12m": late,
                        "filing_overdue": overdue,
                        "non_clean_audit_opinion": opinion,
                    }
                )
    return pd.DataFrame(rows, columns=list(FLAG_COLUMNS), dtype=object)


def test_overlay_table_writes_the_terms_overlay_terms_writes() -> None:
    flags = pd.concat([_flag_rows()] * 3, ignore_index=True)
    n = len(flags)
    as_of = [dt.date(2026, 12, 5) - dt.timedelta(days=int(k)) for k in np.arange(n) * 17]
    filed = [None if k % 3 == 0 else a - dt.timedelta(days=300 + 7 * k) for k, a in enumerate(as_of)]
    filed[1], filed[2] = as_of[1] - dt.timedelta(days=495), as_of[2] - dt.timedelta(days=496)  # the edge
    age = [np.nan if f is None else (a - f).days for a, f in zip(as_of, filed, strict=True)]
    table = overlay_table(flags, age, as_of)
    assert "stale" not in table.at[1, "terms"] and "filed 496 days before" in table.at[2, "terms"]
    seen = set()
    for k in range(n):
        row = {c: flags.at[k, c] for c in FLAG_COLUMNS}
        terms = overlay_terms(row, filed[k], as_of[k])
        assert table.at[k, "terms"] == json.dumps(terms, sort_keys=True)
        assert bool(table.at[k, "any"]) == bool(terms)
        assert table.at[k, "log_odds"] == sum(term["log_odds"] for term in terms)  # the same float
        seen.update(term["name"] for term in terms)
    assert seen == {"late_filing_notice", "filing_overdue", "non_clean_opinion", "stale_statements"}
    # without a statement age (filing scores) no stale term, and missing flag columns are no flags
    bare = overlay_table(pd.DataFrame(index=range(2)), None, [dt.date(2026, 1, 1)] * 2)
    assert list(bare["terms"]) == ["[]", "[]"] and not bare["any"].any()


def test_apply_overlay_table_gives_apply_overlays_floats() -> None:
    rng = np.random.default_rng(3)
    pds = np.concatenate([rng.uniform(0, 1, 5000), [0.0, 1.0, 1e-15, 1 - 1e-15]])
    shifts = rng.choice([math.log(2.0), math.log(2.0) + math.log(3.0), math.log(3.0)], size=len(pds))
    has = rng.random(len(pds)) < 0.7
    found = apply_overlay_table(pds, shifts, has)
    expected = [
        apply_overlay(p, [{"log_odds": s}] if h else []) for p, s, h in zip(pds, shifts, has, strict=True)
    ]
    assert found.tolist() == expected


def _signals() -> pd.DataFrame:
    rows = []
    day = dt.date(2026, 12, 5)

    def add(company, kind, days_before, resolved_days_before=None):
        rows.append(
            {
                "company_id": company,
                "kind": kind,
                "reference": f"{company}-{kind}-{days_before}",
                "signal_date": day - dt.timedelta(days=days_before),
                "resolved_at": None
                if resolved_days_before is None
                else day - dt.timedelta(days=resolved_days_before),
            }
        )

    add("a", LATE_FILING_NOTICE, 10)
    add("a", LATE_FILING_NOTICE, 300)
    add("a", LATE_FILING_NOTICE, 380)  # older than a year: not counted
    add("a", LATE_FILING_NOTICE, -5)  # after the date: not known yet
    add("b", NON_CLEAN_AUDIT_OPINION, 20)
    add("b", NON_CLEAN_AUDIT_OPINION, 30)
    add("c", NON_CLEAN_AUDIT_OPINION, 500)
    add("d", NON_CLEAN_AUDIT_OPINION, 390)  # within the 400 days an opinion counts
    add("d", NON_CLEAN_AUDIT_OPINION, 410)
    add("c", FILING_OVERDUE, 50)  # still open
    add("d", FILING_OVERDUE, 50, resolved_days_before=10)  # arrived before the date
    add("e", FILING_OVERDUE, 50, resolved_days_before=-3)  # arrives after the date: overdue then
    return pd.DataFrame(rows)


def test_warning_flags_table_is_warning_flags_per_company() -> None:
    signals = _signals()
    day = dt.date(2026, 12, 5)
    audit = pd.Series({"a": True, "b": True, "c": False, "d": True, "e": False, "quiet": True, "x": False})
    table = warning_flags_table(signals, day, audit)
    for company, known in audit.items():
        expected = warning_flags(
            signals[signals["company_id"] == company], day, audit_opinions_known=bool(known)
        )
        assert {c: table.at[company, c] for c in FLAG_COLUMNS} == {c: expected[c] for c in FLAG_COLUMNS}
    assert table.at["a", "late_filing_notices_12m"] == 2 and table.at["b", "non_clean_audit_opinion"] == 1
    empty = warning_flags_table(signals.iloc[:0], day, audit)
    assert (empty["late_filing_notices_12m"] == 0).all() and (empty["filing_overdue"] == 0).all()
    assert list(empty["non_clean_audit_opinion"]) == [0, 0, None, 0, None, 0, None]


def test_choose_segments_is_choose_segment_per_row() -> None:
    cases = [
        (listed, value, source_of_value, source)
        for listed in (True, False)
        for value in (np.nan, 0.0, -1.0, 2.5e9)
        for source_of_value in (None, "", "public float on the annual report's cover")
        for source in ("", "SEC filer", "DART filer", "ticker")
    ]
    frame = pd.DataFrame(cases, columns=["listed", "value", "from", "source"])
    found = choose_segments(
        frame["listed"].to_numpy(), frame["value"].to_numpy(), frame["from"].astype(object), frame["source"]
    )
    for k, (listed, value, source_of_value, source) in enumerate(cases):
        expected = choose_segment(
            listed=listed,
            market_value=None if np.isnan(value) else value,
            market_value_source=source_of_value,
            source=source,
        )
        assert (found.at[k, "segment"], found.at[k, "segment_reason"]) == expected


def test_grades_for_pd_are_grade_for_pd_with_the_same_refusals() -> None:
    edges = [grade.upper_pd for grade in MASTER_SCALE]
    pds = np.array([0.0, 1.0, *edges, *np.nextafter(edges, 0), *np.random.default_rng(1).uniform(0, 1, 500)])
    pds = np.clip(pds, 0.0, 1.0)
    default = np.arange(len(pds)) % 7 == 0
    found = grades_for_pd(pds, default)
    assert list(found) == [grade_for_pd(p, in_default=d) for p, d in zip(pds, default, strict=True)]
    assert list(grades_for_pd(np.array([np.nan]), np.array([True]))) == ["D"]  # in default: no PD needed
    with pytest.raises(ValueError, match="NaN"):
        grades_for_pd(np.array([0.1, np.nan]), np.array([False, False]))
    with pytest.raises(ValueError, match="outside"):
        grades_for_pd(np.array([0.1, 1.5]), np.array([False, False]))
