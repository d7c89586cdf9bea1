"""Whole-market scale: import N synthetic companies through the product's import path, then rescore them.

    .venv/bin/python bench/scale.py                                   # 1,000 companies on SQLite
    .venv/bin/python bench/scale.py --companies 10000
    .venv/bin/python bench/scale.py --warehouse-url mysql+pymysql://root@127.0.0.1:3306/test   # scratch DB
    .venv/bin/python bench/scale.py --warehouse-url mariadb+mariadbconnector://root@127.0.0.1:3306/test  # its driver
    .venv/bin/python bench/scale.py --base-home /tmp/base --profile /tmp/rescore.prof
    .venv/bin/python bench/scale.py --companies 10000 --imported-home /tmp/h10k   # saves, then reuses, the import
    .venv/bin/python bench/scale.py --companies 100000 --passed-home /tmp/p100k  # saves the full pass, then only
                                                                                # measures the new filing on it
    .venv/bin/python bench/scale.py --companies 10000 --warehouse-url mariadb+mariadbconnector://root@127.0.0.1:3306/test \
        --mlflow-server                       # the runs against `mlflow server`, as in a deployment

What it does (issue 11, "The whole market, incrementally"):

1. A home with the bundled graph materialised (refresh_universe -> ingest_filings -> refresh_market -> retrain ->
   rescore_all), so champions are registered and the bundled filers' statements are in the warehouse. With
   ``--base-home`` (SQLite only) an already materialised home is copied instead.
2. N synthetic companies, each a perturbed copy of one bundled US filer (non-financial, USD): its last ~10 annual
   rows and the TTM rows of those years, every amount scaled by a company factor (log-normal) and a per-row
   noise, new ids. Annual rows go through ``import_statements`` (what `riskgraph import statements` runs); TTM
   rows, which a statements CSV cannot carry (an import is annual by definition), are written with the same
   ``Warehouse.upsert("statements")`` the statements asset uses. About 8% of the companies default (bankruptcy
   or payment default, a quarter of them later cured by an emergence) through ``import_events``; a company's
   statements stop at its default unless it emerges.
3. ``rescore_all`` in a child process (the same ``run_job`` as `riskgraph materialize --jobs rescore_all`): each
   step's seconds from the run's event log, the job's wall time (and from the process's start, its interpreter and
   imports included), statement rows/s end to end and the child's peak RSS (its own high-water mark, VmHWM).
4. One new filing: one company's next annual statement imported, then ``rescore_all`` again (what a day with one
   new 10-K costs), and a rerun with nothing new; beside them the start-up floor, a fresh process that loads the
   definitions and finds and loads the champions as ``risk_scores`` does. ``--mlflow-server`` serves the home's
   MLflow store with `mlflow server` after the bundled graph, and the runs use it, as a deployment's do.
5. The baseline, measured in the same run: the champions' raw ``predict_pd`` on the same feature rows (each row
   with its segment's model, the ratio frame built beforehand), rows/s. The headline is end-to-end rows/s divided
   by raw predict rows/s.

A MySQL/MariaDB ``--warehouse-url`` names the server: a scratch database ``riskgraph_scale_<hex>`` is created on it
and dropped afterwards unless ``--keep`` (the URL's own database is never touched).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy.engine import make_url  # noqa: E402

from bench._memory import TreeMemory, cpu_seconds, peak_rss_mb, server_process, worker_peak_rss_mb  # noqa: E402
from bench._scratch import create_scratch_database, drop_scratch_database, server_sizing  # noqa: E402
from risk_assets.core.canonical import CANONICAL_ITEMS  # noqa: E402

#: Share of synthetic companies given a default event, and of those later cured (emergence).
DEFAULT_SHARE = 0.08
CURE_SHARE = 0.25
ANNUAL_ROWS = 10
#: Items that are counts or prices rather than amounts: scaled like the rest would change the per-share picture.
UNSCALED_ITEMS = frozenset({"shares_outstanding"})


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the child: one job run, measured ------------------------------------------------------------------------


def _step_seconds(run_id: str) -> dict[str, float]:
    """Seconds per step of a finished run, from its event log (step start to success or failure)."""
    import dagster as dg

    starts: dict[str, float] = {}
    seconds: dict[str, float] = {}
    with dg.DagsterInstance.get() as instance:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not entry.step_key:
                continue
            if event.event_type_value == "STEP_START":
                starts[entry.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                seconds[entry.step_key] = entry.timestamp - starts.get(entry.step_key, entry.timestamp)
    return seconds


def child_job(job: str, result_path: str, profile_path: str | None) -> int:
    """Run one job in this (fresh) process and write its timings and peak RSS as JSON."""
    from risk_assets.commands.graph import run_job

    started = time.perf_counter()
    profiler = cProfile.Profile() if profile_path else None
    if profiler:
        profiler.enable()
    outcome = run_job(job)
    ended_at = time.time()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_path)
    wall = time.perf_counter() - started
    result = {
        "job": job,
        "success": outcome.success,
        "failed_steps": outcome.failed_steps,
        "failed_checks": outcome.failed_checks,
        "wall_seconds": wall,
        "ended_at": ended_at,
        "steps": _step_seconds(outcome.run_id),
        "peak_rss_mb": peak_rss_mb(),
        "worker_peak_rss_mb": worker_peak_rss_mb(),
    }
    Path(result_path).write_text(json.dumps(result))
    return 0 if outcome.success else 1


def child_startup(result_path: str) -> int:
    """What any run pays before its first step, in a fresh process like a run's: the definitions loaded, then
    what the start of a run that scores adds (its champions found and their models loaded, as risk_scores does:
    scikit-learn, and MLflow with its tracking store unless the kept models and a tracking server, or aliases
    remembered from an unchanged embedded store, spare it): the floor of the new-filing figure on this host,
    beside it in the same run."""
    started = time.perf_counter()
    from risk_assets.definitions import defs

    defs()
    loaded = time.perf_counter()
    from risk_assets.defs.resources import default_resources
    from risk_assets.defs.scoring.assets import champion_models, champions_of

    resources = default_resources(env_vars=False)
    registry = resources["mlflow_registry"]
    objects = resources["object_store"].get()
    champion_models(champions_of(registry, objects), registry, objects)
    scoring = time.perf_counter()
    result = {
        "definitions_seconds": loaded - started,
        "scoring_start_seconds": scoring - loaded,
        "mlflow_imported": "mlflow" in sys.modules,
    }
    Path(result_path).write_text(json.dumps(result))
    return 0


def child_predict(result_path: str) -> int:
    """The champions' raw predict_pd on the scored feature rows, each with its segment's model."""
    from risk_assets.core.feature_table import RATIO_COLUMNS, ratio_frame
    from risk_assets.defs.resources import default_resources
    from risk_assets.settings import Settings
    from risk_assets.storage.warehouse import Warehouse

    settings = Settings.from_env()
    warehouse = Warehouse(settings.warehouse_url)
    registry = default_resources(settings, env_vars=False)["mlflow_registry"]
    models: dict = {}
    companies = warehouse.distinct("features", "company_id")
    rows, seconds, best = 0, 0.0, {}
    # a chunk of companies at a time (at 100,000 companies the feature rows of the whole market, even only the
    # columns predict needs, were killed for memory); each chunk's best of three predicts is summed
    for start in range(0, len(companies), PREDICT_CHUNK):
        chunk = companies[start : start + PREDICT_CHUNK]
        feats = warehouse.read(
            "features", where={"company_id": chunk}, columns=["company_id", "accession", *RATIO_COLUMNS]
        )
        scores = warehouse.read(
            "risk_scores",
            where={"company_id": chunk},
            columns=["company_id", "accession", "segment", "kind"],
        )
        scores = scores[scores["kind"] == "period"]
        segment_of = dict(
            zip(zip(scores["company_id"], scores["accession"], strict=True), scores["segment"], strict=True)
        )
        segments = pd.Series(
            [segment_of.get(k) for k in zip(feats["company_id"], feats["accession"], strict=True)],
            index=feats.index,
        ).dropna()
        ratios = ratio_frame(feats)
        for segment, index in segments.groupby(segments).groups.items():
            if segment not in models:
                models[segment] = registry.for_segment(segment).load_champion()[1]
            model = models[segment]
            frame = ratios.loc[index].reindex(columns=model.feature_names).astype(float)
            model.predict_pd(frame)  # warm-up
            times = []
            for _ in range(3):
                begin = time.perf_counter()
                model.predict_pd(frame)
                times.append(time.perf_counter() - begin)
            part = best.setdefault(segment, {"rows": 0, "seconds": 0.0})
            part["rows"] += len(frame)
            part["seconds"] += min(times)
            rows += len(frame)
            seconds += min(times)
    warehouse.dispose()
    Path(result_path).write_text(json.dumps({"rows": rows, "seconds": seconds, "segments": best}))
    return 0


# --- the parent ----------------------------------------------------------------------------------------------


class Home:
    """A temporary RISKGRAPH_HOME (and, on a server, a scratch database) with the bundled graph materialised."""

    def __init__(
        self, server_url: str | None, base_home: Path | None, keep: bool, path: Path | None = None
    ) -> None:
        if path is not None:  # a saved home restored where it was made: MLflow recorded absolute paths
            if path.exists():
                raise SystemExit(f"{path} exists: the saved home cannot be restored there")
            path.mkdir(parents=True)
        self.path = path or Path(tempfile.mkdtemp(prefix="riskgraph_scale_"))
        self.keep = keep
        self.server_url = server_url
        self.database = None
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("RISKGRAPH_", "MLFLOW_", "DAGSTER_"))
        }
        if base_home is not None:
            if server_url:
                raise SystemExit("--base-home is for SQLite: a server warehouse is materialised afresh")
            shutil.copytree(base_home, self.path, dirs_exist_ok=True)
        self.env.update(
            RISKGRAPH_HOME=str(self.path),
            DAGSTER_HOME=str(self.path / "dagster"),
            RISKGRAPH_LOG_LEVEL="WARNING",
            PYTHONPATH=str(REPO),  # this checkout's code, whichever one the venv installed
        )
        if server_url:
            self.database, self.env["RISKGRAPH_WAREHOUSE_URL"] = create_scratch_database(
                server_url, "riskgraph_scale_"
            )
        self.warehouse_url = self.env.get(
            "RISKGRAPH_WAREHOUSE_URL", f"sqlite:///{self.path / 'warehouse.db'}"
        )
        self.needs_graph = base_home is None
        self.mlflow_server = None

    def serve_mlflow(self) -> str:
        """Serve the home's MLflow store with `mlflow server` (as a deployment does) and point the runs at it."""
        from tests.support.servers import MlflowServer

        self.mlflow_server = MlflowServer(
            self.path / "mlflow-server",
            backend_store_uri=f"sqlite:///{self.path / 'mlflow.db'}",
            artifacts_destination=(self.path / "mlartifacts").as_uri(),
        )
        self.mlflow_server.start()
        self.env["MLFLOW_TRACKING_URI"] = self.mlflow_server.url
        return self.mlflow_server.url

    def code_version(self) -> str:
        """The commit the runs' code version names: the pinned one, else this checkout's HEAD."""
        pinned = self.env.get("RISKGRAPH_GIT_COMMIT")
        if pinned:
            return pinned
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        )
        return head.stdout.strip()

    def run(self, *args: str) -> dict:
        """Run this script as a child in the home's environment; its JSON result."""
        result = self.path / f"result-{secrets.token_hex(4)}.json"
        launched_at = time.time()
        with open(self.path / "child.log", "a") as child_log:
            child = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", *args, str(result)],
                env=self.env,
                stdout=child_log,
                stderr=child_log,
                cwd=REPO,
            )
            memory = TreeMemory(child.pid)
            server = server_process() if self.server_url and _is_local(self.server_url) else None
            server_before = cpu_seconds(server) if server else None
            memory.start()
            code = child.wait()
            memory.stop()
            server_after = cpu_seconds(server) if server else None
        if not result.exists():
            raise SystemExit(f"child {args} failed (exit {code}); see {self.path / 'child.log'}")
        figures = json.loads(result.read_text())
        # a job: its wall from the process's start too (the interpreter and its imports)
        if "ended_at" in figures:
            figures["process_wall_seconds"] = figures["ended_at"] - launched_at
        return figures | {
            "tree_peak_pss_mb": memory.peak_pss_mb,
            "tree_peak_rss_mb": memory.peak_rss_mb,
            "cpu_seconds_run": memory.cpu_seconds.get(child.pid, 0.0),
            "cpu_seconds_workers": sum(s for pid, s in memory.cpu_seconds.items() if pid != child.pid),
            "cpu_seconds_server": (
                server_after - server_before
                if server_before is not None and server_after is not None
                else None
            ),
        }

    def close(self) -> None:
        if self.mlflow_server is not None:
            self.mlflow_server.kill()
        if self.database and self.keep:
            log(f"scratch database kept: {self.database} (drop it when done)")
        elif self.database:
            drop_scratch_database(self.server_url, self.database)
        if self.keep:
            log(f"home kept: {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def _is_local(server_url: str) -> bool:
    return make_url(server_url).host in ("127.0.0.1", "localhost", "::1", None)


def _templates(warehouse) -> pd.DataFrame:
    """The bundled US filers' statements a synthetic company copies: non-financial, USD, annual and TTM."""
    companies = warehouse.read("companies")
    usable = companies[companies["cik"].notna() & ~companies["is_financial"].astype(bool)]
    statements = warehouse.read("statements", where={"company_id": list(usable["company_id"])})
    statements = statements[statements["currency"] == "USD"]
    sic = dict(zip(usable["company_id"], usable["sic"], strict=True))
    statements["sic"] = statements["company_id"].map(sic)
    return statements


def synthetic_companies(templates: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(statements, default events) of ``n`` synthetic companies: see the module docstring."""
    rng = np.random.default_rng(seed)
    by_template = {}
    for company_id, rows in templates.groupby("company_id"):
        annual = rows[rows["period_type"] == "FY"].sort_values("period_end").tail(ANNUAL_ROWS)
        if len(annual) < 3:
            continue
        first_year = annual["fiscal_year"].min()
        ttm = rows[(rows["period_type"] != "FY") & (rows["fiscal_year"] >= first_year)]
        by_template[company_id] = pd.concat([annual, ttm]).sort_values("filed_at").reset_index(drop=True)
    names = sorted(by_template)
    if not names:
        raise SystemExit("no bundled US filer has three annual statements: is the base home materialised?")
    items = [c for c in CANONICAL_ITEMS if c in templates.columns]
    scaled = [c for c in items if c not in UNSCALED_ITEMS]
    parts, events = [], []
    for i in range(n):
        company_id = f"bench-{i:07d}"
        rows = by_template[names[i % len(names)]].copy()
        factor = float(np.exp(rng.normal(0.0, 1.0)))
        noise = np.exp(rng.normal(0.0, 0.05, size=(len(rows), len(scaled))))
        values = rows[scaled].to_numpy(dtype=float) * factor * noise
        rows[scaled] = values
        rows["company_id"] = company_id
        rows["name"] = f"Synthetic {i:07d}"
        rows["accession"] = [f"b{i:07d}-{j:04d}" for j in range(len(rows))]
        if rng.random() < DEFAULT_SHARE:
            filed = pd.to_datetime(rows["filed_at"])
            cut = filed.iloc[int(rng.integers(len(rows) // 2, len(rows)))]
            default_date = (cut + pd.Timedelta(days=int(rng.integers(30, 300)))).date()
            kind = "bankruptcy" if rng.random() < 0.7 else "default"
            events.append(
                {"company_id": company_id, "event_date": default_date, "kind": kind, "reference": "synthetic"}
            )
            if rng.random() < CURE_SHARE:
                cured = default_date + pd.Timedelta(days=int(rng.integers(180, 720)))
                events.append(
                    {
                        "company_id": company_id,
                        "event_date": cured,
                        "kind": "emergence",
                        "reference": "synthetic",
                    }
                )
            else:
                rows = rows[filed.dt.date.to_numpy() <= default_date]
        parts.append(rows)
    return pd.concat(parts, ignore_index=True), pd.DataFrame(
        events, columns=["company_id", "event_date", "kind", "reference"]
    )


def write_companies(
    warehouse_url: str, statements: pd.DataFrame, events: pd.DataFrame, workdir: Path
) -> dict:
    """Annual rows and events through the import functions, TTM rows with the statements asset's upsert."""
    from risk_assets.storage.imports import import_events, import_statements
    from risk_assets.storage.schema import TABLES
    from risk_assets.storage.warehouse import Warehouse

    warehouse = Warehouse(warehouse_url)
    items = [c for c in CANONICAL_ITEMS if c in statements.columns]
    annual = statements[statements["period_type"] == "FY"]
    ttm = statements[statements["period_type"] != "FY"]
    csv = workdir / "statements.csv"
    columns = ["company_id", "fiscal_year", "period_end", "filed_at", "period_start", "accession", "form"]
    columns += ["currency", "name", "sic", *items]
    annual[columns].assign(country="US").to_csv(csv, index=False)
    started = time.perf_counter()
    result = import_statements(warehouse, csv)
    if not result.ok:
        raise SystemExit("import refused rows:\n" + "\n".join(result.lines()[:20]))
    table = ttm.drop(columns=["name", "sic"]).assign(source="user_csv")
    keep = [c.name for c in TABLES["statements"].columns if c.name in table.columns]
    warehouse.upsert("statements", table[keep])
    if len(events):
        events_csv = workdir / "events.csv"
        events.to_csv(events_csv, index=False)
        imported = import_events(warehouse, events_csv)
        if not imported.ok:
            raise SystemExit("events refused:\n" + "\n".join(imported.lines()[:20]))
    seconds = time.perf_counter() - started
    warehouse.dispose()
    return {"annual": len(annual), "ttm": len(ttm), "events": len(events), "seconds": seconds}


def new_filing(warehouse_url: str, statements: pd.DataFrame, workdir: Path) -> str:
    """One synthetic company's next annual statement (a year after its last), imported."""
    from risk_assets.storage.imports import import_statements
    from risk_assets.storage.warehouse import Warehouse

    annual = statements[statements["period_type"] == "FY"]
    company_id = annual["company_id"].iloc[0]
    last = annual[annual["company_id"] == company_id].sort_values("period_end").tail(1).copy()
    year = pd.DateOffset(years=1)
    last["fiscal_year"] += 1
    for column in ("period_end", "filed_at", "period_start"):
        last[column] = (pd.to_datetime(last[column]) + year).dt.date
    last["accession"] = f"{last['accession'].iloc[0]}-next"
    items = [c for c in CANONICAL_ITEMS if c in last.columns]
    last[items] = last[items] * 0.8  # a weaker year
    csv = workdir / "new_filing.csv"
    last.drop(columns=["period_type", "fiscal_period", "source", "derived_items"], errors="ignore").to_csv(
        csv, index=False
    )
    warehouse = Warehouse(warehouse_url)
    try:
        result = import_statements(warehouse, csv)
    finally:
        warehouse.dispose()
    if not result.ok or result.new != 1:
        raise SystemExit("the new filing did not land:\n" + "\n".join(result.lines()))
    return company_id


def print_run(label: str, run: dict, rows: int) -> None:
    steps = "  ".join(f"{step} {seconds:.1f}s" for step, seconds in run["steps"].items())
    workers = run.get("worker_peak_rss_mb") or []
    log(
        f"  {label}: {run['wall_seconds']:.1f}s ({rows / run['wall_seconds']:,.0f} statement rows/s"
        + (
            f"; {run['process_wall_seconds']:.1f}s from the process's start"
            if "process_wall_seconds" in run
            else ""
        )
        + f"), peak RSS {run['peak_rss_mb']:,.0f} MB"
        + (f" + {len(workers)} workers {' + '.join(f'{w:,.0f}' for w in workers)} MB" if workers else "")
        + (f"; held at once (PSS) {run['tree_peak_pss_mb']:,.0f} MB" if "tree_peak_pss_mb" in run else "")
        + ("" if run["success"] else " FAILED " + str(run["failed_steps"]))
    )
    log(f"    {steps}")


#: Companies whose feature rows the raw-predict baseline reads and predicts at a time.
PREDICT_CHUNK = 10_000
#: In a saved imported home: the path it was made at, where it is restored.
ORIGIN_FILE = "saved_from.txt"
#: In a saved passed home: the code version the pass ran with, and the pass's and raw predict's figures.
CODE_FILE = "code_version.txt"
PASS_FILE = "pass.json"


def save_home(home: Home, target: Path, after: str, files: dict[str, str] | None = None) -> None:
    """Copy the home to ``target`` with the path it is restored at (ORIGIN_FILE) and ``files`` beside it."""
    shutil.copytree(home.path, target)
    for name, text in {ORIGIN_FILE: str(home.path), **(files or {})}.items():
        (target / name).write_text(text)
    log(f"  home saved after {after}: {target}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--companies", type=int, default=1000, help="synthetic companies (10000, 100000 on demand)"
    )
    parser.add_argument(
        "--warehouse-url",
        help="mysql+pymysql:// or mariadb+mariadbconnector://user@host:port/db: a scratch database on that server, "
        "written and read through that driver",
    )
    parser.add_argument(
        "--base-home", type=Path, help="a home with the bundled graph materialised (SQLite only)"
    )
    parser.add_argument(
        "--imported-home",
        type=Path,
        help="SQLite: save the home right after the import here, or start from it when it exists (the same "
        "synthetic companies, regenerated from --seed but not written again): repeated full passes to compare",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="RISKGRAPH_DERIVE_WORKERS for the runs (default: the product's, one per CPU)",
    )
    parser.add_argument(
        "--passed-home",
        type=Path,
        help="SQLite: save the home right after the full pass here, or start from it when it exists and measure "
        "only the new filing and the rerun (the code version pinned to the pass's, so a changed checkout's "
        "new-filing path is measured without the full rescore its new version would cause)",
    )
    parser.add_argument(
        "--mlflow-server",
        action="store_true",
        help="after the bundled graph, serve the home's MLflow store with `mlflow server` and run against it, as a "
        "deployment does (its scoring runs find the champions over REST and keep their models in the object store)",
    )
    parser.add_argument("--profile", help="write the full run's cProfile stats to this file")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home and scratch database")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "job":
            return child_job(rest[0], rest[-1], rest[1] if len(rest) == 3 else None)
        if kind == "startup":
            return child_startup(rest[-1])
        return child_predict(rest[-1])

    passed = args.passed_home is not None and args.passed_home.exists()
    imported = not passed and args.imported_home is not None and args.imported_home.exists()
    if (args.imported_home is not None or args.passed_home is not None) and args.warehouse_url:
        raise SystemExit("--imported-home and --passed-home are for SQLite")
    saved = args.passed_home if passed else args.imported_home if imported else None
    origin = (
        Path((saved / ORIGIN_FILE).read_text().strip())
        if saved is not None and (saved / ORIGIN_FILE).exists()
        else None
    )
    home = Home(args.warehouse_url, saved or args.base_home, args.keep, origin)
    if passed:
        home.env["RISKGRAPH_GIT_COMMIT"] = (args.passed_home / CODE_FILE).read_text().strip()
    if args.workers is not None:
        home.env["RISKGRAPH_DERIVE_WORKERS"] = str(args.workers)
    figures: dict = {
        "companies": args.companies,
        "warehouse": "mysql" if args.warehouse_url else "sqlite",
        "workers": args.workers,
        "mlflow": "a tracking server" if args.mlflow_server else "the embedded SQLite store",
    }
    if args.warehouse_url:
        figures["server"] = server_sizing(args.warehouse_url)
    try:
        if home.needs_graph:
            log("materialising the bundled graph (champions, bundled filers) ...")
            for job in ("refresh_universe", "ingest_filings", "refresh_market", "retrain", "rescore_all"):
                run = home.run("job", job)
                if not run["success"]:
                    raise SystemExit(f"{job} failed: {run['failed_steps']} {run['failed_checks']}")
                log(f"  {job} {run['wall_seconds']:.1f}s")
        if args.mlflow_server:
            log(f"mlflow server on the home's store: {home.serve_mlflow()}")
        from risk_assets.storage.warehouse import Warehouse

        warehouse = Warehouse(home.warehouse_url)
        templates = _templates(warehouse)
        bundled_rows = warehouse.count("statements")
        warehouse.dispose()
        log(
            f"generating {args.companies:,} synthetic companies from {templates['company_id'].nunique()} filers ..."
        )
        # A passed home needs only the company that files next: the first, which the generator draws first, so it
        # is the same company whichever the count.
        statements, events = synthetic_companies(templates, 1 if passed else args.companies, args.seed)
        if passed:
            rows = bundled_rows
            log(f"  passed already ({args.passed_home}): {rows:,} statement rows in the warehouse")
        elif imported:
            rows = bundled_rows
            log(f"  imported already ({args.imported_home}): {rows:,} statement rows in the warehouse")
        else:
            written = write_companies(home.warehouse_url, statements, events, home.path)
            rows = bundled_rows + written["annual"] + written["ttm"]
            figures["write"] = written
            log(
                f"  imported {written['annual']:,} annual + {written['ttm']:,} TTM rows, {written['events']} "
                f"events in {written['seconds']:.1f}s; {rows:,} statement rows in the warehouse"
            )
            if args.imported_home is not None:
                save_home(home, args.imported_home, "the import")
        figures["statement_rows"] = rows

        if passed:
            full, predict = json.loads((args.passed_home / PASS_FILE).read_text())
            log("the full pass and raw predict: as saved")
        else:
            log("rescore_all, full ...")
            full = home.run("job", "rescore_all", *([args.profile] if args.profile else []))
            print_run("full", full, rows)
            log("raw predict (baseline) ...")
            predict = home.run("predict")
            if args.passed_home is not None:
                save_home(
                    home,
                    args.passed_home,
                    "the full pass",
                    {CODE_FILE: home.code_version(), PASS_FILE: json.dumps([full, predict])},
                )
        predict_rate = predict["rows"] / predict["seconds"]
        log(f"  {predict['rows']:,} rows in {predict['seconds'] * 1000:.1f} ms: {predict_rate:,.0f} rows/s")

        log("a run's start-up floor (a fresh process) ...")
        startup = home.run("startup")
        log(
            f"  definitions loaded in {startup['definitions_seconds']:.1f}s; a scoring run's champions found and "
            f"loaded {startup['scoring_start_seconds']:.1f}s more (MLflow imported: {startup['mlflow_imported']})"
        )
        log("one new filing, then rescore_all ...")
        company = new_filing(home.warehouse_url, statements, home.path)
        one = home.run("job", "rescore_all")
        print_run(f"new filing ({company})", one, rows + 1)
        log("rescore_all with nothing new ...")
        again = home.run("job", "rescore_all")
        print_run("nothing new", again, rows + 1)
        figures.update(full=full, predict=predict, startup=startup, new_filing=one, nothing_new=again)
    finally:
        home.close()

    end_to_end = rows / full["wall_seconds"]
    print(
        f"\nscale bench: {args.companies:,} synthetic companies, {rows:,} statement rows, "
        f"{figures['warehouse']}, {time.strftime('%Y-%m-%d')}"
    )
    if "server" in figures:
        sizing = ", ".join(f"{name} {value / 2**20:,.0f} MB" for name, value in figures["server"].items())
        print(f"server: {sizing} (the compose stack's MySQL: a 2 GB pool, 1 GB of redo)")
    print(f"{'step':<24} | {'seconds':>8}")
    print("-" * 35)
    for step, seconds in full["steps"].items():
        print(f"{step:<24} | {seconds:>8.1f}")
    print(f"{'rescore_all (wall)':<24} | {full['wall_seconds']:>8.1f}")
    total_peak = full["peak_rss_mb"] + sum(full.get("worker_peak_rss_mb") or [])
    print(
        f"\nend to end          {end_to_end:>12,.0f} statement rows/s   peak RSS {full['peak_rss_mb']:,.0f} MB, "
        f"{total_peak:,.0f} MB with its {len(full.get('worker_peak_rss_mb') or [])} workers"
    )
    if "tree_peak_pss_mb" in full:
        print(
            f"memory held at once {full['tree_peak_pss_mb']:>12,.0f} MB (the run and its workers, PSS sampled every "
            f"0.2 s: a shared page counted once; RSS summed the same way {full['tree_peak_rss_mb']:,.0f} MB)"
        )
    if "cpu_seconds_run" in full:
        busy = full["cpu_seconds_run"] + full["cpu_seconds_workers"]
        print(
            f"CPU                 {busy:>12,.1f} s: run {full['cpu_seconds_run']:,.1f} s + workers "
            f"{full['cpu_seconds_workers']:,.1f} s, {busy / full['wall_seconds']:.2f} cores busy on average "
            f"({os.cpu_count()} here)"
        )
        if full.get("cpu_seconds_server") is not None:
            print(
                f"CPU of the server    {full['cpu_seconds_server']:>12,.1f} s (the local database server's, "
                "over the run)"
            )
    print(f"raw predict_pd      {predict_rate:>12,.0f} rows/s (same rows, same run)")
    print(f"ratio               {end_to_end / predict_rate:>12.5f} (end to end / raw predict)")
    floor = startup["definitions_seconds"] + startup["scoring_start_seconds"]
    print(
        f"one new filing      {one['process_wall_seconds']:>12.1f} s from the run process's start (import "
        f"excluded; the run itself {one['wall_seconds']:.1f} s, its steps {sum(one['steps'].values()):.1f} s)"
    )
    print(
        f"start-up floor      {floor:>12.1f} s (a fresh process, same run: definitions "
        f"{startup['definitions_seconds']:.1f} s + champions found and loaded "
        f"{startup['scoring_start_seconds']:.1f} s, {'with' if startup['mlflow_imported'] else 'without'} "
        f"importing MLflow; MLflow {figures['mlflow']})"
    )
    print(
        f"rerun, nothing new  {again['process_wall_seconds']:>12.1f} s from the process's start (the run itself "
        f"{again['wall_seconds']:.1f} s)"
    )
    if args.json:
        figures["end_to_end_rows_per_s"] = end_to_end
        figures["predict_rows_per_s"] = predict_rate
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if full["success"] and one["success"] and again["success"] else 1


if __name__ == "__main__":
    # the child's import of the product stays out of the parent's startup
    raise SystemExit(main())
