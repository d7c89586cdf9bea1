"""Commands that run and inspect the asset graph: materialize, top, serve, db.

`riskgraph materialize` runs the whole asset graph against a Dagster instance (DAGSTER_HOME, by default
$RISKGRAPH_HOME/dagster) so every run shows up in the Dagster UI, prints the riskiest companies and exits
non-zero when any asset or blocking check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

import pandas as pd

from risk_assets.settings import Settings, child_environment

#: The embedded default's Dagster instance: SQLite storage under DAGSTER_HOME, no telemetry, no first-visit pop-up.
EMBEDDED_INSTANCE_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def _prepare_dagster_home(settings: Settings) -> None:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        # Embedded default: SQLite storage under DAGSTER_HOME; the daemon's queued runs stay local.
        config.write_text(EMBEDDED_INSTANCE_YAML)


LOCATION_NAME = "risk_assets"


@dataclass(frozen=True)
class JobOutcome:
    name: str
    run_id: str
    success: bool
    failed_steps: list[str]
    failed_checks: list[str]


#: The run tags that make one run cover a range of partitions (Dagster's documented single-run backfill tags, the
#: ones its GraphQL API and the UI set; spelled out here rather than imported from Dagster's private modules).
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


#: Dagster's tag for one partition of a run (set by the UI and GraphQL; spelled out as the two above are).
PARTITION_KEY_TAG = "dagster/partition"


def company_range_tags(
    name: str, registered: Sequence[str], partition_keys: Sequence[str] | None = None
) -> dict[str, str]:
    """The tags that make one run of job ``name`` cover ``partition_keys`` (default: every registered company):
    one partition's tag, or a single-run range (the assets' backfill policy) over a contiguous run of them."""
    registered = list(registered)
    keys = list(partition_keys or registered)
    unknown = sorted(set(keys) - set(registered))
    if not keys or unknown:
        raise ValueError(f"{name}: no such company partitions: {unknown or 'none registered'}")
    if len(keys) == 1:
        return {PARTITION_KEY_TAG: keys[0]}
    positions = sorted(registered.index(key) for key in keys)
    if positions != list(range(positions[0], positions[-1] + 1)):
        raise ValueError(f"{name}: partitions must be a contiguous range of registered companies")
    return {
        PARTITION_RANGE_START_TAG: registered[positions[0]],
        PARTITION_RANGE_END_TAG: registered[positions[-1]],
    }


def run_job(
    name: str,
    *,
    partition_keys: Sequence[str] | None = None,
    assets: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> JobOutcome:
    """Execute one named asset job in this process, recorded in the Dagster instance at DAGSTER_HOME.

    For a partitioned job, ``partition_keys`` (default: every registered company) run as ONE run over the
    range (the assets' single-run backfill policy). ``assets`` narrows the job to some of its assets.
    Failure includes a failed blocking (ERROR) asset check. ``tags``: run tags (e.g. incremental.EVERY_COMPANY_TAG).
    """
    import dagster as dg

    from risk_assets.definitions import defs as load_defs
    from risk_assets.defs.partitions import company_partitions

    _prepare_dagster_home(Settings.from_env())
    job = load_defs().resolve_job_def(name)
    with dg.DagsterInstance.get() as instance:
        run_tags: dict[str, str] = dict(tags or {})
        partition_key = None
        if job.partitions_def is not None:
            range_tags = company_range_tags(
                name, instance.get_dynamic_partitions(company_partitions.name), partition_keys
            )
            if len(range_tags) == 1:
                partition_key = range_tags.pop(PARTITION_KEY_TAG)
            run_tags.update(range_tags)
        result = job.execute_in_process(
            instance=instance,
            # the console shows progress and results (INFO); RISKGRAPH_LOG_LEVEL=DEBUG shows every step event
            run_config={"loggers": {"console": {"config": {"log_level": Settings.from_env().log_level}}}},
            tags=run_tags,
            partition_key=partition_key,
            asset_selection=[dg.AssetKey(a) for a in assets] if assets else None,
            raise_on_error=False,
        )
        failed_checks = [
            evaluation.check_name
            for evaluation in result.get_asset_check_evaluations()
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        ]
        failed_steps = [event.step_key for event in result.all_events if event.is_step_failure]
        return JobOutcome(
            name, result.run_id, result.success and not failed_checks, failed_steps, failed_checks
        )


def run_main_sequence(jobs: Sequence[str] | None = None, out: TextIO | None = None) -> bool:
    """Execute the main jobs in order, each recorded in the Dagster instance. True when all succeed."""
    from risk_assets.defs.jobs import MAIN_SEQUENCE

    out = out or sys.stdout
    for name in jobs or MAIN_SEQUENCE:
        print(f"running {name} ...", file=out, flush=True)
        try:
            outcome = run_job(name)
        except ValueError as error:
            print(f"{name} FAILED: {error}", file=out)
            return False
        if not outcome.success:
            print(
                f"{name} FAILED (run {outcome.run_id}): steps {outcome.failed_steps} checks "
                f"{outcome.failed_checks}",
                file=out,
            )
            return False
        print(f"{name} ok (run {outcome.run_id})", file=out, flush=True)
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


def explain(drivers: dict, values: dict, top: int = 2) -> str:
    """The score's largest drivers in plain words: "+ Liabilities to assets, - Return on assets (filled in)".
    A driver whose value was missing is marked: the model filled it in, so it says nothing about the company."""
    from risk_assets.core.field_features import labelled_contributions

    words = []
    for driver in labelled_contributions(drivers.get("contributions") or {}, values)[:top]:
        filled = " (filled in)" if driver["imputed"] else ""
        words.append(
            f"{'+' if driver['contribution'] > 0 else '-'} {driver['label'] or driver['feature']}{filled}"
        )
    overlay = [
        f"x{term['multiplier']:g} odds: {str(term.get('name', '')).replace('_', ' ')}"
        for term in drivers.get("overlay") or []
        if isinstance(term, dict) and term.get("multiplier")
    ]
    return ", ".join(words + overlay)


def print_riskiest(limit: int = 10, out: TextIO | None = None) -> None:
    """The riskiest companies, each with the statement its score rests on (period end, FY or TTM, filing date and
    age, so a stale statement shows) and why, in the drivers' plain names (+ raises the PD, - lowers it)."""
    from risk_assets.core.master_scale import agency_band
    from risk_assets.storage.queries import latest_scores, score_detail
    from risk_assets.storage.warehouse import Warehouse

    out = out or sys.stdout
    warehouse = Warehouse(Settings.from_env().warehouse_url)
    try:
        frame = latest_scores(warehouse, limit=limit)
        if frame.empty:
            print("no scores yet", file=out)
            return
        details = [
            score_detail(warehouse, c, a, kind="current") or {}
            for c, a in zip(frame["company_id"], frame["as_of"], strict=True)
        ]
    finally:
        warehouse.dispose()
    ages = [
        (pd.Timestamp(a) - pd.Timestamp(f)).days
        for a, f in zip(frame["as_of"], frame["filed_at"], strict=True)
    ]
    table = pd.DataFrame(
        {
            "company": frame["name"].str.slice(0, 28),
            "period": [
                f"{pd.Timestamp(e).date()} {t or '?'}"
                for e, t in zip(frame["period_end"], frame["period_type"], strict=True)
            ],
            "filed": [
                f"{pd.Timestamp(f).date()} ({age}d)" for f, age in zip(frame["filed_at"], ages, strict=True)
            ],
            "pd": frame["pd"].map(lambda p: "no PD" if pd.isna(p) else f"{p:.2%}"),
            "grade": frame["grade"].fillna(""),
            "band": [
                agency_band(p, bool(d)) if pd.notna(p) else ""
                for p, d in zip(frame["pd"], frame["in_default"], strict=True)
            ],
            "segment": frame["segment"].fillna(""),
            "why": [
                explain(d.get("drivers") or {}, d.get("feature_values") or {})
                if not bool(i)
                else "in default"
                for d, i in zip(details, frame["in_default"], strict=True)
            ],
        }
    )
    print(
        "Riskiest companies: the statement each score rests on (period end, FY or trailing twelve months, filing "
        "date and its age), the agency-equivalent band (S&P one-year default rates) and the largest drivers "
        "(+ raises the PD, - lowers it):",
        file=out,
    )
    print(table.to_string(index=False), file=out)


def _demo_key(settings: Settings) -> str:
    """The local demo's read+score API key (created once, kept in $RISKGRAPH_HOME/demo-api-key)."""
    from risk_assets.commands import open_warehouse
    from risk_assets.commands.keys import ensure_demo_key

    warehouse = open_warehouse(settings.warehouse_url)
    try:
        return ensure_demo_key(warehouse, settings.home)
    finally:
        warehouse.dispose()


def serve(
    host: str = "127.0.0.1",
    dagster_port: int = 3000,
    api_port: int = 8000,
    demo_key: bool = False,
    materialize: bool = False,
    top: int = 10,
) -> int:
    """Run the Dagster UI (webserver + daemon, `dagster dev`) and the API side by side until interrupted.
    With ``demo_key``, print a read+score API key for the local demo beside the addresses. With ``materialize``,
    first run the main sequence through that webserver (its runs then show on Dagster's Overview, which runs
    executed in the CLI's own process do not) and print the riskiest companies."""
    import subprocess
    import time
    from pathlib import Path

    from risk_assets.commands.keys import DEMO_KEY_FILE

    settings = Settings.from_env()
    _prepare_dagster_home(settings)
    key = _demo_key(settings) if demo_key else None
    bin_dir = Path(sys.executable).parent
    # The API launches runs through this webserver.
    dagster_url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{dagster_port}"
    env = child_environment(RISKGRAPH_DAGSTER_URL=dagster_url)
    # The same code location name as the compose deployment's workspace.yaml, so API launches work in both.
    workspace = settings.home / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: risk_assets.definitions\n"
        f"      location_name: {LOCATION_NAME}\n"
    )
    processes = [
        subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-w", str(workspace), "-h", host, "-p", str(dagster_port)],
            # in the home, not the checkout: the checkout's dagster.yaml is the compose deployment's
            cwd=settings.home,
            env=_quiet_dagster_env(env, settings.log_level),
        ),
        subprocess.Popen(
            # api.server: uvicorn with the settings' keep-alive timeout and concurrency limit.
            [sys.executable, "-m", "api.server", "--host", host, "--port", str(api_port)],
            env=env,
        ),
    ]
    try:
        if materialize:
            quiet_known_notices()
            print(f"Dagster UI: {dagster_url} (the graph is materialised through it: watch the runs there)")
            if _materialize_via(dagster_url, processes):
                print_riskiest(top)
        print(
            f"Dagster UI: http://{host}:{dagster_port}   API: http://{host}:{api_port}/docs   "
            f"Web app: http://{host}:{api_port}/app/   (Ctrl-C stops both)",
            flush=True,
        )
        if key:
            print(
                f"Demo API key (read, score; also in {settings.home / DEMO_KEY_FILE}):\n  {key}\n"
                f"  curl -H 'Authorization: Bearer {key}' http://{host}:{api_port}/v1/scores",
                flush=True,
            )
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


def _quiet_dagster_env(env: dict[str, str], log_level: str) -> dict[str, str]:
    """`dagster dev`'s environment: below DEBUG, without Dagster's FutureWarnings (its own notice that `dagster
    dev` is superseded by `dg dev`, which this project does not install) or MLflow's download progress bars in it
    and the runs it starts."""
    if log_level == "DEBUG":
        return env
    return {**env, "PYTHONWARNINGS": "ignore::FutureWarning", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def _materialize_via(
    dagster_url: str,
    processes: Sequence = (),
    jobs: Sequence[str] | None = None,
    wait_seconds: float = 300,
) -> bool:
    """The main sequence through a Dagster webserver (one just started: ``processes``); False, after saying why,
    when it failed."""
    import httpx

    from risk_assets.commands._via_dagster import DagsterNotReady, run_main_sequence_via, wait_until_loaded

    try:
        wait_until_loaded(
            dagster_url,
            LOCATION_NAME,
            timeout=wait_seconds,
            alive=lambda: all(process.poll() is None for process in processes),
            out=sys.stdout,
        )
        return run_main_sequence_via(dagster_url, LOCATION_NAME, jobs, out=sys.stdout)
    except (DagsterNotReady, RuntimeError, httpx.HTTPError) as error:
        print(f"materialize FAILED: {error}", flush=True)
        return False


def register(subparsers: argparse._SubParsersAction) -> None:
    materialize = subparsers.add_parser(
        "materialize", help="run the whole asset graph, print the riskiest companies"
    )
    materialize.add_argument("--jobs", nargs="*", help="run only these jobs of the main sequence, in order")
    materialize.add_argument("--top", type=int, default=10, help="how many companies to print")
    materialize.add_argument(
        "--dagster-url",
        help="submit the jobs to this running Dagster webserver (e.g. http://127.0.0.1:3000) instead of running "
        "them in this process: its daemon runs them and they show on Dagster's Overview",
    )
    materialize.set_defaults(handler=lambda args: _materialize(args.jobs, args.top, args.dagster_url))

    top = subparsers.add_parser("top", help="print the riskiest companies from the warehouse")
    top.add_argument("-n", type=int, default=10)
    top.set_defaults(handler=lambda args: print_riskiest(args.n) or 0)

    serve_parser = subparsers.add_parser("serve", help="serve the Dagster UI and the API (Ctrl-C stops both)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--dagster-port", type=int, default=3000)
    serve_parser.add_argument("--api-port", type=int, default=8000)
    serve_parser.add_argument(
        "--demo-key",
        action="store_true",
        help="create (once) and print a read+score API key for the local demo",
    )
    serve_parser.add_argument(
        "--materialize",
        action="store_true",
        help="first run the whole graph through the Dagster webserver (its runs show on Dagster's Overview) "
        "and print the riskiest companies",
    )
    serve_parser.add_argument(
        "--top", type=int, default=10, help="with --materialize: how many companies to print"
    )
    serve_parser.set_defaults(
        handler=lambda args: serve(
            args.host, args.dagster_port, args.api_port, args.demo_key, args.materialize, args.top
        )
    )

    db = subparsers.add_parser(
        "db", help="warehouse schema: upgrade to the latest migration, or print its SQL"
    )
    db.add_argument("action", choices=["upgrade", "schema-sql"])
    db.set_defaults(handler=lambda args: _db(args.action))


def quiet_known_notices() -> None:
    """Notices that say nothing to a user of `riskgraph materialize`: Dagster's beta flag on a parameter we chose
    knowingly (backfill_policy) and MLflow's cloudpickle and artifact-download notices. Errors still print."""
    import logging
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")
    if Settings.from_env().log_level != "DEBUG":
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # DEBUG shows them
        import mlflow  # noqa: F401  (configures its loggers on import: quiet them after)

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _materialize(jobs: Sequence[str] | None, top: int, dagster_url: str | None = None) -> int:
    quiet_known_notices()
    if dagster_url:
        ok = _materialize_via(dagster_url.rstrip("/"), jobs=jobs, wait_seconds=30)
    else:
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
