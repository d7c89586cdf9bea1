"""The Polish attribute map: hand-computed ratios, names equal to the Polish columns, point-in-time prior years."""

from __future__ import annotations

import gzip
import io
import math
import re
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from scipy.io import arff

from risk_assets.core.canonical import CANONICAL_ITEMS
from risk_assets.core.ratios import (
    EXCLUDED,
    MODEL_RATIOS,
    NOT_COMPUTABLE,
    PRIOR_YEAR_INPUTS,
    RATIO_SPECS,
    compute_ratio_frame,
    compute_ratios,
    mapping_table,
)

# A made-up statement (amounts in any currency).
ITEMS = {
    "total_assets": 1000.0,
    "total_liabilities": 600.0,
    "current_assets": 400.0,
    "current_liabilities": 250.0,
    "cash": 50.0,
    "receivables": 120.0,
    "inventory": 100.0,
    "total_equity": 400.0,
    "retained_earnings": 150.0,
    "revenue": 1200.0,
    "cost_of_goods_sold": 900.0,
    "gross_profit": 300.0,
    "ebit": 90.0,
    "depreciation_amortization": 30.0,
    "interest_expense": 15.0,
    "pretax_income": 75.0,
    "net_income": 60.0,
    "operating_cash_flow": 110.0,
}
PRIOR_1 = {"revenue": 1000.0, "pretax_income": 50.0}
PRIOR_2 = {"revenue": 900.0, "pretax_income": 40.0}

HAND_COMPUTED = {
    "Attr1": 0.06,  # net profit / TA = 60 / 1000
    "Attr3": 0.15,  # (CA - CL) / TA = (400 - 250) / 1000
    "Attr4": 1.6,  # CA / CL = 400 / 250
    "Attr5": 16.898148148148148,  # (CA - inv - CL) / (sales - ebit - D&A) * 365 = 50 / 1080 * 365 = 18250 / 1080
    "Attr7": 0.075,  # as the data: pre-tax 75 / TA 1000 (not ebit 90 / 1000)
    "Attr11": 0.09,  # (pre-tax 75 + interest 15) / 1000
    "Attr15": 2085.7142857142857,  # TL * 365 / (pre-tax + D&A) = 600 * 365 / 105 = 219000 / 105
    "Attr21": 1.2,  # sales 1200 / prior-year sales 1000
    "Attr24": 0.165,  # (75 + 50 + 40) / 1000
    "Attr27": 6.0,  # ebit / interest = 90 / 15
    "Attr28": 0.25,  # (CA - CL) / (TA - CA) = 150 / 600
    "Attr33": 4.44,  # (sales - ebit) / CL = 1110 / 250
    "Attr37": 0.8571428571428571,  # (CA - inv) / (TL - CL) = 300 / 350
    "Attr38": 0.75,  # (equity + TL - CL) / TA = (400 + 350) / 1000
    "Attr41": 0.16666666666666666,  # TL / ((ebit + D&A) * 30) = 600 / (120 * 30) = 600 / 3600
    "Attr43": 66.91666666666667,  # (rec + inv) * 365 / sales = 220 * 365 / 1200 = 80300 / 1200
    "Attr48": 0.06,  # (ebit - D&A) / TA = 60 / 1000
    "Attr52": 0.2777777777777778,  # CL / COGS = 250 / 900 (no x365, as the data)
    "Attr56": 0.25,  # (sales - COGS) / sales = 300 / 1200
    "Attr57": 0.15,  # net profit / equity = 60 / 400 (as the data)
    "Attr58": 0.9375,  # (sales - pre-tax) / sales = 1125 / 1200
    "Attr64": 2.0,  # sales / (TA - CA) = 1200 / 600
}


def _arff_attribute_names(filename: str) -> list[str]:
    blob = resources.files("risk_assets.data").joinpath("polish", filename).read_bytes()
    names = []
    for line in gzip.decompress(blob).decode("ascii").splitlines():
        if line.lower().startswith("@data"):
            break
        match = re.match(r"@attribute\s+(\S+)", line, flags=re.IGNORECASE)
        if match:
            names.append(match.group(1))
    return names


def test_hand_computed_ratios() -> None:
    ratios = compute_ratios(ITEMS, [PRIOR_1, PRIOR_2])
    for name, expected in HAND_COMPUTED.items():
        assert ratios[name] == pytest.approx(expected, rel=1e-12), name
        assert RATIO_SPECS[name].formula(ITEMS, [PRIOR_1, PRIOR_2]) == pytest.approx(expected, rel=1e-12), (
            name
        )


def test_names_are_the_polish_columns() -> None:
    header = _arff_attribute_names("5year.arff.gz")
    polish = [name for name in header if name != "class"]
    assert polish == [f"Attr{i}" for i in range(1, 65)]
    assert set(RATIO_SPECS) <= set(polish)
    # Every Polish attribute is mapped, listed as not computable, or excluded: exactly once.
    assert sorted([*RATIO_SPECS, *NOT_COMPUTABLE, *EXCLUDED], key=lambda n: int(n[4:])) == polish
    assert set(EXCLUDED) == {"Attr29", "Attr55"}
    assert list(MODEL_RATIOS) == [name for name in polish if name in RATIO_SPECS]
    assert set(compute_ratios(ITEMS)) == set(MODEL_RATIOS)


def test_spec_table_is_complete_for_the_model_card() -> None:
    for name, spec in RATIO_SPECS.items():
        assert spec.name == name
        assert spec.fidelity in {"exact", "approximate"}
        assert spec.note and spec.description
        bare = {item.split("[")[0] for item in spec.inputs}
        assert bare <= set(CANONICAL_ITEMS), name
    assert RATIO_SPECS["Attr1"].description == "net profit / total assets"
    assert RATIO_SPECS["Attr21"].inputs == ("revenue", "revenue[t-1]")
    assert PRIOR_YEAR_INPUTS == {1: ("pretax_income", "revenue"), 2: ("pretax_income",)}
    table = mapping_table()
    assert list(table["attribute"]) == [f"Attr{i}" for i in range(1, 65)]
    assert table.set_index("attribute").loc["Attr29", "status"] == "excluded"
    assert table.set_index("attribute").loc["Attr25", "status"] == "not computable"
    assert (table["status"] == "computed").sum() == len(RATIO_SPECS)


def test_history_ratios_need_prior_years() -> None:
    alone = compute_ratios(ITEMS)
    assert math.isnan(alone["Attr21"])
    assert math.isnan(alone["Attr24"])
    assert RATIO_SPECS["Attr21"].formula(ITEMS, []) is None
    one_year = compute_ratios(ITEMS, [PRIOR_1])
    assert one_year["Attr21"] == pytest.approx(1.2)  # 1200 / 1000
    assert math.isnan(one_year["Attr24"])  # needs two prior years


def test_zero_denominator_and_missing_input_give_nan() -> None:
    broken = {**ITEMS, "current_liabilities": 0.0, "inventory": None}
    ratios = compute_ratios(broken)
    assert math.isnan(ratios["Attr4"])  # CA / 0: NaN, not inf
    assert math.isnan(ratios["Attr12"])  # pre-tax / 0
    assert math.isnan(ratios["Attr20"])  # inventory unknown: NaN, not 0
    assert math.isnan(ratios["Attr60"])  # sales / unknown inventory
    assert ratios["Attr1"] == pytest.approx(0.06)  # unaffected ratios still computed
    zero_over_zero = compute_ratios({"net_income": 0.0, "total_assets": 0.0})
    assert math.isnan(zero_over_zero["Attr1"])
    assert all(not math.isinf(value) for value in ratios.values())


def test_frame_matches_scalar_and_keeps_index() -> None:
    frame = pd.DataFrame(
        [
            {"company_id": "A", "fiscal_year": 2019, "period_end": "2019-12-31", **ITEMS, **PRIOR_2},
            {"company_id": "A", "fiscal_year": 2020, "period_end": "2020-12-31", **ITEMS, **PRIOR_1},
            {"company_id": "A", "fiscal_year": 2021, "period_end": "2021-12-31", **ITEMS},
        ],
        index=pd.Index([10, 20, 30], name="row"),
    )
    out = compute_ratio_frame(frame)
    assert list(out.index) == [10, 20, 30]
    assert list(out.columns) == list(MODEL_RATIOS)
    expected = compute_ratios(ITEMS, [PRIOR_1, PRIOR_2])
    for name, value in expected.items():
        assert out.loc[30, name] == pytest.approx(value, rel=1e-12, nan_ok=True), name
    assert math.isnan(out.loc[10, "Attr21"])  # no 2018 row
    assert out.loc[20, "Attr21"] == pytest.approx(1000.0 / 900.0)  # 2020 sales 1000 over 2019 sales 900


def test_prior_year_is_taken_point_in_time() -> None:
    # FY2020 first filed with sales 100, restated to 80 in a 10-K/A filed after the first FY2021 10-K.
    rows = [
        ("A", 2020, "2021-02-01", 100.0),
        ("A", 2020, "2021-06-01", 80.0),
        ("A", 2021, "2021-05-01", 120.0),  # sees only the original FY2020: 120 / 100
        ("A", 2021, "2022-01-15", 120.0),  # a later version of FY2021 sees the restatement: 120 / 80
        ("B", 2021, "2022-03-01", 50.0),  # no FY2020 for B
        ("C", 2021, "2022-03-01", 60.0),  # C's FY2020 was filed later than this row
        ("C", 2020, "2022-04-01", 30.0),
    ]
    frame = pd.DataFrame(rows, columns=["company_id", "fiscal_year", "filed_at", "revenue"])
    frame["period_end"] = frame["fiscal_year"].astype(str) + "-12-31"
    out = compute_ratio_frame(frame)
    assert out["Attr21"].iloc[2] == pytest.approx(1.2)
    assert out["Attr21"].iloc[3] == pytest.approx(1.5)
    assert math.isnan(out["Attr21"].iloc[4])
    assert math.isnan(out["Attr21"].iloc[5])
    assert math.isnan(out["Attr21"].iloc[0])

    # Without filed_at the last version per company and year counts (here the restated 80).
    plain = compute_ratio_frame(frame.drop(columns="filed_at"))
    assert plain["Attr21"].iloc[2] == pytest.approx(1.5)
    assert plain["Attr21"].iloc[5] == pytest.approx(2.0)  # 60 / 30


def test_three_year_attribute_in_a_frame() -> None:
    frame = pd.DataFrame(
        {
            "company_id": [7, 7, 7],
            "fiscal_year": [2021, 2019, 2020],  # order of rows does not matter
            "period_end": ["2021-12-31", "2019-12-31", "2020-12-31"],
            "filed_at": ["2022-02-01", "2020-02-01", "2021-02-01"],
            "pretax_income": [75.0, 40.0, 50.0],
            "total_assets": [1000.0, 900.0, 950.0],
        }
    )
    out = compute_ratio_frame(frame)
    assert out["Attr24"].iloc[0] == pytest.approx(0.165)  # (75 + 50 + 40) / 1000
    assert out["Attr24"].iloc[1:].isna().all()


def test_mapping_reproduces_the_polish_columns() -> None:
    """Items rebuilt per unit of total assets from some Polish columns reproduce other Polish columns.

    This checks the readings that follow the data rather than the description (Attr7, Attr14, Attr41, Attr52,
    Attr57) and the Polish terms (gross profit = pre-tax, fixed assets = total - current). The shares are those
    measured on 5year.arff; the data's own identities hold in only part of the rows (two "sales" figures), which
    limits Attr41 (depreciation is rebuilt through sales).
    """
    blob = resources.files("risk_assets.data").joinpath("polish", "5year.arff.gz").read_bytes()
    data, _ = arff.loadarff(io.StringIO(gzip.decompress(blob).decode("ascii")))
    polish = pd.DataFrame(data).drop(columns="class").astype(float)

    def col(i: int) -> pd.Series:
        return polish[f"Attr{i}"]

    items = pd.DataFrame(
        {
            "company_id": np.arange(len(polish)),
            "fiscal_year": 2010,
            "total_assets": 1.0,
            "total_liabilities": col(2),
            "current_liabilities": col(51),
            "current_assets": col(3) + col(51),
            "total_equity": col(10),
            "net_income": col(1),
            "pretax_income": col(18),
            "ebit": col(22),
            "revenue": col(9),
            "inventory": col(20) * col(9) / 365,
            "receivables": col(44) * col(9) / 365,
            "cost_of_goods_sold": 365 * col(51) / col(32),
            "depreciation_amortization": (col(13) - col(19)) * col(9),
        }
    )
    ours = compute_ratio_frame(items)
    minimum_share = {
        "Attr4": 0.95,
        "Attr7": 0.95,
        "Attr12": 0.95,
        "Attr14": 0.95,
        "Attr17": 0.95,
        "Attr28": 0.95,
        "Attr43": 0.95,
        "Attr50": 0.95,
        "Attr53": 0.95,
        "Attr57": 0.95,
        "Attr52": 0.90,  # measured 0.92
        "Attr41": 0.55,  # measured 0.61; the description's 12/365 scaling matches under 1% of rows
    }
    for name, floor in minimum_share.items():
        theirs, mine = col(int(name[4:])), ours[name]
        both = theirs.notna() & mine.notna()
        assert both.sum() > 5000, name
        close = (theirs - mine).abs() <= 1e-3 * theirs.abs() + 1e-6
        assert close[both].mean() >= floor, (name, close[both].mean())
