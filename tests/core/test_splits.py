"""Split mechanics on a seeded SYNTHETIC panel (random numbers, not real companies) and tiny planted frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.splits import (
    assert_no_leakage,
    duplicate_groups,
    holdout_mask,
    out_of_time_split,
    stratified_group_kfold,
)


def synthetic_panel(seed: int = 7, companies: int = 120) -> pd.DataFrame:
    """SYNTHETIC: companies x years 2010..2020, t a random day of the year, ~10% targets."""
    rng = np.random.default_rng(seed)
    records = []
    for company in range(companies):
        for year in range(2010, 2021):
            t = pd.Timestamp(year=year, month=1, day=1) + pd.Timedelta(days=int(rng.integers(0, 365)))
            records.append(
                {
                    "company_id": f"C{company:03d}",
                    "year": year,
                    "t": t,
                    "ratio": float(rng.normal()),
                    "target": int(rng.random() < 0.1),
                }
            )
    return pd.DataFrame(records)


def test_out_of_time_split_has_no_test_year_in_train():
    panel = synthetic_panel()
    train, test = out_of_time_split(panel, "year", 2018)
    assert train["year"].max() == 2017
    assert test["year"].min() == 2018
    assert not set(train.index) & set(test.index)
    assert len(train) + len(test) == len(panel)
    # 120 companies x 8 years (2010..2017) in train, x 3 years (2018..2020) in test
    assert (len(train), len(test)) == (960, 360)
    assert_no_leakage(train, test, "year")


def test_out_of_time_split_drops_training_rows_whose_window_reaches_the_test_period():
    panel = synthetic_panel()
    # planted boundary rows: t + 12 months = 2018-01-01 (= start of test period) -> dropped;
    # t + 12 months = 2017-12-31 -> kept
    planted = pd.DataFrame(
        {
            "company_id": ["P1", "P2"],
            "year": [2017, 2016],
            "t": pd.to_datetime(["2017-01-01", "2016-12-31"]),
            "ratio": [0.0, 0.0],
            "target": [0, 0],
        },
        index=[10_001, 10_002],
    )
    panel = pd.concat([panel, planted])
    train, test = out_of_time_split(panel, "year", 2018, horizon_months=12, time_column="t")
    assert train["t"].max() < pd.Timestamp("2017-01-01")
    assert 10_001 not in train.index
    assert 10_002 in train.index
    # every 2017 synthetic row has t >= 2017-01-01, so all 120 (and P1) are dropped; 2010..2016 remain
    assert len(train) == 120 * 7 + 1
    assert len(test) == 360
    assert_no_leakage(train, test, "year", time_column="t", horizon_months=12)


def test_horizon_needs_a_time_column():
    with pytest.raises(ValueError):
        out_of_time_split(synthetic_panel(), "year", 2018, horizon_months=12)


def test_assert_no_leakage_names_a_year_leak():
    panel = synthetic_panel()
    train, test = out_of_time_split(panel, "year", 2018)
    leaky_train = pd.concat([train, test.head(3)])
    with pytest.raises(AssertionError, match="year leak: 3 training rows"):
        assert_no_leakage(leaky_train, test, "year")


def test_assert_no_leakage_names_a_label_window_leak():
    panel = synthetic_panel()
    train, test = out_of_time_split(panel, "year", 2018)  # no horizon given: 2017 rows stay in train
    with pytest.raises(AssertionError, match="label-window leak: 120 training rows"):
        assert_no_leakage(train, test, "year", time_column="t", horizon_months=12)


def test_assert_no_leakage_names_an_observation_leak():
    # a fiscal-2017 row filed in February 2018 is observed inside the test period
    train = pd.DataFrame(
        {"company_id": ["A"], "fy": [2017], "t": pd.to_datetime(["2018-02-15"]), "target": [0]}
    )
    test = pd.DataFrame(
        {"company_id": ["A"], "fy": [2018], "t": pd.to_datetime(["2019-02-15"]), "target": [0]}
    )
    with pytest.raises(AssertionError, match="observation leak"):
        assert_no_leakage(train, test, "fy")


def test_assert_no_leakage_names_an_event_leak():
    train = pd.DataFrame(
        {
            "company_id": ["A", "B"],
            "year": [2017, 2017],
            "t": pd.to_datetime(["2017-03-01", "2017-03-01"]),
            "target": [1, 1],
        },
        index=["a17", "b17"],
    )
    test = pd.DataFrame(
        {"company_id": ["C"], "year": [2018], "t": pd.to_datetime(["2018-03-01"]), "target": [0]}
    )
    # A's default in 2017 was known before the test period; B's default in 2018 was not
    events = pd.DataFrame(
        {"company_id": ["A", "B"], "event_date": pd.to_datetime(["2017-09-01", "2018-02-01"])}
    )
    with pytest.raises(AssertionError, match=r"event leak: 1 training rows .*'b17'"):
        assert_no_leakage(train, test, "year", events=events)
    assert_no_leakage(train.loc[["a17"]], test, "year", events=events)


def planted_duplicates_frame(seed: int = 3) -> tuple[pd.DataFrame, np.ndarray, list[list[int]]]:
    """SYNTHETIC: 300 distinct rows plus 12 rows each copied 3 more times (some with NaN)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=300).round(3), "x2": rng.normal(size=300).round(3)})
    frame.loc[::17, "x2"] = np.nan
    y = (rng.random(300) < 0.2).astype(int)
    sources = list(range(0, 300, 25))  # 12 rows; row 0 also carries a NaN (every 17th row has one)
    copies = frame.loc[sources]
    frame = pd.concat([frame, copies, copies, copies], ignore_index=True)
    y = np.concatenate([y, y[sources], y[sources], y[sources]])
    duplicate_sets = [[source, 300 + k, 312 + k, 324 + k] for k, source in enumerate(sources)]
    order = rng.permutation(len(frame))  # scatter the copies through the frame
    frame = frame.iloc[order].reset_index(drop=True)
    y = y[order]
    new_position = np.argsort(order)
    duplicate_sets = [[int(new_position[p]) for p in members] for members in duplicate_sets]
    return frame, y, duplicate_sets


def test_duplicate_groups_are_nan_aware():
    frame = pd.DataFrame({"a": [1, 1.0, np.nan, np.nan, 2, 1], "b": ["x", "x", None, np.nan, "y", "1"]})
    groups = duplicate_groups(frame)
    # rows 0/1 equal (1 == 1.0), rows 2/3 equal (NaN == None), row 5 differs from row 0 in b ("1" vs "x")
    assert groups.tolist() == [0, 0, 1, 1, 2, 3]


def test_duplicate_groups_ignore_column_order():
    frame = pd.DataFrame({"a": [1.5, 2.5], "b": [3.0, 4.0]})
    assert duplicate_groups(frame).tolist() == duplicate_groups(frame[["b", "a"]]).tolist()


def test_duplicates_stay_in_one_fold_and_folds_are_stratified():
    frame, y, duplicate_sets = planted_duplicates_frame()
    groups = duplicate_groups(frame)
    for members in duplicate_sets:
        assert len({groups[p] for p in members}) == 1
    folds = stratified_group_kfold(y, groups, n_splits=5, seed=42)
    assert len(folds) == 5
    test_positions = np.concatenate([test for _, test in folds])
    assert sorted(test_positions.tolist()) == list(range(len(frame)))  # every row tested exactly once
    overall = y.mean()
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == len(frame)
        assert abs(y[test].mean() - overall) < 0.03
        for members in duplicate_sets:
            in_test = [p in set(test.tolist()) for p in members]
            assert all(in_test) or not any(in_test)


def test_stratified_group_kfold_is_reproducible_by_seed():
    frame, y, _ = planted_duplicates_frame()
    groups = duplicate_groups(frame)
    first = stratified_group_kfold(y, groups, n_splits=5, seed=1)
    again = stratified_group_kfold(y, groups, n_splits=5, seed=1)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))


def test_holdout_mask_is_stable_under_shuffling_and_appending():
    panel = synthetic_panel(companies=400)[["company_id", "year", "ratio"]]
    mask = pd.Series(holdout_mask(panel), index=panel.index)
    # share 0.2 in expectation: 4400 rows, sd = sqrt(0.2*0.8/4400) = 0.006 -> 0.03 is 5 sd
    assert abs(mask.mean() - 0.2) < 0.03

    shuffled = panel.sample(frac=1.0, random_state=11)
    shuffled_mask = pd.Series(holdout_mask(shuffled), index=shuffled.index)
    assert shuffled_mask.sort_index().equals(mask)

    extra = synthetic_panel(seed=99, companies=50)[["company_id", "year", "ratio"]]
    grown = pd.concat([panel, extra], ignore_index=True)
    grown_mask = holdout_mask(grown)
    assert np.array_equal(grown_mask[: len(panel)], mask.to_numpy())

    reordered_columns = panel[["ratio", "year", "company_id"]]
    assert np.array_equal(holdout_mask(reordered_columns), mask.to_numpy())


def test_holdout_mask_puts_duplicates_together_and_depends_on_salt():
    frame, _, duplicate_sets = planted_duplicates_frame()
    mask = holdout_mask(frame, share=0.5)
    for members in duplicate_sets:
        assert len({bool(mask[p]) for p in members}) == 1
    other_salt = holdout_mask(frame, share=0.5, salt="another")
    assert not np.array_equal(mask, other_salt)
    assert not holdout_mask(frame, share=0.0).any()
    assert holdout_mask(frame, share=1.0).all()


def test_holdout_mask_depends_on_values_not_dtypes():
    # the same numbers typed float64, int64 and object (mixed with None for the missing one) draw alike
    as_float = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan], "b": ["x", "y", "z", "w"]})
    as_object = pd.DataFrame({"a": pd.Series([1, 2.0, 3, None], dtype=object), "b": ["x", "y", "z", "w"]})
    assert np.array_equal(holdout_mask(as_float, share=0.5), holdout_mask(as_object, share=0.5))
    as_int = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert np.array_equal(holdout_mask(as_int, share=0.5), holdout_mask(as_float.head(3), share=0.5))


def test_empty_frame_gives_empty_mask_and_groups():
    empty = pd.DataFrame({"a": pd.Series([], dtype=float)})
    assert holdout_mask(empty).shape == (0,)
    assert duplicate_groups(empty).shape == (0,)


def test_time_column_alone_drops_training_rows_observed_in_the_test_period():
    # fiscal-year column: FY2017 filed 2018-02-15 is observed after the 2018-01-01 cut -> dropped;
    # FY2016 filed 2017-02-15 stays
    frame = pd.DataFrame(
        {"fy": [2016, 2017, 2018], "t": pd.to_datetime(["2017-02-15", "2018-02-15", "2019-02-15"])},
        index=["fy16", "fy17", "fy18"],
    )
    train, test = out_of_time_split(frame, "fy", 2018, time_column="t")
    assert train.index.tolist() == ["fy16"]
    assert test.index.tolist() == ["fy18"]
    assert_no_leakage(train, test, "fy")
