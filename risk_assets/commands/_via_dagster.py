"""Run the main sequence through a running Dagster webserver, so the runs show on Dagster's Overview.

`riskgraph materialize` executes each job in its own process (``execute_in_process``): quick, no server needed,
and every run is recorded in the instance. But such runs carry no code-location origin, and Dagster's Overview
timeline and job pages list only runs that do (dagster-io/dagster#17707). `riskgraph serve --materialize` (what
`make run` does) therefore starts the webserver and daemon first and submits the same jobs, in the same order,
through Dagster's GraphQL API, as an operator clicking "Materialize" would: the daemon's run queue runs them,
and the user can watch them on the Overview while the command prints each step as it finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TextIO

import httpx

from risk_assets.commands.graph import JobOutcome, company_range_tags
from risk_assets.settings import Settings

#: Run statuses after which a run does nothing more.
FINISHED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})

_LOCATIONS = (
    "{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)
_RUN = (
    "query RunProgress($runId: ID!) { runOrError(runId: $runId) { __typename "
    "... on Run { status stepStats { stepKey status } } ... on PythonError { message } } }"
)


class DagsterNotReady(RuntimeError):
    """The webserver did not answer, or its code location did not load, in time."""


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"Dagster's GraphQL API refused the query: {body['errors'][0].get('message')}")
    return body["data"]


def wait_until_loaded(
    url: str,
    location: str,
    *,
    timeout: float = 300,
    alive: Callable[[], bool] = lambda: True,
    out: TextIO,
) -> None:
    """Block until the webserver at ``url`` answers and has loaded ``location`` (its definitions import)."""
    deadline = time.monotonic() + timeout
    said = False
    while time.monotonic() < deadline:
        if not alive():
            raise DagsterNotReady("the Dagster webserver exited while starting (its output is above)")
        try:
            entries = _graphql(url, _LOCATIONS)["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError, RuntimeError):
            entries = []
        mine = [e for e in entries if e["name"] == location and e["loadStatus"] == "LOADED"]
        if mine:
            loaded = mine[0]["locationOrLoadError"]
            if loaded["__typename"] != "RepositoryLocation":
                raise DagsterNotReady(f"code location {location!r} failed to load: {loaded.get('message')}")
            return
        if not said:
            print(f"waiting for Dagster at {url} to load {location!r} ...", file=out, flush=True)
            said = True
        time.sleep(1)
    raise DagsterNotReady(f"Dagster at {url} did not load {location!r} within {timeout:.0f} s")


def follow_run(
    url: str, run_id: str, name: str, *, out: TextIO, poll_seconds: float = 1.0, timeout: float = 3600
) -> JobOutcome:
    """Poll a run until it finishes, printing each step as it succeeds or fails and a line every half minute."""
    started = time.monotonic()
    reported: set[str] = set()
    last_note = started
    while time.monotonic() - started < timeout:
        run = _graphql(url, _RUN, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise RuntimeError(
                f"{name}: Dagster cannot find run {run_id}: {run.get('message', run['__typename'])}"
            )
        steps = run["stepStats"] or []
        for step in steps:
            if step["status"] in {"SUCCESS", "FAILURE", "SKIPPED"} and step["stepKey"] not in reported:
                reported.add(step["stepKey"])
                elapsed = time.monotonic() - started
                print(
                    f"  {name}: {step['stepKey']} {step['status'].lower()} ({elapsed:.0f} s)",
                    file=out,
                    flush=True,
                )
        if run["status"] in FINISHED:
            failed = [s["stepKey"] for s in steps if s["status"] == "FAILURE"]
            return JobOutcome(name, run_id, run["status"] == "SUCCESS", failed, [])
        if time.monotonic() - last_note >= 30:
            last_note = time.monotonic()
            print(f"  {name}: {run['status'].lower()} ({last_note - started:.0f} s)", file=out, flush=True)
        time.sleep(poll_seconds)
    raise RuntimeError(f"{name}: run {run_id} did not finish within {timeout:.0f} s")


def run_main_sequence_via(url: str, location: str, jobs: Sequence[str] | None = None, *, out: TextIO) -> bool:
    """Submit the main jobs one after the other through the webserver at ``url``; True when all succeed.

    A partitioned job covers every registered company in one run (the same range tags `riskgraph materialize`
    uses), read from the instance after the previous job has registered them."""
    import dagster as dg
    from dagster_graphql import DagsterGraphQLClient

    from risk_assets.definitions import defs as load_defs
    from risk_assets.defs.jobs import MAIN_SEQUENCE
    from risk_assets.defs.partitions import company_partitions

    address = httpx.URL(url)
    client = DagsterGraphQLClient(address.host, port_number=address.port, use_https=address.scheme == "https")
    definitions = load_defs()
    # the run's console shows progress and results (INFO), as `riskgraph materialize` does
    run_config = {"loggers": {"console": {"config": {"log_level": Settings.from_env().log_level}}}}
    for name in jobs or MAIN_SEQUENCE:
        tags: dict[str, str] = {}
        if definitions.resolve_job_def(name).partitions_def is not None:
            with dg.DagsterInstance.get() as instance:
                registered = instance.get_dynamic_partitions(company_partitions.name)
            try:
                tags = company_range_tags(name, registered)
            except ValueError as error:
                print(f"{name} FAILED: {error}", file=out)
                return False
        run_id = client.submit_job_execution(
            name,
            repository_location_name=location,
            tags=tags,
            run_config=run_config,
        )
        print(f"running {name} through Dagster (run {run_id}) ...", file=out, flush=True)
        outcome = follow_run(url, run_id, name, out=out)
        if not outcome.success:
            print(
                f"{name} FAILED (run {run_id}): steps {outcome.failed_steps}; see {url}/runs/{run_id}",
                file=out,
            )
            return False
        print(f"{name} ok (run {run_id})", file=out, flush=True)
    return True
