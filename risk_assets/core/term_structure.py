"""PD term structure: cumulative probabilities of default over 1 to 5 years from a one-year PD.

Method (a discrete-time hazard with mean reversion, fitted on the US listed panel):

- Year 1's hazard is the served one-year PD.
- Year k's hazard reverts, on the log-odds scale, from the company's own towards a long-run hazard every credit
  shares: ``logit h_k = rho^(k-1) * logit PD1 + (1 - rho^(k-1)) * logit long_run``. With ``0 < rho < 1`` a good
  credit's marginal hazard rises and a poor credit's falls with the horizon, the shape of the agencies' cumulative
  default tables (a BBB's later years are riskier than its first, a CCC's safer, for those that survive).
- The cumulative PD is ``1 - prod_{k<=h} (1 - h_k)``: non-decreasing in the horizon and within ``[PD1, 1]`` by
  construction, because every hazard lies in (0, 1).

``rho`` and ``long_run`` are fitted by maximum likelihood on the panel's firm-years (`fit`): out-of-fold one-year
PDs from a logistic model on the field features (`panel_inputs`), each row followed for as many whole years as
the data observes (events are known to the end of 2012), censored there. `validation_table` compares predicted
and observed cumulative default rates per horizon and PD band on the rows whose whole window is observed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, logit

HORIZON_YEARS = 5
_EPS = 1e-9


@dataclass(frozen=True)
class TermStructure:
    rho: float  # the share of a company's one-year log-odds that persists from one year to the next
    long_run: float  # the annual hazard every credit reverts to
    source: str = ""

    def hazards(self, pd1: np.ndarray | float, years: int = HORIZON_YEARS) -> np.ndarray:
        """Annual hazards (conditional PDs) of years 1..years, one row per PD: shape (n, years)."""
        p = np.clip(np.atleast_1d(np.asarray(pd1, dtype=float)), _EPS, 1 - _EPS)
        weights = self.rho ** np.arange(years)  # 1, rho, rho^2, ...
        log_odds = np.outer(logit(p), weights) + np.outer(
            np.ones_like(p), (1 - weights) * logit(self.long_run)
        )
        hazards = expit(log_odds)
        hazards[:, 0] = p  # year 1 is the served PD itself
        return hazards

    def cumulative(self, pd1: np.ndarray | float, years: int = HORIZON_YEARS) -> np.ndarray:
        """Cumulative PDs of horizons 1..years: shape (n, years), non-decreasing along each row."""
        return 1 - np.cumprod(1 - self.hazards(pd1, years), axis=1)

    def marginal(self, pd1: np.ndarray | float, years: int = HORIZON_YEARS) -> np.ndarray:
        """Unconditional probability of defaulting in year k (cumulative k minus cumulative k-1)."""
        cumulative = self.cumulative(pd1, years)
        return np.diff(np.concatenate([np.zeros((len(cumulative), 1)), cumulative], axis=1), axis=1)

    def curve(self, pd1: float, years: int = HORIZON_YEARS) -> list[dict[str, float]]:
        """One company's curve as served: [{years, cumulative_pd, marginal_pd, hazard}]."""
        cumulative, marginal = self.cumulative(pd1, years)[0], self.marginal(pd1, years)[0]
        hazards = self.hazards(pd1, years)[0]
        return [
            {
                "years": k + 1,
                "cumulative_pd": float(cumulative[k]),
                "marginal_pd": float(marginal[k]),
                "hazard": float(hazards[k]),
            }
            for k in range(years)
        ]


#: Fitted by `fit(*panel_inputs())` on the bundled US listed panel (fiscal years 1999-2011, events to 2012;
#: 2026-12-05). tests/core/test_term_structure.py refits and checks these.
FITTED = TermStructure(
    rho=0.5807,
    long_run=0.03772,
    source="US listed panel (Lombardo et al. 2022), fiscal years 1999-2011, fitted 2026-12-05",
)


def _negative_log_likelihood(
    params: np.ndarray, pd1: np.ndarray, default_year: np.ndarray, observed_years: np.ndarray
) -> float:
    structure = TermStructure(rho=float(expit(params[0])), long_run=float(expit(params[1])))
    hazards = np.clip(structure.hazards(pd1), _EPS, 1 - _EPS)
    years = np.arange(1, HORIZON_YEARS + 1)
    at_risk = (
        years[None, :]
        <= np.minimum(observed_years, np.where(np.isnan(default_year), HORIZON_YEARS, default_year))[:, None]
    )
    defaulted = years[None, :] == np.nan_to_num(default_year, nan=-1)[:, None]
    survived = at_risk & ~defaulted
    # year 1 carries no information about rho or long_run (its hazard is PD1): leave it out
    survived[:, 0] = defaulted[:, 0] = False
    return -float((np.log(hazards) * defaulted).sum() + (np.log(1 - hazards) * survived).sum())


def fit(
    pd1: np.ndarray, default_year: np.ndarray, observed_years: np.ndarray, source: str = ""
) -> TermStructure:
    """Maximum-likelihood ``rho`` and ``long_run`` from rows with a one-year PD, the year (1..5) in which the
    company defaulted (NaN for none seen) and how many whole years after t the data observes (censoring)."""
    result = minimize(
        _negative_log_likelihood,
        x0=np.array([logit(0.5), logit(0.03)]),
        args=(np.asarray(pd1, float), np.asarray(default_year, float), np.asarray(observed_years, float)),
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 2000},
    )
    if not result.success:
        raise RuntimeError(f"term-structure fit did not converge: {result.message}")
    return TermStructure(
        rho=round(float(expit(result.x[0])), 4), long_run=round(float(expit(result.x[1])), 5), source=source
    )


def panel_inputs(folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """The bundled US listed panel's rows with an out-of-fold one-year PD (a logistic model on the field features,
    companies kept whole across folds), the year after t in which the company defaulted (1..5, NaN when not within
    five years) and the whole years after t the events observe."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from risk_assets.core import us_listed
    from risk_assets.core.field_features import FIELD_FEATURES, PRICE_FEATURES

    panel, _ = us_listed.bundled_panel()
    events = us_listed.load_events()
    features = [f for f in FIELD_FEATURES if f not in PRICE_FEATURES and panel[f].notna().mean() > 0.5]
    x = panel[features].astype(float)
    low, high = x.quantile(0.01), x.quantile(0.99)
    x = x.clip(low, high, axis=1).fillna(x.median())
    first_default = (
        events.assign(event_date=pd.to_datetime(events["event_date"]))
        .groupby("company_id")["event_date"]
        .min()
    )
    t = pd.to_datetime(panel["t"])
    until = pd.Timestamp(us_listed.OBSERVED_UNTIL)
    to_default = (panel["company_id"].map(first_default) - t).dt.days / 365.25
    default_year = np.where((to_default > 0) & (to_default <= HORIZON_YEARS), np.ceil(to_default), np.nan)
    observed = np.clip(np.floor((until - t).dt.days / 365.25), 0, HORIZON_YEARS)
    y1 = (default_year == 1).astype(int)
    pd1 = np.full(len(panel), np.nan)
    for train, test in GroupKFold(n_splits=folds).split(x, y1, groups=panel["company_id"]):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        model.fit(x.iloc[train], y1[train])
        pd1[test] = model.predict_proba(x.iloc[test])[:, 1]
    keep = (to_default.isna() | (to_default > 0)).to_numpy()  # rows after the default are not at risk
    return pd.DataFrame(
        {
            "company_id": panel["company_id"],
            "fiscal_year": panel["fiscal_year"],
            "pd1": pd1,
            "default_year": default_year,
            "observed_years": observed,
        }
    )[keep].reset_index(drop=True)


def validation_table(structure: TermStructure, rows: pd.DataFrame) -> pd.DataFrame:
    """Per horizon 1..5 and one-year PD band (the agency-equivalent bands of the master scale): rows whose whole
    window is observed, the mean predicted cumulative PD, the observed cumulative default rate, a two-sided
    Jeffreys p-value, and the AUC of PD1 for defaulting within the horizon."""
    from scipy.stats import beta

    from risk_assets.core.master_scale import AGENCY_BANDS, agency_band
    from risk_assets.core.metrics import roc_auc

    cumulative = structure.cumulative(rows["pd1"].to_numpy())
    bands = np.array([agency_band(p) for p in rows["pd1"]])
    present = set(bands)
    out = []
    for h in range(1, HORIZON_YEARS + 1):
        full = (rows["observed_years"] >= h).to_numpy()
        hit = (rows["default_year"] <= h).to_numpy()
        auc = (
            roc_auc(hit[full].astype(int), rows["pd1"].to_numpy()[full]) if hit[full].any() else float("nan")
        )
        for band in (
            "all",
            *(band for _, band in AGENCY_BANDS if band in present),
        ):  # the master scale's order
            mask = full & ((bands == band) if band != "all" else True)
            n, d = int(mask.sum()), int(hit[mask].sum())
            if n == 0:
                continue
            predicted = float(cumulative[mask, h - 1].mean())
            cdf = beta.cdf(predicted, d + 0.5, n - d + 0.5)
            out.append(
                {
                    "horizon": h,
                    "band": band,
                    "rows": n,
                    "defaults": d,
                    "predicted": round(predicted, 5),
                    "observed": round(d / n, 5),
                    "jeffreys_p": round(float(2 * min(cdf, 1 - cdf)), 4),
                    "auc": round(auc, 4) if band == "all" else None,
                }
            )
    return pd.DataFrame(out)
