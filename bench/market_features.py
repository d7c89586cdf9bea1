"""compute_market_features: this checkout's whole-frame computation against the per-row loop it replaced, on the
same batch, in the same run.

    .venv/bin/python bench/market_features.py                        # 1,000 companies x 32 rows, a fifth priced
    .venv/bin/python bench/market_features.py --companies 10000 --repeat 1
    .venv/bin/python bench/market_features.py --priced-share 1.0     # every company listed with prices

The batch (in memory, nothing materialised): ``--companies`` US filers with 32 quarterly statement rows each
(2015-2022, a tenth of the periods restated once more), items drawn so every branch occurs (missing shares or
debt lines); ``--priced-share`` of them with business-day prices from 2012 (a random walk, a few missing closes),
one in twenty of those in another currency and one in ten with prices that stop in 2019 (stale closes after).
The macro indicators are the bundled FRED series (data/fred, as the embedded default loads them): the 10-year
yield is the risk-free rate.

The reference is the per-row loop kept in tests/market/test_market_feature_frame.py (core.market.market_features
and MacroBook.features per statement row). The sides alternate ``--repeat`` times in this process, each with a
fresh MacroBook (its per-date cache would otherwise favour the second), and the best wall and CPU seconds count.
The outputs are compared value for value (tests' assert_same_frame); the bench fails when they differ.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from risk_assets.clients.fred import parse_observations  # noqa: E402
from risk_assets.core.macro import DEFAULT_SERIES, MacroBook  # noqa: E402
from risk_assets.defs.sources import bundled  # noqa: E402
from risk_assets.defs.sources.providers import indicator_rows  # noqa: E402
from risk_assets.derive.market import compute_market_features  # noqa: E402
from tests.market.test_market_feature_frame import (  # noqa: E402
    assert_same_frame,
    reference_market_features,
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bundled_indicators() -> pd.DataFrame:
    """The default FRED series that data/fred bundles, as the embedded default's macro_indicators loads them."""
    rows = []
    for spec in DEFAULT_SERIES:
        if spec.source != "fred":
            continue
        body = bundled.fred_observations(spec.series_id, spec.publication_lag_days is None)
        if body is not None:
            parsed = parse_observations(json.loads(body), spec.series_id, spec.publication_lag_days)
            rows.extend(indicator_rows("fred", parsed))
    return pd.DataFrame(rows)


def synthetic_batch(n_companies: int, priced_share: float, seed: int) -> dict:
    """Statements, companies and prices of one batch (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    quarter_ends = [
        (pd.Timestamp(year, month, 1) + pd.offsets.MonthEnd(0)).date()
        for year in range(2015, 2023)
        for month in (3, 6, 9, 12)
    ]
    business_days = pd.bdate_range("2012-01-01", "2022-12-31")
    companies, statements, priced = [], [], {}
    for c in range(n_companies):
        cid = f"bench-{c:05d}"
        companies.append({"company_id": cid, "country": "US"})
        if rng.random() < priced_share:
            days = business_days[: int(len(business_days) * 0.65)] if rng.random() < 0.1 else business_days
            adjclose = 40 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
            close = adjclose * float(rng.choice([1.0, 2.0, 4.0]))
            close[rng.random(len(days)) < 0.01] = np.nan
            frame = pd.DataFrame({"date": days, "close": close, "adjclose": adjclose})
            priced[cid] = (f"B{c}", frame, "EUR" if rng.random() < 0.05 else "USD")
        scale = float(np.exp(rng.normal(20, 1.5)))
        shares = float(rng.uniform(1e7, 1e10))
        for end in quarter_ends:
            versions = 2 if rng.random() < 0.1 else 1
            for version in range(versions):
                items = {
                    "shares_outstanding": None if rng.random() < 0.1 else shares,
                    "short_term_debt": None if rng.random() < 0.3 else scale * float(rng.uniform(0, 0.3)),
                    "long_term_debt": None if rng.random() < 0.3 else scale * float(rng.uniform(0, 1)),
                    "current_liabilities": scale * float(rng.uniform(0.1, 0.5)),
                    "total_liabilities": None if rng.random() < 0.1 else scale * float(rng.uniform(0.5, 2)),
                }
                statements.append(
                    {
                        "company_id": cid,
                        "period_end": end,
                        "accession": f"{cid}-{end:%Y%m%d}-{version}",
                        "filed_at": end + dt.timedelta(days=40 + 60 * version),
                        "currency": "USD",
                        **items,
                    }
                )
    return {
        "statement_rows": pd.DataFrame(statements),
        "companies": pd.DataFrame(companies),
        "priced": priced,
        "specs": DEFAULT_SERIES,
    }


def timed(function, batch: dict, indicators: pd.DataFrame) -> tuple[pd.DataFrame, float, float]:
    book = MacroBook(indicators)  # fresh: no side profits from the other's per-date cache
    started, cpu = time.perf_counter(), time.process_time()
    frame = function(**batch, book=book)
    return frame, time.perf_counter() - started, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--priced-share", type=float, default=0.2, help="share of companies with prices")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side, alternating; the best counts")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    batch = synthetic_batch(args.companies, args.priced_share, args.seed)
    indicators = bundled_indicators()
    rows = len(batch["statement_rows"])
    log(f"{rows:,} statement rows of {args.companies:,} companies, {len(batch['priced']):,} with prices")
    sides = {
        "per-row loop (before)": reference_market_features,
        "whole frame (this checkout)": compute_market_features,
    }
    runs: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    outputs: dict[str, pd.DataFrame] = {}
    for attempt in range(args.repeat):
        for side, function in sides.items():
            log(f"run {attempt + 1}/{args.repeat}: {side} ...")
            frame, wall, cpu = timed(function, batch, indicators)
            outputs.setdefault(side, frame)
            runs[side].append((wall, cpu))
    before, after = outputs.values()
    try:
        assert_same_frame(after, before)
        same = "identical (every value, dtype and reason)"
    except AssertionError as error:
        same = f"DIFFER: {str(error)[:300]}"
    priced_rows = int(before["symbol"].notna().sum())
    print(
        f"\ncompute_market_features bench: {rows:,} statement rows, {args.companies:,} companies "
        f"({len(batch['priced']):,} with prices, {priced_rows:,} rows with a symbol, "
        f"{int(before['merton_dd'].notna().sum()):,} with a Merton DD), {time.strftime('%Y-%m-%d')}"
    )
    header = f"{'side':<28} | {'wall s':>7} | {'rows/s':>10} | {'CPU s':>7}"
    print(header)
    print("-" * len(header))
    best = {}
    for side, timings in runs.items():
        wall, cpu = min(t[0] for t in timings), min(t[1] for t in timings)
        best[side] = (wall, cpu)
        print(f"{side:<28} | {wall:>7.2f} | {rows / wall:>10,.0f} | {cpu:>7.2f}")
    (old_wall, old_cpu), (new_wall, new_cpu) = best.values()
    print(
        f"\nspeed-up: {old_wall / new_wall:.1f}x wall, {old_cpu / new_cpu:.1f}x CPU "
        f"(best of {args.repeat} alternating runs per side; before / after)"
    )
    print(f"outputs: {same}")
    return 0 if same.startswith("identical") else 1


if __name__ == "__main__":
    raise SystemExit(main())
