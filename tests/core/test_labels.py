"""Labels with a horizon on a hand-built panel: the expected t and label of every row is written out."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from risk_assets.core.labels import (
    REASON_AFTER_DEFAULT,
    REASON_WINDOW_NOT_OBSERVED,
    label_and_exclude,
    label_rows,
    observation_time,
)

NaT = pd.NaT

# row id: (company, period_end, filed_at)
PANEL = {
    # A: first default 2021-06-30, within 12 months of its last filing
    "A2019": ("A", "2019-12-31", "2020-02-20"),  # window (2020-02-20, 2021-02-20]: default after it -> 0
    "A2020": ("A", "2020-12-31", "2021-02-25"),  # window (2021-02-25, 2022-02-25] holds 2021-06-30 -> 1
    # B: first default 2020-09-15; rows continue after it; a second event 2022-06-01 must not count
    "B2019": ("B", "2019-12-31", "2020-03-02"),  # window (2020-03-02, 2021-03-02] holds 2020-09-15 -> 1
    "B2020": ("B", "2020-12-31", "2021-03-01"),  # t after the first default -> excluded
    "B2021": ("B", "2021-12-31", "2022-03-01"),  # t after the first default -> excluded (2022-06-01 ignored)
    # C: default 2020-04-15, 13 months after t
    "C2018": ("C", "2018-12-31", "2019-03-15"),  # window (2019-03-15, 2020-03-15]: default a month later -> 0
    # D: never defaults
    "D2019": ("D", "2019-12-31", "2020-02-28"),  # -> 0
    "D2020": ("D", "2020-12-31", "2021-03-01"),  # -> 0
    # E: boundaries, default 2019-05-31
    "E2017": ("E", "2017-12-31", "2018-05-31"),  # t + 12 months = 2019-05-31 = default: window is closed -> 1
    "E2018": ("E", "2018-12-31", "2019-05-31"),  # t = default date -> excluded
    # F: no filed_at, so t = period end + 90 days; default 2021-03-15
    "F2018": (
        "F",
        "2018-12-31",
        NaT,
    ),  # t = 2018-12-31 + 90 d = 2019-03-31 (31 + 28 + 31); window to 2020-03-31 -> 0
    "F2019": ("F", "2019-12-31", NaT),  # t = 2019-12-31 + 90 d = 2020-03-30 (31 + 29 + 30): window to
    #                                     2021-03-30 holds 2021-03-15 -> 1 (with no lag, t = 2019-12-31 -> 0)
}

EXPECTED_T = {
    "A2019": "2020-02-20",
    "A2020": "2021-02-25",
    "B2019": "2020-03-02",
    "C2018": "2019-03-15",
    "D2019": "2020-02-28",
    "D2020": "2021-03-01",
    "E2017": "2018-05-31",
    "F2018": "2019-03-31",
    "F2019": "2020-03-30",
}
EXPECTED_TARGET = {
    "A2019": 0,
    "A2020": 1,
    "B2019": 1,
    "C2018": 0,
    "D2019": 0,
    "D2020": 0,
    "E2017": 1,
    "F2018": 0,
    "F2019": 1,
}
EXPECTED_EXCLUDED = {"B2020", "B2021", "E2018"}


def excluded_rows(*args, **kwargs):
    """The rows label_rows leaves out, with their reasons."""
    return label_and_exclude(*args, **kwargs)[1]


def _rows() -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(PANEL, orient="index", columns=["company_id", "period_end", "filed_at"])
    frame["period_end"] = pd.to_datetime(frame["period_end"])
    frame["filed_at"] = pd.to_datetime(frame["filed_at"])
    frame["total_assets"] = range(len(frame))  # a feature column that must pass through untouched
    return frame


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "company_id": ["A", "B", "B", "C", "E", "F"],
            "event_date": pd.to_datetime(
                ["2021-06-30", "2022-06-01", "2020-09-15", "2020-04-15", "2019-05-31", "2021-03-15"]
            ),
            "kind": ["bankruptcy", "bankruptcy", "payment_default", "bankruptcy", "bankruptcy", "delisting"],
        }
    )


def test_every_row_labelled_as_written():
    labelled = label_rows(_rows(), _events(), horizon_months=12, reporting_lag_days=90)
    assert set(labelled.index) == set(EXPECTED_TARGET)
    assert labelled["target"].to_dict() == EXPECTED_TARGET
    assert {key: value.strftime("%Y-%m-%d") for key, value in labelled["t"].items()} == EXPECTED_T
    assert labelled["total_assets"].to_dict() == _rows().loc[list(EXPECTED_TARGET), "total_assets"].to_dict()
    assert "excluded_reason" not in labelled.columns


def test_rows_on_or_after_default_are_not_training_rows():
    excluded = excluded_rows(_rows(), _events())
    assert set(excluded.index) == EXPECTED_EXCLUDED
    assert set(excluded["excluded_reason"]) == {REASON_AFTER_DEFAULT}
    kept = label_rows(_rows(), _events())
    assert not set(kept.index) & EXPECTED_EXCLUDED


def test_without_reporting_lag_the_undated_row_changes_label():
    # F2019 with lag 0: t = 2019-12-31, window to 2020-12-31 misses the 2021-03-15 default -> 0
    labelled = label_rows(_rows(), _events(), reporting_lag_days=0)
    assert labelled.loc["F2019", "target"] == 0
    assert labelled.loc["F2019", "t"] == pd.Timestamp("2019-12-31")


def test_rows_without_a_filed_at_column_use_the_lag():
    # same as F2019: 2019-12-31 + 90 days = 2020-03-30, window to 2021-03-30 holds 2021-03-15 -> 1
    rows = pd.DataFrame({"company_id": ["F"], "period_end": pd.to_datetime(["2019-12-31"])})
    labelled = label_rows(rows, _events())
    assert labelled["t"].tolist() == [pd.Timestamp("2020-03-30")]
    assert labelled["target"].tolist() == [1]


def test_longer_horizon_catches_the_13_month_default():
    # C2018 with H = 24: window (2019-03-15, 2021-03-15] holds 2020-04-15 -> 1
    labelled = label_rows(_rows(), _events(), horizon_months=24)
    assert labelled.loc["C2018", "target"] == 1


def test_horizon_is_in_calendar_months():
    # t = 2020-01-31, H = 1 month -> window end 2020-02-29 (end of February in a leap year, not +30 days)
    rows = pd.DataFrame(
        {
            "company_id": ["X", "Y"],
            "period_end": pd.to_datetime(["2019-10-31"] * 2),
            "filed_at": pd.to_datetime(["2020-01-31"] * 2),
        },
        index=["x", "y"],
    )
    events = pd.DataFrame(
        {
            "company_id": ["X", "Y"],
            "event_date": pd.to_datetime(["2020-02-29", "2020-03-01"]),
            "kind": ["b", "b"],
        }
    )
    labelled = label_rows(rows, events, horizon_months=1)
    assert labelled["target"].to_dict() == {"x": 1, "y": 0}


def test_default_kinds_filter():
    # counting only bankruptcies: B's first default becomes 2022-06-01, so B2020 and B2021 are training rows;
    # B2019 window (2020-03-02, 2021-03-02] -> 0; B2020 (2021-03-01, 2022-03-01] -> 0; B2021 (2022-03-01,
    # 2023-03-01] -> 1; F's delisting no longer counts -> F2019 0
    labelled = label_rows(_rows(), _events(), default_kinds={"bankruptcy"})
    assert labelled.loc[["B2019", "B2020", "B2021", "F2019"], "target"].tolist() == [0, 0, 1, 0]


def test_observed_until_excludes_unfinished_windows():
    # events known up to 2021-12-31: windows ending after it and holding no default are censored:
    # A2020 ends 2022-02-25 but holds A's default -> kept (1); D2020 ends 2022-03-01 -> censored
    kept = label_rows(_rows(), _events(), observed_until=date(2021, 12, 31))
    excluded = excluded_rows(_rows(), _events(), observed_until=date(2021, 12, 31))
    assert "D2020" not in kept.index
    assert kept.loc["A2020", "target"] == 1
    assert excluded.loc["D2020", "excluded_reason"] == REASON_WINDOW_NOT_OBSERVED
    assert excluded.loc["B2021", "excluded_reason"] == REASON_AFTER_DEFAULT


def test_no_events_labels_everything_zero():
    events = pd.DataFrame(
        {
            "company_id": pd.Series([], dtype=object),
            "event_date": pd.to_datetime([]),
            "kind": pd.Series([], dtype=object),
        }
    )
    labelled = label_rows(_rows(), events)
    assert len(labelled) == len(PANEL)
    assert set(labelled["target"]) == {0}


def test_filing_time_of_day_does_not_move_t_past_a_same_day_default():
    # filed at 16:30 on the default date: t is that day, so t >= default -> excluded
    rows = pd.DataFrame(
        {
            "company_id": ["X"],
            "period_end": pd.to_datetime(["2019-12-31"]),
            "filed_at": pd.to_datetime(["2020-03-02 16:30"]),
        }
    )
    events = pd.DataFrame({"company_id": ["X"], "event_date": pd.to_datetime(["2020-03-02"]), "kind": ["b"]})
    assert label_rows(rows, events).empty
    assert len(excluded_rows(rows, events)) == 1


def test_observation_time():
    assert observation_time(date(2019, 12, 31), date(2020, 2, 20)) == date(2020, 2, 20)
    # 2019-12-31 + 90 days = 2020-03-30
    assert observation_time(date(2019, 12, 31)) == date(2020, 3, 30)
    assert observation_time("2019-12-31", NaT) == date(2020, 3, 30)
    assert observation_time(pd.Timestamp("2019-12-31"), float("nan"), reporting_lag_days=60) == date(
        2020, 2, 29
    )
    assert observation_time("2019-12-31", pd.Timestamp("2020-02-20 17:45")) == date(2020, 2, 20)
    with pytest.raises(ValueError):
        observation_time(None, None)


def test_row_without_any_date_refused():
    rows = pd.DataFrame({"company_id": ["X"], "period_end": [NaT], "filed_at": [NaT]})
    with pytest.raises(ValueError):
        label_rows(rows, _events())


def test_the_products_default_kinds_leave_out_cures():
    # Hertz-like: bankruptcy 2020-05-22, emergence 2021-06-30. The filing of 2021-03-01 is after the default
    # (excluded); the one of 2019-02-21 has the window (2019-02-21, 2020-02-21], which misses it (0). An emergence
    # is not a default: company Z with only an emergence is labelled 0.
    from risk_assets.core.labels import DEFAULT_EVENT_KINDS, EVENT_KINDS, observation_times

    assert "emergence" in EVENT_KINDS and "emergence" not in DEFAULT_EVENT_KINDS
    rows = pd.DataFrame(
        {
            "company_id": ["H", "H", "Z"],
            "period_end": pd.to_datetime(["2018-12-31", "2020-12-31", "2020-12-31"]),
            "filed_at": pd.to_datetime(["2019-02-21", "2021-03-01", "2021-03-01"]),
        },
        index=["h18", "h20", "z20"],
    )
    events = pd.DataFrame(
        {
            "company_id": ["H", "H", "Z"],
            "event_date": pd.to_datetime(["2020-05-22", "2021-06-30", "2021-06-30"]),
            "kind": ["bankruptcy", "emergence", "emergence"],
        }
    )
    labelled = label_rows(rows, events, default_kinds=DEFAULT_EVENT_KINDS)
    assert labelled["target"].to_dict() == {"h18": 0, "z20": 0}
    assert set(excluded_rows(rows, events, default_kinds=DEFAULT_EVENT_KINDS).index) == {"h20"}
    # Without filing dates t = period end + 90 days: 2018-12-31 -> 2019-03-31, 2020-12-31 -> 2021-03-31.
    undated = observation_times(rows.assign(filed_at=[NaT, NaT, NaT]))
    assert undated.dt.strftime("%Y-%m-%d").tolist() == ["2019-03-31", "2021-03-31", "2021-03-31"]


def test_in_default_follows_the_latest_default_and_a_later_cure() -> None:
    import numpy as np

    from risk_assets.core.labels import in_default

    events = pd.DataFrame(
        {
            "company_id": ["A", "A", "A", "B", "C"],
            "event_date": ["2020-05-22", "2021-06-30", "2023-01-10", "2019-01-01", "2022-01-01"],
            "kind": ["bankruptcy", "emergence", "default", "emergence", "warning"],
        }
    )
    keys = pd.DataFrame(
        {
            "company_id": ["A", "A", "A", "A", "A", "B", "C", "D"],
            "as_of": [
                "2020-05-21",
                "2020-05-22",
                "2021-06-29",
                "2021-06-30",
                "2023-02-01",
                "2024-01-01",
                "2024-01-01",
                "2024-01-01",
            ],
        }
    )
    expected = [False, True, True, False, True, False, False, False]
    assert in_default(keys, events).tolist() == expected
    # order of the rows does not matter, and no events at all means nobody is in default
    shuffled = keys.iloc[::-1].reset_index(drop=True)
    assert in_default(shuffled, events).tolist() == expected[::-1]
    assert not in_default(keys, events.iloc[0:0]).any()
    assert in_default(keys.iloc[0:0], events).shape == (0,)
    assert isinstance(in_default(keys, events), np.ndarray)
