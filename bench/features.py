"""build_features rows/s: this checkout's against a baseline revision's, on the same input, in the same run.

    .venv/bin/python bench/features.py --warehouse-url sqlite:////tmp/home/warehouse.db   # its five input tables
    .venv/bin/python bench/features.py --companies 1000      # bundled graph + 1,000 synthetic companies in memory
    .venv/bin/python bench/features.py --baseline HEAD~3 --repeat 3

Input, one of:
- ``--warehouse-url``: the statements, market_features, indicators, warning_signals and companies tables of a
  materialised warehouse (e.g. a ``bench/scale.py --keep`` home: its synthetic companies have market features);
- otherwise the bundled graph is materialised in a temporary home (a few minutes) and ``--companies`` synthetic
  companies are added in memory (bench/scale.py's generator: perturbed copies of the bundled US filers), a tenth
  of them with early-warning signals of every kind, so the warning path is exercised at scale.

The baseline is the features module (``risk_assets/derive/features.py``, before it ``defs/features/assets.py``) as
of ``--baseline`` (default ``main``), loaded as a module of its own over this checkout's other modules. Each run is a child process of its own (the same pickled
input); the sides alternate ``--repeat`` times and the best wall and CPU seconds count (a shared machine disturbs
some runs, CPU seconds the least), with the children's peak RSS. The outputs are compared row by row (the JSON documents, or what the typed columns read
back as through the product's reader) and the bench fails when they differ.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._memory import peak_rss_mb, reset_peak_rss  # noqa: E402

INPUT_TABLES = ("statements", "market_features", "indicators", "warning_signals", "companies")
#: Share of synthetic companies given early-warning signals.
SIGNAL_SHARE = 0.1


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- input ---------------------------------------------------------------------------------------------------


def read_inputs(warehouse_url: str) -> dict[str, pd.DataFrame]:
    from risk_assets.storage.warehouse import Warehouse

    warehouse = Warehouse(warehouse_url)
    try:
        return {table: warehouse.read(table) for table in INPUT_TABLES}
    finally:
        warehouse.dispose()


def synthetic_signals(company_ids: list[str], statements: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A tenth of the companies get one to five signals of every kind, dated within their filing history."""
    from risk_assets.core.early_warning import SIGNAL_KINDS

    rng = np.random.default_rng(seed)
    filed = (
        statements.assign(_filed=pd.to_datetime(statements["filed_at"]))
        .groupby("company_id")["_filed"]
        .agg(["min", "max"])
    )
    rows = []
    for company_id in company_ids:
        if rng.random() >= SIGNAL_SHARE:
            continue
        first, last = filed.loc[company_id, "min"], filed.loc[company_id, "max"]
        for _ in range(int(rng.integers(1, 6))):
            day = first + pd.Timedelta(days=int(rng.integers(0, max((last - first).days, 1))))
            kind = str(rng.choice(SIGNAL_KINDS))
            resolved = day + pd.Timedelta(days=int(rng.integers(1, 200))) if rng.random() < 0.5 else None
            rows.append(
                {
                    "company_id": company_id,
                    "kind": kind,
                    "reference": f"bench-{len(rows)}",
                    "signal_date": day.date(),
                    "resolved_at": resolved.date()
                    if resolved is not None and kind == "filing_overdue"
                    else None,
                    "source": "bench",
                    "detail": "synthetic",
                }
            )
    return pd.DataFrame(rows)


def bundled_with_synthetic(companies: int, seed: int, workdir: Path) -> dict[str, pd.DataFrame]:
    """The bundled graph materialised in ``workdir``, plus ``companies`` synthetic companies in memory."""
    from bench.scale import _templates, synthetic_companies
    from risk_assets.commands.graph import run_main_sequence
    from risk_assets.storage.warehouse import Warehouse

    home = workdir / "home"
    os.environ.update(
        RISKGRAPH_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), RISKGRAPH_LOG_LEVEL="WARNING"
    )
    for name in ("RISKGRAPH_WAREHOUSE_URL", "RISKGRAPH_OBJECT_STORE_URL", "MLFLOW_TRACKING_URI"):
        os.environ.pop(name, None)
    log("materialising the bundled graph ...")
    with open(workdir / "graph.log", "w") as out:
        if not run_main_sequence(out=out):
            raise SystemExit(f"the bundled graph failed: see {workdir / 'graph.log'}")
    url = f"sqlite:///{home / 'warehouse.db'}"
    inputs = read_inputs(url)
    if companies:
        warehouse = Warehouse(url)
        try:
            templates = _templates(warehouse)
        finally:
            warehouse.dispose()
        statements, _events = synthetic_companies(templates, companies, seed)
        ids = list(dict.fromkeys(statements["company_id"]))
        keep = [c for c in inputs["statements"].columns if c in statements.columns]
        inputs["statements"] = pd.concat([inputs["statements"], statements[keep]], ignore_index=True)
        added = pd.DataFrame(
            {"company_id": ids, "country": "US", "dart_corp_code": None, "is_financial": False}
        )
        inputs["companies"] = pd.concat([inputs["companies"], added], ignore_index=True)
        signals = synthetic_signals(ids, statements, seed)
        inputs["warning_signals"] = pd.concat([inputs["warning_signals"], signals], ignore_index=True)
    return inputs


# --- the children --------------------------------------------------------------------------------------------


#: Where build_features lived, newest first: a baseline revision is read from the first that it has.
FEATURE_MODULES = ("risk_assets/derive/features.py", "risk_assets/defs/features/assets.py")


def load_baseline(revision: str, workdir: Path):
    """The features module as of ``revision``, over this checkout's other modules."""
    for module_path in FEATURE_MODULES:
        shown = subprocess.run(
            ["git", "show", f"{revision}:{module_path}"], cwd=REPO, capture_output=True, text=True
        )
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"{revision} has none of {', '.join(FEATURE_MODULES)}")
    path = workdir / "baseline_features.py"
    path.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("baseline_features", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child(side: str, revision: str, input_path: str, output_path: str) -> int:
    """Run one side's build_features once on the pickled input; write its seconds, peak RSS and output."""
    import warnings

    warnings.simplefilter("ignore")
    from risk_assets.core.macro import DEFAULT_SERIES, MacroBook

    workdir = Path(output_path).parent
    if side == "baseline":
        module = load_baseline(revision, workdir)
    else:
        from risk_assets.derive import features as module
    reset_peak_rss()
    inputs = pickle.loads(Path(input_path).read_bytes())
    rss_before = peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    frame = module.build_features(
        inputs["statements"],
        market=inputs["market_features"],
        book=MacroBook(inputs["indicators"]),
        specs=DEFAULT_SERIES,
        signals=inputs["warning_signals"],
        companies=inputs["companies"],
    )
    result = {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rows": len(frame),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }
    Path(output_path).write_bytes(pickle.dumps({"result": result, "documents": documents(frame)}))
    return 0


def documents(frame: pd.DataFrame) -> list[dict]:
    """Each feature row as the documents a client sees (ratios, classic, market, macro, warnings) with its key:
    parsed from the JSON columns of a revision that stored JSON, read back from the typed columns otherwise."""
    from risk_assets.core.feature_table import feature_document

    keys = ["company_id", "accession", "period_end"]
    out = []
    for row in frame.to_dict("records"):
        if "ratios" in row:
            document = {
                name: json.loads(row[name]) for name in ("ratios", "classic", "market", "macro", "warnings")
            }
        else:
            document = feature_document(row)
        out.append({**{k: str(row[k]) for k in keys}, **document})
    return out


# --- the parent ----------------------------------------------------------------------------------------------


def run_side(side: str, args: argparse.Namespace, input_path: Path, workdir: Path) -> dict:
    output = workdir / f"{side}.pickle"
    code = subprocess.call(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            side,
            args.baseline,
            str(input_path),
            str(output),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if code != 0 or not output.exists():
        raise SystemExit(f"the {side} child failed (exit {code})")
    return pickle.loads(output.read_bytes())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warehouse-url", help="read the five input tables from this warehouse")
    parser.add_argument(
        "--companies", type=int, default=1000, help="synthetic companies (without --warehouse-url)"
    )
    parser.add_argument("--baseline", default="main", help="git revision of the baseline (default main)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per side, alternating; the best counts")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    with tempfile.TemporaryDirectory(prefix="riskgraph_features_") as temp:
        workdir = Path(temp)
        if args.warehouse_url:
            inputs = read_inputs(args.warehouse_url)
        else:
            inputs = bundled_with_synthetic(args.companies, args.seed, workdir)
        rows = len(inputs["statements"])
        companies = inputs["statements"]["company_id"].nunique()
        signalled = inputs["warning_signals"]["company_id"].nunique() if len(inputs["warning_signals"]) else 0
        log(f"{rows:,} statement rows of {companies:,} companies ({signalled:,} with warning signals)")
        input_path = workdir / "input.pickle"
        input_path.write_bytes(pickle.dumps(inputs))
        runs: dict[str, list[dict]] = {"baseline": [], "current": []}
        for attempt in range(args.repeat):  # alternating, so a burst of load on the machine hits both sides
            for side in runs:
                log(f"run {attempt + 1}/{args.repeat}: {side} ...")
                run = run_side(side, args, input_path, workdir)
                if runs[side]:
                    run.pop("documents")  # the first run's output is the one compared
                runs[side].append(run)
        baseline, current = runs["baseline"][0], runs["current"][0]

    differing = [
        (old["company_id"], old["accession"], old["period_end"])
        for old, new in zip(baseline["documents"], current["documents"], strict=False)
        if old != new
    ]
    same = not differing and len(baseline["documents"]) == len(current["documents"])
    old, new = (
        {
            "rows": side[0]["result"]["rows"],
            "seconds": min(run["result"]["seconds"] for run in side),
            "cpu_seconds": min(run["result"]["cpu_seconds"] for run in side),
            "peak_rss_mb": max(run["result"]["peak_rss_mb"] for run in side),
            "rss_before_mb": side[0]["result"]["rss_before_mb"],
        }
        for side in runs.values()
    )
    print(
        f"\nbuild_features bench: {rows:,} statement rows, {companies:,} companies, {time.strftime('%Y-%m-%d')}"
    )
    header = f"{'side':<22} | {'wall s':>7} | {'rows/s':>9} | {'CPU s':>7} | {'rows/CPU s':>10} | {'peak RSS MB':>11}"
    print(header + f" | {'input RSS MB':>12}")
    print("-" * (len(header) + 15))
    for label, figures in ((f"baseline ({args.baseline})", old), ("this checkout", new)):
        print(
            f"{label:<22} | {figures['seconds']:>7.2f} | {figures['rows'] / figures['seconds']:>9,.0f} | "
            f"{figures['cpu_seconds']:>7.2f} | {figures['rows'] / figures['cpu_seconds']:>10,.0f} | "
            f"{figures['peak_rss_mb']:>11,.0f} | {figures['rss_before_mb']:>12,.0f}"
        )
    print(
        f"\nspeed-up: {old['seconds'] / new['seconds']:.1f}x wall, {old['cpu_seconds'] / new['cpu_seconds']:.1f}x CPU "
        f"(best of {args.repeat} alternating runs per side; baseline / this checkout)"
    )
    print(f"outputs: {'identical' if same else f'{len(differing):,} rows DIFFER, e.g. {differing[:3]}'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
