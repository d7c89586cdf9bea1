"""The whole-market (vectorised) forms of per-row computations: prior-year versions, canonical item records,
score alerts and remembered macro lookups, each on a small hand-built case and against the per-row loop they
replace (kept here as the reference)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.alerts import AlertRule, score_alerts
from risk_assets.core.canonical import CANONICAL_ITEMS, item_records
from risk_assets.core.early_warning import warning_flags
from risk_assets.core.macro import MacroBook, MacroSeries
from risk_assets.core.pit import prior_year_versions

NOW = dt.datetime(2026, 1, 2, 3, 4, 5)


def _prior_by_loop(frame: pd.DataFrame, years_back: int = 1) -> dict:
    """The reference: per row, filter the company's prior-year versions filed on or before its filing date."""
    out = {}
    filed = pd.to_datetime(frame["filed_at"])
    for i in frame.index:
        same = frame[
            (frame["company_id"] == frame.at[i, "company_id"])
            & (frame["fiscal_year"] == frame.at[i, "fiscal_year"] - years_back)
            & (filed <= filed[i])
        ]
        out[i] = (
            same.assign(_f=filed[same.index]).sort_values("_f", kind="stable").index[-1]
            if len(same)
            else None
        )
    return out


def _statements() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "company_id": ["a", "a", "a", "a", "b", "b"],
            "fiscal_year": [2019, 2020, 2019, 2021, 2020, 2021],
            "accession": ["a19", "a20", "a19-amended", "a21", "b20", "b21"],
            "filed_at": pd.to_datetime(
                ["2020-02-01", "2021-02-01", "2021-06-01", "2022-02-01", "2021-03-01", "2021-03-01"]
            ),
            "total_assets": [100.0, 110.0, 101.0, 120.0, 50.0, 55.0],
        },
        index=[10, 11, 12, 13, 14, 15],  # not a range: results must align to the frame's own index
    )


def test_prior_year_version_is_the_one_known_at_the_filing_date() -> None:
    frame = _statements()
    prior = prior_year_versions(frame)
    assert list(prior.index) == list(frame.index)
    # a's FY2020 (filed 2021-02-01) sees FY2019 as first filed: the amendment came later (2021-06-01)
    assert prior.loc[11, "accession"] == "a19"
    # a's FY2021 (filed 2022-02-01) sees the amended FY2019? No: its prior year is FY2020
    assert prior.loc[13, "accession"] == "a20"
    # b's FY2021 filed the same day as FY2020: known on that day, so it counts
    assert prior.loc[15, "accession"] == "b20"
    # first years and the amendment of 2019 (its prior, 2018, never filed): all-NaN rows
    assert prior.loc[[10, 12, 14]].isna().all(axis=None)
    assert prior.loc[11, "total_assets"] == 100.0


def test_prior_year_versions_equal_the_per_row_loop_on_random_panels() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(1, 60))
        frame = pd.DataFrame(
            {
                "company_id": rng.choice(["x", "y", "z"], n),
                "fiscal_year": rng.integers(2010, 2016, n),
                "accession": [f"acc{i}" for i in range(n)],
                "filed_at": pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.integers(0, 2000, n), "D"),
                "total_assets": rng.normal(100, 10, n),
            }
        )
        # same-day versions of one year are ties the loop resolves by frame order: keep filing dates unique
        frame = frame.drop_duplicates(["company_id", "fiscal_year", "filed_at"])
        prior = prior_year_versions(frame)
        for i, source in _prior_by_loop(frame).items():
            if source is None:
                assert prior.loc[i].isna().all()
            else:
                assert prior.loc[i, "accession"] == frame.at[source, "accession"]


def test_prior_year_versions_of_an_empty_frame() -> None:
    frame = _statements().iloc[:0]
    assert prior_year_versions(frame).empty


def test_item_records_give_floats_and_none_for_missing() -> None:
    frame = pd.DataFrame(
        {"total_assets": [100, None], "revenue": pd.Series([pd.NA, 5.5], dtype=object), "not_an_item": [1, 2]}
    )
    records = item_records(frame)
    assert len(records) == 2 and set(records[0]) == set(CANONICAL_ITEMS)
    assert records[0]["total_assets"] == 100.0 and isinstance(records[0]["total_assets"], float)
    assert records[0]["revenue"] is None and records[1]["total_assets"] is None
    assert records[1]["revenue"] == 5.5
    assert records[0]["cash"] is None  # a column the frame does not have
    assert item_records(frame.iloc[:0]) == []


def _scores(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["company_id", "as_of", "model_version", "pd", "grade", "alert_pending"]
    ).assign(as_of=lambda f: pd.to_datetime(f["as_of"]).dt.date)


def test_score_alerts_compare_with_the_previous_score_of_the_same_model() -> None:
    scores = _scores(
        [
            ("a", "2020-01-01", "1", 0.01, "4", False),
            ("a", "2021-01-01", "1", 0.05, "6", True),  # grade 4 -> 6 and x5 PD: alert
            ("a", "2021-01-01", "2", 0.05, "6", True),  # model 2's first score of a: nothing to compare
            ("a", "2022-01-01", "2", 0.04, "6", True),  # better than model 2's previous: no alert
            ("b", "2019-06-30", "1", 0.02, "5", True),  # first score: evaluated, no alert
            ("b", "2020-06-30", "1", 0.021, "5", False),  # not pending: serves as a previous only
            ("b", "2021-06-30", "1", 0.03, "5", True),  # x1.4: no alert
        ]
    )
    alerts, handled = score_alerts(scores.sample(frac=1, random_state=1), AlertRule(), NOW)
    assert sorted(handled) == sorted(
        (c, pd.Timestamp(a).date(), v)
        for c, a, v in [
            ("a", "2021-01-01", "1"),
            ("a", "2021-01-01", "2"),
            ("a", "2022-01-01", "2"),
            ("b", "2019-06-30", "1"),
            ("b", "2021-06-30", "1"),
        ]
    )
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["company_id"], alert["model_version"], alert["previous_as_of"]) == (
        "a",
        "1",
        dt.date(2020, 1, 1),
    )
    assert alert["reasons"] == "downgrade 4->6; pd_jump x5.0"
    assert (alert["previous_pd"], alert["pd"], alert["previous_grade"], alert["grade"]) == (
        0.01,
        0.05,
        "4",
        "6",
    )
    assert alert["kind"] == "score" and alert["created_at"] == NOW


def test_score_alerts_equal_the_per_company_loop() -> None:
    rng = np.random.default_rng(5)
    rows = []
    for company in "abcdefgh":
        for version in ("1", "2"):
            days = sorted(rng.choice(3000, size=int(rng.integers(1, 8)), replace=False))
            for day in days:
                p = float(rng.uniform(0.001, 0.2))
                rows.append(
                    (
                        company,
                        dt.date(2010, 1, 1) + dt.timedelta(days=int(day)),
                        version,
                        p,
                        str(int(rng.integers(1, 10))),
                        bool(rng.random() < 0.6),
                    )
                )
    scores = _scores(rows)
    rule = AlertRule()
    expected = []
    for row in scores[scores["alert_pending"]].itertuples(index=False):
        earlier = scores[
            (scores["company_id"] == row.company_id)
            & (scores["model_version"] == row.model_version)
            & (scores["as_of"] < row.as_of)
        ].sort_values("as_of")
        if len(earlier):
            previous = earlier.iloc[-1]
            reasons = rule.reasons(previous["pd"], previous["grade"], row.pd, row.grade)
            if reasons:
                expected.append(
                    (row.company_id, row.as_of, row.model_version, previous["as_of"], "; ".join(reasons))
                )
    alerts, handled = score_alerts(scores, rule, NOW)
    got = [
        (a["company_id"], a["as_of"], a["model_version"], a["previous_as_of"], a["reasons"]) for a in alerts
    ]
    assert sorted(got) == sorted(expected) and expected
    assert len(handled) == int(scores["alert_pending"].sum())


def test_score_alerts_of_no_scores() -> None:
    assert score_alerts(_scores([]), AlertRule(), NOW) == ([], [])


def test_macro_features_are_remembered_but_each_caller_gets_its_own_copy() -> None:
    indicators = pd.DataFrame(
        {
            "source": "fred",
            "series_id": "GS10",
            "observation_date": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"]).date,
            "released_at": pd.to_datetime(["2020-01-05", "2020-02-05", "2020-03-05"]).date,
            "value": [1.5, 1.6, 1.7],
        }
    )
    spec = MacroSeries(country="US", role="govt_10y", source="fred", series_id="GS10", publication_lag_days=4)
    book = MacroBook(indicators)
    first = book.features([spec], "US", dt.date(2020, 2, 10))
    assert first["govt_10y"] == book.value_as_of(spec, dt.date(2020, 2, 10))
    assert first["govt_10y"]["value"] == 1.6
    first["govt_10y"]["value"] = -1.0
    again = book.features([spec], "US", dt.date(2020, 2, 10))
    assert again["govt_10y"]["value"] == 1.6
    assert book.features([spec], "US", dt.date(2020, 3, 10))["govt_10y"]["value"] == 1.7
    assert book.features([spec], "KR", dt.date(2020, 3, 10))["govt_10y"] is None


@pytest.mark.parametrize("audit_known", [False, True])
def test_warning_flags_without_signals_do_not_depend_on_the_date(audit_known: bool) -> None:
    """features computes a quiet company's flags once: that holds only while they ignore the date."""
    empty = pd.DataFrame(columns=["company_id", "kind", "signal_date", "resolved_at"])
    flags = [
        warning_flags(empty, day, audit_opinions_known=audit_known)
        for day in (dt.date(2001, 1, 1), dt.date(2030, 6, 30))
    ]
    assert flags[0] == flags[1]
    assert flags[0]["non_clean_audit_opinion"] == (0 if audit_known else None)
