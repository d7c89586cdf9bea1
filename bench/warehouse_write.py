"""Warehouse write throughput on MySQL/MariaDB: the product's score upsert against a plain executemany INSERT.

    .venv/bin/python bench/warehouse_write.py                        # 10k and 100k rows
    .venv/bin/python bench/warehouse_write.py --sizes 10000 100000 1000000

Both sides write the same rows (shaped like real `risk_scores` rows: ~2 KB of drivers and feature JSON each)
into empty tables of identical structure, one transaction each, on a scratch database of the server named
by --url (default: RISKGRAPH_BENCH_MYSQL_URL, else RISKGRAPH_TEST_MYSQL_URL), dropped afterwards:

- plain:   PyMySQL ``cursor.executemany("INSERT INTO risk_scores_plain (...) VALUES (%s, ...)", tuples)`` on
           tuples prepared beforehand: the floor of what the driver and server can do.
- upsert:  ``Warehouse.upsert("risk_scores", frame, replace=...)`` on the DataFrame the scoring asset builds,
           timed from the frame (value conversion included), as `risk_scores` writes a model version.
- again:   the same upsert once more, every key now existing (the ON DUPLICATE KEY UPDATE path).

Each size runs --repeat times (alternating plain, upsert, again) and the best time of each counts: on a
shared machine the best of a few runs is the least disturbed. The client's CPU seconds are printed too:
they are what the product's code adds on top of the driver, whatever the server's speed.

The goal: upsert >= 0.5x plain, and time growing linearly with rows (rows/s roughly flat across sizes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._scratch import connect, create_scratch_database, drop_scratch_database  # noqa: E402
from risk_assets.storage.schema import risk_scores  # noqa: E402
from risk_assets.storage.warehouse import Warehouse  # noqa: E402

RATIOS = [f"Attr{i}" for i in range(1, 65) if i not in (25, 29, 55)]


def score_frame(n: int, seed: int = 7) -> pd.DataFrame:
    """n score rows of one model version, shaped like the scoring asset's frame."""
    rng = np.random.default_rng(seed)
    companies = max(1, n // 20)
    company = np.arange(n) % companies
    as_of = pd.Timestamp("2005-01-01") + pd.to_timedelta((np.arange(n) // companies) * 30 + company % 30, "D")
    log_odds = rng.normal(-4.5, 1.5, n)
    pd_values = 1 / (1 + np.exp(-log_odds))
    ratios = rng.normal(0.5, 2.0, (n, len(RATIOS)))
    feature_values = [json.dumps(dict(zip(RATIOS, row.tolist(), strict=True))) for row in ratios]
    drivers = [
        json.dumps(
            {
                "base": -5.1,
                "contributions": dict(zip(RATIOS[:5], row[:5].tolist(), strict=True)),
                "other": float(row[5]),
            }
        )
        for row in ratios
    ]
    return pd.DataFrame(
        {
            "company_id": [f"sec-{c:010d}" for c in company],
            "as_of": as_of.date,
            "model_version": "1",
            "kind": "period",
            "model_name": "corporate_pd",
            "period_end": (as_of - pd.Timedelta(days=70)).date,
            "fiscal_year": as_of.year.astype(int),
            "accession": [f"0000{c:06d}-{i:08d}" for i, c in enumerate(company)],
            "filed_at": as_of.date,
            "pd": pd_values,
            "model_pd": pd_values,
            "grade": (np.clip((log_odds + 9) // 1.2, 1, 10)).astype(int).astype(str),
            "percentile": np.nan,
            "log_odds": log_odds,
            "drivers": drivers,
            "feature_values": feature_values,
            "in_default": False,
            "out_of_domain": rng.random(n) < 0.1,
            "domain_note": "",
            "code_version": "bench",
            "scored_at": pd.Timestamp("2026-01-02 03:04:05.678901"),
            "alert_pending": True,
            "segment": "listed_market",
            "segment_reason": "listed company (sec) with a market value of equity (filing)",
            "status": "scored",
            "period_type": "FY",
        }
    )


def plain_rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """The frame as DB-API tuples (NaN -> None, numpy -> Python), prepared outside the timed region."""
    out = frame[columns].astype(object).where(frame[columns].notna(), None)
    return [
        tuple(v.item() if isinstance(v, np.generic) else v for v in row)
        for row in out.itertuples(index=False)
    ]


def timed(action) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds)."""
    start, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("RISKGRAPH_BENCH_MYSQL_URL")
        or os.environ.get("RISKGRAPH_TEST_MYSQL_URL")
        or "mysql+pymysql://root@127.0.0.1:3306/test",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="row counts (add 1000000 for the full run; it takes a while)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best time counts")
    args = parser.parse_args()

    database, url = create_scratch_database(args.url, "riskgraph_bench_")
    warehouse = Warehouse(url)
    columns = [c.name for c in risk_scores.columns]
    # Column names from schema.py, values as parameters: nothing outside the program reaches this SQL.
    plain_sql = (
        f"INSERT INTO risk_scores_plain ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    results = []
    try:
        warehouse.create_schema()
        with warehouse.engine.connect() as connection:
            version = connection.exec_driver_sql("SELECT VERSION()").scalar()
        with warehouse.transaction() as connection:
            connection.exec_driver_sql("CREATE TABLE risk_scores_plain LIKE risk_scores")
        plain = connect(url, database=database, charset="utf8mb4")
        for n in args.sizes:
            frame = score_frame(n)
            tuples = plain_rows(frame, columns)

            def insert_plain(tuples=tuples) -> None:
                with plain.cursor() as cursor:
                    cursor.executemany(plain_sql, tuples)
                plain.commit()

            def upsert(frame=frame) -> None:
                warehouse.upsert("risk_scores", frame, replace={"model_version": "1", "kind": "period"})

            runs: dict[str, list[tuple[float, float]]] = {"plain": [], "upsert": [], "again": []}
            for _ in range(args.repeat):
                with warehouse.transaction() as connection:
                    connection.exec_driver_sql("TRUNCATE TABLE risk_scores")
                    connection.exec_driver_sql("TRUNCATE TABLE risk_scores_plain")
                runs["plain"].append(timed(insert_plain))
                runs["upsert"].append(timed(upsert))
                assert warehouse.count("risk_scores") == n
                runs["again"].append(timed(upsert))  # replace: delete the version's rows, insert them again
                assert warehouse.count("risk_scores") == n
                print(
                    f"  {n:>9,} rows: "
                    + "  ".join(
                        f"{name} {r[-1][0]:7.2f}s (cpu {r[-1][1]:6.2f}s)" for name, r in runs.items()
                    ),
                    file=sys.stderr,
                    flush=True,
                )
            best = {name: min(r) for name, r in runs.items()}
            results.append((n, *(best[name] for name in ("plain", "upsert", "again"))))
            del frame, tuples
        plain.close()
    finally:
        warehouse.dispose()
        drop_scratch_database(args.url, database)

    print(f"\nwarehouse write throughput, risk_scores rows (~2 KB each), server {version}, {dt.date.today()}")
    print(f"best of {args.repeat}; client CPU in microseconds per row")
    print(
        f"{'rows':>10} | {'plain insert rows/s':>19} | {'upsert rows/s':>13} | {'ratio':>5} | "
        f"{'re-upsert rows/s':>16} | {'ratio':>5} | {'cpu plain':>9} | {'cpu upsert':>10}"
    )
    print("-" * 112)
    for n, (t_plain, c_plain), (t_upsert, c_upsert), (t_again, _) in results:
        print(
            f"{n:>10,} | {n / t_plain:>19,.0f} | {n / t_upsert:>13,.0f} | {t_plain / t_upsert:>5.2f} | "
            f"{n / t_again:>16,.0f} | {t_plain / t_again:>5.2f} | {c_plain / n * 1e6:>9.0f} | "
            f"{c_upsert / n * 1e6:>10.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
