"""Commands that run and inspect the asset graph: materialize, top, serve, db.

`riskgraph materialize` runs the whole asset graph against a Dagster instance (DAGSTER_HOME, by default
$RISKGRAPH_HOME/dagster) so every run shows up in the Dagster UI, prints the riskiest companies and exits
non-zero when any asset or blocking check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import pandas as pd

from risk_assets.settings import Settings


def _prepare_dagster_home(settings: Settings) -> None:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        # Embedded default: SQLite storage under DAGSTER_HOME; the daemon's queued runs stay local.
        config.write_text("telemetry:\n  enabled: false\n")


def run_main_sequence(jobs: Sequence[str] | None = None, out=sys.stdout) -> bool:
    """Execute the main jobs in order in this process, recorded in the Dagster instance. True on success."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from risk_assets.definitions import defs as load_defs
    from risk_assets.defs.jobs import MAIN_SEQUENCE
    from risk_assets.defs.partitions import company_partitions

    settings = Settings.from_env()
    _prepare_dagster_home(settings)
    definitions = load_defs()
    with dg.DagsterInstance.get() as instance:
        for name in jobs or MAIN_SEQUENCE:
            job = definitions.resolve_job_def(name)
            tags: dict[str, str] = {}
            if job.partitions_def is not None:
                keys = instance.get_dynamic_partitions(company_partitions.name)
                if not keys:
                    print(f"{name}: no company partitions registered", file=out)
                    return False
                tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
            print(f"running {name} ...", file=out, flush=True)
            result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
            failed_checks = [
                evaluation.check_name
                for evaluation in result.get_asset_check_evaluations()
                if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
            ]
            if not result.success or failed_checks:
                failed = [event.step_key for event in result.all_events if event.is_step_failure]
                print(f"{name} FAILED (run {result.run_id}): steps {failed} checks {failed_checks}", file=out)
                return False
            print(f"{name} ok (run {result.run_id})", file=out, flush=True)
    return True


def riskiest(limit: int = 10) -> pd.DataFrame:
    """The current snapshot's highest PDs under the champion."""
    from risk_assets.storage.queries import latest_scores
    from risk_assets.storage.warehouse import Warehouse

    warehouse = Warehouse(Settings.from_env().warehouse_url)
    try:
        frame = latest_scores(warehouse, limit=limit)
    finally:
        warehouse.dispose()
    return frame


def print_riskiest(limit: int = 10, out=sys.stdout) -> None:
    frame = riskiest(limit)
    if frame.empty:
        print("no scores yet", file=out)
        return
    table = pd.DataFrame(
        {
            "company": frame["name"],
            "fiscal_year": frame["fiscal_year"],
            "pd": frame["pd"].map(lambda p: f"{p:.2%}"),
            "grade": frame["grade"],
            "out_of_domain": frame["out_of_domain"].map(bool),
        }
    )
    print(f"Riskiest companies (model v{frame['model_version'].iloc[0]}):", file=out)
    print(table.to_string(index=False), file=out)


def serve(host: str = "127.0.0.1", dagster_port: int = 3000, api_port: int = 8000) -> int:
    """Run the Dagster UI (webserver + daemon, `dagster dev`) and the API side by side until interrupted."""
    import subprocess
    import time
    from pathlib import Path

    settings = Settings.from_env()
    _prepare_dagster_home(settings)
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    processes = [
        subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-m", "risk_assets.definitions", "-h", host, "-p", str(dagster_port)],
            env=env,
        ),
        subprocess.Popen(
            [str(bin_dir / "uvicorn"), "api.main:app", "--host", host, "--port", str(api_port)], env=env
        ),
    ]
    print(f"Dagster UI: http://{host}:{dagster_port}   API: http://{host}:{api_port}/docs   (Ctrl-C stops both)",
          flush=True)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return max(process.returncode or 0 for process in processes)


def register(subparsers: argparse._SubParsersAction) -> None:
    materialize = subparsers.add_parser("materialize", help="run the whole asset graph, print the riskiest companies")
    materialize.add_argument("--jobs", nargs="*", help="run only these jobs of the main sequence, in order")
    materialize.add_argument("--top", type=int, default=10, help="how many companies to print")
    materialize.set_defaults(handler=lambda args: _materialize(args.jobs, args.top))

    top = subparsers.add_parser("top", help="print the riskiest companies from the warehouse")
    top.add_argument("-n", type=int, default=10)
    top.set_defaults(handler=lambda args: print_riskiest(args.n) or 0)

    serve_parser = subparsers.add_parser("serve", help="serve the Dagster UI and the API (Ctrl-C stops both)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--dagster-port", type=int, default=3000)
    serve_parser.add_argument("--api-port", type=int, default=8000)
    serve_parser.set_defaults(handler=lambda args: serve(args.host, args.dagster_port, args.api_port))

    db = subparsers.add_parser("db", help="warehouse schema: upgrade to the latest migration, or print its SQL")
    db.add_argument("action", choices=["upgrade", "schema-sql"])
    db.set_defaults(handler=lambda args: _db(args.action))


def _materialize(jobs: Sequence[str] | None, top: int) -> int:
    ok = run_main_sequence(jobs)
    if ok:
        print_riskiest(top)
    return 0 if ok else 1


def _db(action: str) -> int:
    from risk_assets.storage.migrations import offline_sql
    from risk_assets.storage.warehouse import Warehouse

    if action == "upgrade":
        Warehouse(Settings.from_env().warehouse_url).create_schema()
        print("warehouse schema is at the latest migration")
    else:
        print(offline_sql())
    return 0
