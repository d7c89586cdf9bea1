"""value_digests: what an older filing score keeps of the feature values it was predicted from."""

import numpy as np
import pandas as pd

from risk_assets.core.fingerprint import value_digests


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"roa": [0.05, -0.02, np.nan], "leverage": [0.4, 1.2, 0.7], "size": [10.0, 8.5, 9.1]})


def test_a_row_has_the_same_digest_whatever_the_column_order_and_others_rows():
    frame = _frame()
    digests = value_digests(frame)
    assert len(set(digests)) == 3 and all(len(d) == 32 for d in digests)
    assert value_digests(frame[["size", "roa", "leverage"]]) == digests
    assert value_digests(frame.iloc[[2]]) == digests[2:]


def test_any_change_of_a_value_or_a_name_changes_the_digest():
    frame = _frame()
    moved = frame.copy()
    moved.loc[0, "roa"] = np.nextafter(0.05, 1.0)  # the smallest step a float can take
    assert value_digests(moved)[0] != value_digests(frame)[0]
    assert value_digests(moved)[1:] == value_digests(frame)[1:]
    known = frame.copy()
    known.loc[2, "roa"] = 0.0  # unknown is not zero
    assert value_digests(known)[2] != value_digests(frame)[2]
    renamed = frame.rename(columns={"size": "log_size"})
    assert value_digests(renamed)[0] != value_digests(frame)[0]


def test_a_value_read_back_from_a_database_keeps_its_digest():
    """SQLite and MySQL return a stored -0.0 as 0.0 and a NaN as NULL: neither may change the digest."""
    frame = _frame()
    read_back = frame.copy()
    read_back.loc[0, "roa"] = -0.0
    frame.loc[0, "roa"] = 0.0
    nan_with_sign = np.array([np.nan])
    nan_with_sign.view(np.uint64)[0] |= np.uint64(1 << 63)
    read_back.loc[2, "roa"] = nan_with_sign[0]
    from_nulls = pd.DataFrame(frame.astype(object).where(frame.notna(), None)).astype(float)
    assert value_digests(read_back) == value_digests(frame) == value_digests(from_nulls)
