"""The bundled US listed panel: dating conventions, labels and the long-run rate the listed segments use."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_assets.core import us_listed


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    frame, excluded = us_listed.bundled_panel()
    assert excluded == {}  # every label window is observed by the data's own definition
    return frame


def test_statements_are_dated_and_in_dollars():
    statements = us_listed.load_statements()
    ktron = statements[
        (statements["company_id"] == "us-0000000020") & (statements["fiscal_year"] == 2005)
    ].iloc[0]
    assert ktron["total_assets"] == pytest.approx(89.11e6)
    assert ktron["total_equity"] == pytest.approx((89.11 - 39.59) * 1e6)
    assert ktron["period_end"] == dt.date(2005, 12, 31)
    assert ktron["filed_at"] == dt.date(2006, 3, 31)
    assert (statements["current_assets"].dropna() >= 0).all()  # impossible negatives became unknown


def test_only_the_last_fiscal_year_before_a_filing_is_positive(panel):
    failures = pd.read_csv(__import__("io").BytesIO(us_listed._read("bankruptcies_through_2012.csv")))
    last = dict(
        zip(
            failures["cik"].map(us_listed.company_id), failures["last_fiscal_year_before_filing"], strict=True
        )
    )
    positives = panel[panel["target"] == 1]
    assert len(positives) == len(failures) == 354
    assert positives["company_id"].is_unique
    assert all(last[c] == y for c, y in zip(positives["company_id"], positives["fiscal_year"], strict=True))
    # no row of a failed company after its last fiscal year, and its earlier rows are negatives
    failed = panel[panel["company_id"].isin(last)]
    assert (failed["fiscal_year"] <= failed["company_id"].map(last)).all()


def test_default_dates_fall_inside_the_last_rows_window_only():
    events = us_listed.load_events()
    one = events[events["company_id"] == us_listed.company_id(6201)].iloc[0]  # last fiscal year 2010
    t_last = dt.date(2010, 12, 31) + dt.timedelta(days=90)
    t_before = dt.date(2009, 12, 31) + dt.timedelta(days=90)
    assert t_last < one["event_date"] <= t_last + dt.timedelta(days=366)
    assert one["event_date"] > t_before + dt.timedelta(days=366)


def test_long_run_rate_is_the_mean_of_uncensored_years_plus_a_margin(panel):
    rate = us_listed.long_run_default_rate(panel)
    yearly = panel.groupby("fiscal_year")["target"].mean()
    assert rate["mean"] == pytest.approx(yearly[yearly.index >= 2003].mean())
    assert rate["margin"] > 0 and rate["rate"] == pytest.approx(rate["mean"] + rate["margin"])
    assert yearly.loc[1999] == 0.0  # censored: why the early years are left out
    with pytest.raises(ValueError, match="no years"):
        us_listed.long_run_default_rate(panel[panel["fiscal_year"] < 2003])


def test_features_are_known_at_t(panel):
    # roa_change needs the prior year: a company's first panel year has none
    first = panel.sort_values("fiscal_year").groupby("company_id").head(1)
    assert first["roa_change"].isna().all()
    assert np.isfinite(panel["log_real_assets"]).mean() > 0.99


def test_the_panels_healthiest_cells_default_above_the_investment_grade_line() -> None:
    """The evidence docs/modeling.md and the listed model cards give for not placing healthy mega-caps in
    investment grade: the panel's own default rates where they sit."""
    from risk_assets.core.master_scale import INVESTMENT_GRADE_MAX_PD
    from risk_assets.core.us_listed import HEALTHY_CELLS, bundled_panel, cell_experience, uncensored

    panel, _ = bundled_panel()
    table = cell_experience(panel).set_index("cell")
    rows = panel[uncensored(panel)]
    for label, rule in HEALTHY_CELLS:
        cell = rows.query(rule)
        assert table.loc[label, "firm_years"] == len(cell) > 100
        assert table.loc[label, "defaults"] == cell["target"].sum()
        assert table.loc[label, "low"] < table.loc[label, "rate"] < table.loc[label, "high"]
    assert (table["rate"] > INVESTMENT_GRADE_MAX_PD).all()
    retail = table.loc["quick ratio < 0.5 and ROA > 5% (a big retailer's shape)"]
    assert retail["low"] > 0.03  # speculative grade by the panel's experience, not by the model's choice
