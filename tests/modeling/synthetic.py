"""A SYNTHETIC statement panel with defaults over time, for the mechanics of labels, out-of-time splits and
`riskgraph evaluate`. No bundled data set has defaults over time (the Polish data has no dates), so these
companies are made up: seeded, reproducible, and named as synthetic everywhere they appear.

Each company has a latent health that drifts from year to year; its statements follow from it (weak firms earn
less, owe more, hold less working capital) and its chance to default in the year after a filing falls with it.
A company stops filing after its default.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def synthetic_panel(
    companies: int = 160, first_year: int = 2010, last_year: int = 2021, seed: int = 7
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(statements, events) of a SYNTHETIC panel: statements have company_id, fiscal_year, period_end, filed_at
    (missing for about one row in ten), currency and canonical items; events have company_id, event_date, kind."""
    rng = np.random.default_rng(seed)
    statements, events = [], []
    for c in range(companies):
        company_id = f"SYN{c:04d}"
        health = rng.normal(0.0, 1.0)
        assets = float(np.exp(rng.normal(18, 1.2)))
        for year in range(first_year, last_year + 1):
            health = 0.8 * health + 0.6 * rng.normal()
            assets *= float(np.exp(rng.normal(0.03, 0.1)))
            leverage = float(np.clip(0.55 - 0.15 * health + rng.normal(0, 0.08), 0.05, 1.6))
            roa = float(0.04 + 0.05 * health + rng.normal(0, 0.03))
            current_assets = assets * float(np.clip(0.4 + 0.05 * health + rng.normal(0, 0.05), 0.05, 0.9))
            current_liabilities = assets * float(
                np.clip(0.25 - 0.05 * health + rng.normal(0, 0.05), 0.02, 1.2)
            )
            revenue = assets * float(np.exp(rng.normal(0.0, 0.3)))
            net_income = roa * assets
            period_end = dt.date(year, 12, 31)
            filed = period_end + dt.timedelta(days=int(rng.integers(45, 100)))
            statements.append(
                {
                    "company_id": company_id,
                    "fiscal_year": year,
                    "period_end": period_end,
                    "filed_at": None if rng.random() < 0.1 else filed,
                    "currency": "USD",
                    "total_assets": assets,
                    "total_liabilities": leverage * assets,
                    "total_equity": (1 - leverage) * assets,
                    "current_assets": current_assets,
                    "current_liabilities": current_liabilities,
                    "cash": 0.3 * current_assets,
                    "receivables": 0.3 * current_assets,
                    "inventory": 0.25 * current_assets,
                    "retained_earnings": (0.1 + 0.1 * health) * assets,
                    "revenue": revenue,
                    "cost_of_goods_sold": 0.7 * revenue,
                    "ebit": net_income * 1.3 + 0.01 * assets,
                    "pretax_income": net_income * 1.25,
                    "net_income": net_income,
                    "interest_expense": 0.04 * leverage * assets,
                    "depreciation_amortization": 0.03 * assets,
                    "operating_cash_flow": net_income + 0.03 * assets,
                    "market_value_equity": max((1 - leverage) * assets * float(np.exp(0.3 * health)), 1.0),
                }
            )
            p_default = 1.0 / (1.0 + np.exp(-(-3.6 - 1.4 * health)))
            if rng.random() < p_default:
                event_day = filed + dt.timedelta(days=int(rng.integers(30, 330)))
                events.append({"company_id": company_id, "event_date": event_day, "kind": "bankruptcy"})
                break
    return pd.DataFrame(statements), pd.DataFrame(events)


def write_csv(frame: pd.DataFrame, path) -> None:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
