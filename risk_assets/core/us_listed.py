"""The US listed-company panel (Lombardo et al. 2022, Compustat, fiscal years 1999-2011) as canonical statements
and dated default events: the training data of the listed segments.

Conventions, because the data has no dates (data/SOURCE.md, "us_listed"):

- Period end: 31 December of the Compustat ``fyear``. A fiscal year ending June-December of calendar year Y is
  fyear Y, one ending January-May of Y+1 is fyear Y too, so 31 December Y is within five months of every true end.
- Filing date (t): period end + 90 days (the 10-K deadline of large filers; docs/modeling.md "Labels").
- Default date: period end of the last fiscal year before the filing + ``DEFAULT_OFFSET_DAYS`` (182: mid-way through
  the following year). The dataset's definition puts the Chapter 11/7 filing in the year after that fiscal year;
  with t = period end + 90 days and a 12-month horizon, exactly the last fiscal year's row is labelled 1 and every
  earlier row 0 (tests/core/test_us_listed.py pins it).
- Items: millions of USD -> USD; total_equity = total_assets - total_liabilities (derived, flagged);
  ``total_operating_expenses`` is revenue - EBITDA in this data (not the canonical SG&A line) and is not used.
  Negative current assets, revenue, receivables or inventory (a handful of Compustat rows) are impossible amounts
  and become unknown; negative income, EBIT and retained earnings are real and kept.
- Companies: every row is a listed company (NYSE/NASDAQ); the data has no SIC codes, so financial firms cannot
  be excluded here (their share among Compustat industrials is small; the model card says so).
"""

from __future__ import annotations

import datetime as dt
import io
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

SOURCE = "us_listed"
REPORTING_LAG_DAYS = 90
DEFAULT_OFFSET_DAYS = 182
FIRST_YEAR, LAST_YEAR = 1999, 2011
#: The first fiscal year whose default rate the data's three-consecutive-years rule does not censor: a company
#: failing in 2000-2002 could hardly show three years from 1999, so those years hold almost no defaults. Calibration
#: maps and the long-run rate use rows from here on; rankings learn from every row.
FIRST_UNCENSORED_YEAR = 2003
#: The bankruptcies file lists every company whose last fiscal year before a filing is 2011 or earlier, so the
#: label of a fiscal-2011 row is known by the data's own definition: label windows are observed up to the end of
#: the last row's window (31 Dec 2011 + 90 days + 12 months).
OBSERVED_UNTIL = dt.date(2013, 3, 31)
CITATION = (
    "Lombardo, Pellegrino, Adosoglou, Cagnoni, Pardalos, Poggi (2022), Machine Learning for Bankruptcy "
    "Prediction in the American Stock Market: Dataset and Benchmarks, Future Internet 14(8):244; CC BY 4.0"
)

_ITEMS = {
    "current_assets": "current_assets",
    "total_assets": "total_assets",
    "cost_of_goods_sold": "cost_of_goods_sold",
    "total_long_term_debt": "long_term_debt",
    "depreciation_and_amortization": "depreciation_amortization",
    "ebit": "ebit",
    "ebitda": "ebitda",
    "gross_profit": "gross_profit",
    "inventory": "inventory",
    "total_current_liabilities": "current_liabilities",
    "net_income": "net_income",
    "retained_earnings": "retained_earnings",
    "total_receivables": "receivables",
    "total_revenue": "revenue",
    "market_value": "market_value_equity",
    "total_liabilities": "total_liabilities",
}
_NON_NEGATIVE = ("current_assets", "revenue", "receivables", "inventory", "cost_of_goods_sold")


def _read(name: str) -> bytes:
    return resources.files("risk_assets.data").joinpath("us_listed", name).read_bytes()


@lru_cache(maxsize=1)
def _raw() -> tuple[pd.DataFrame, pd.DataFrame]:
    import gzip

    firms = pd.read_csv(io.BytesIO(gzip.decompress(_read("firm_years_1999_2011.csv.gz"))))
    failures = pd.read_csv(io.BytesIO(_read("bankruptcies_through_2012.csv")))
    return firms, failures


def company_id(cik: int | str) -> str:
    """The panel's company ids: ``us-`` + the ten-digit CIK (never mixed up with a warehouse's ``sec-`` ids)."""
    return f"us-{int(cik):010d}"


def load_statements() -> pd.DataFrame:
    """One canonical annual statement per (company, fiscal year), amounts in USD, dated as the module says."""
    firms, _ = _raw()
    rows = pd.DataFrame(
        {"company_id": firms["cik"].map(company_id), "fiscal_year": firms["fiscal_year"].astype(int)}
    )
    for source, item in _ITEMS.items():
        values = pd.to_numeric(firms[source], errors="coerce") * 1e6
        if item in _NON_NEGATIVE:
            values = values.where(values >= 0)
        rows[item] = values
    rows["total_equity"] = rows["total_assets"] - rows["total_liabilities"]
    period_end = pd.to_datetime(rows["fiscal_year"].astype(str) + "-12-31")
    rows["period_end"] = period_end.dt.date
    rows["filed_at"] = (period_end + pd.Timedelta(days=REPORTING_LAG_DAYS)).dt.date
    rows["accession"] = "compustat-" + rows["fiscal_year"].astype(str)
    rows["currency"] = "USD"
    rows["period_type"] = "FY"
    rows["name"] = firms["company_name"].astype(str)
    rows["ticker"] = firms["ticker"].astype(str)
    rows["derived_items"] = "total_equity"
    rows["source"] = SOURCE
    return rows.sort_values(["company_id", "fiscal_year"]).reset_index(drop=True)


def load_events() -> pd.DataFrame:
    """One bankruptcy event per failed company, dated mid-way through the year after its last fiscal year."""
    _, failures = _raw()
    last_end = pd.to_datetime(failures["last_fiscal_year_before_filing"].astype(str) + "-12-31")
    return pd.DataFrame(
        {
            "company_id": failures["cik"].map(company_id),
            "event_date": (last_end + pd.Timedelta(days=DEFAULT_OFFSET_DAYS)).dt.date,
            "kind": "bankruptcy",
            "source": SOURCE,
            "reference": "last fiscal year before filing "
            + failures["last_fiscal_year_before_filing"].astype(str),
        }
    )


def yearly_default_rates(panel: pd.DataFrame) -> pd.Series:
    """Observed default rate per fiscal year of a labelled panel (``fiscal_year``, ``target``)."""
    return panel.groupby("fiscal_year")["target"].mean()


def uncensored(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose default rate is not distorted by the panel's sample design (every row not from the panel)."""
    return ((frame["source"] != SOURCE) | (frame["fiscal_year"] >= FIRST_UNCENSORED_YEAR)).to_numpy()


def long_run_default_rate(
    panel: pd.DataFrame, first_full_year: int = FIRST_UNCENSORED_YEAR, z: float = 0.674
) -> dict[str, float]:
    """The segment's long-run default rate from the panel, with a margin of conservatism.

    The mean of the yearly default rates (each year one observation of the cycle), from ``first_full_year``:
    the data keeps only companies with three consecutive years from 1999, so a company failing in 2000-2002
    could hardly enter it and the early years' rates are censored low (0% in 1999-2000). The margin of
    conservatism is the one-sided 75% upper confidence bound of that mean (z = 0.674 standard errors of the
    yearly rates), the kind of margin the EBA's PD guidelines ask for when the estimation sample is short.
    """
    rates = yearly_default_rates(panel)
    rates = rates[rates.index >= first_full_year]
    if rates.empty:
        raise ValueError(f"no years from {first_full_year} in the panel")
    mean = float(rates.mean())
    standard_error = float(rates.std(ddof=1) / np.sqrt(len(rates))) if len(rates) > 1 else 0.0
    return {
        "mean": mean,
        "margin": z * standard_error,
        "rate": mean + z * standard_error,
        "years": f"{int(rates.index.min())}-{int(rates.index.max())}",
        "n_years": len(rates),
    }


def labelled_panel(
    statements: pd.DataFrame,
    events: pd.DataFrame,
    *,
    horizon_months: int = 12,
    reporting_lag_days: int = REPORTING_LAG_DAYS,
    observed_until=None,
) -> tuple[pd.DataFrame, dict]:
    """Annual statements + default events -> training rows of the listed segments: company_id, fiscal_year, t,
    target, source and every field feature, known at t. Returns (frame, excluded rows by reason).

    The same function labels the bundled panel and the warehouse's own SEC/DART filers, so both are placed in
    time and featurised alike (core/labels.py, core/field_features.py).
    """
    from risk_assets.core.field_features import FIELD_FEATURES, compute_field_features
    from risk_assets.core.labels import DEFAULT_EVENT_KINDS, label_and_exclude

    rows = statements.reset_index(drop=True)
    if "period_type" in rows.columns:
        rows = rows[rows["period_type"].fillna("FY") == "FY"].reset_index(drop=True)
    if rows.empty:
        return pd.DataFrame(), {}
    features = compute_field_features(rows)
    keys = rows[["company_id", "period_end", "filed_at"]]
    labelled, dropped = label_and_exclude(
        keys,
        events[["company_id", "event_date", "kind"]],
        horizon_months,
        reporting_lag_days,
        default_kinds=DEFAULT_EVENT_KINDS,
        observed_until=observed_until,
    )
    frame = pd.DataFrame(
        {
            "company_id": rows.loc[labelled.index, "company_id"].astype(str),
            "fiscal_year": rows.loc[labelled.index, "fiscal_year"].astype(int),
            "t": labelled["t"],
            "target": labelled["target"].astype(int),
            "source": rows.loc[labelled.index, "source"].astype(str)
            if "source" in rows.columns
            else "statements",
        }
    )
    frame = pd.concat([frame, features.loc[labelled.index, list(FIELD_FEATURES)]], axis=1).reset_index(
        drop=True
    )
    return frame, {str(k): int(v) for k, v in dropped["excluded_reason"].value_counts().items()}


def bundled_panel() -> tuple[pd.DataFrame, dict]:
    """The bundled US listed panel, labelled (every label window is observed: filings through 2012)."""
    return labelled_panel(load_statements(), load_events(), observed_until=OBSERVED_UNTIL)


#: Cells of the panel where healthy large companies sit, each a (label, rule over field features).
HEALTHY_CELLS: tuple[tuple[str, str], ...] = (
    ("market value / liabilities > 3 and ROA > 8%", "mve_tl > 3 and ni_ta > 0.08"),
    ("market value / liabilities > 1.5 and ROA > 5%", "mve_tl > 1.5 and ni_ta > 0.05"),
    ("market value above $1bn (2015 USD) and MV / liabilities > 1", "log_real_mve > 6.907755 and mve_tl > 1"),
    ("market value above $10bn (2015 USD)", "log_real_mve > 9.21034"),
    ("quick ratio < 0.5 and ROA > 5% (a big retailer's shape)", "quick_ratio < 0.5 and ni_ta > 0.05"),
)


def cell_experience(
    panel: pd.DataFrame, cells: tuple[tuple[str, str], ...] = HEALTHY_CELLS, level: float = 0.95
) -> pd.DataFrame:
    """The panel's own default experience in named cells (uncensored years): firm-years, defaults, the rate and
    its two-sided Jeffreys interval. The evidence behind what the listed model can and cannot say about healthy
    large companies (docs/modeling.md; the model card's limits)."""
    from scipy.stats import beta

    rows = panel[uncensored(panel)] if "source" in panel.columns else panel
    tail = (1 - level) / 2
    table = []
    for label, rule in cells:
        cell = rows.query(rule)
        n, d = len(cell), int(cell["target"].sum())
        table.append(
            {
                "cell": label,
                "firm_years": n,
                "defaults": d,
                "rate": d / n if n else float("nan"),
                "low": float(beta.ppf(tail, d + 0.5, n - d + 0.5)) if n else float("nan"),
                "high": float(beta.ppf(1 - tail, d + 0.5, n - d + 0.5)) if n else float("nan"),
            }
        )
    return pd.DataFrame(table)
