"""PD term structure on the US listed panel: refit the mean-reverting hazard and print, per horizon (1-5 years) and
one-year PD band, predicted against observed cumulative default rates, with the AUC per horizon.

    .venv/bin/python bench/term_structure.py

The baseline in the same run is a flat curve (every year's hazard = the one-year PD, no reversion), so the
printed ratio says how much of the fit the reversion earns (log-likelihood per row, higher is better)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.special import logit

from risk_assets.core.term_structure import (
    FITTED,
    _negative_log_likelihood,
    fit,
    panel_inputs,
    validation_table,
)


def main() -> None:
    started = time.monotonic()
    print("out-of-fold one-year PDs on the US listed panel ...", flush=True)
    rows = panel_inputs()
    print(f"{len(rows)} firm-years; fitting ...", flush=True)
    fitted = fit(rows["pd1"], rows["default_year"], rows["observed_years"])
    print(
        f"fitted rho {fitted.rho}, long-run hazard {fitted.long_run} (served: rho {FITTED.rho}, "
        f"long-run {FITTED.long_run})"
    )
    args = (rows["pd1"].to_numpy(), rows["default_year"].to_numpy(), rows["observed_years"].to_numpy())
    reverting = -_negative_log_likelihood(np.array([logit(fitted.rho), logit(fitted.long_run)]), *args) / len(
        rows
    )
    flat = -_negative_log_likelihood(np.array([logit(1 - 1e-9), logit(0.03)]), *args) / len(rows)  # rho -> 1
    print(
        f"log-likelihood per row, years 2-5: reverting {reverting:.5f}, flat {flat:.5f} "
        f"(ratio flat/reverting {flat / reverting:.3f})"
    )
    table = validation_table(fitted, rows)
    with pd.option_context("display.width", 160, "display.max_rows", 100):
        print(table.to_string(index=False))
    print(f"({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()
