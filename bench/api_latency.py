"""API latency: the gateway served by uvicorn on loopback, driven by a load generator in another process.

    .venv/bin/python bench/api_latency.py                          # materialises a temporary home first (~1.5 min)
    .venv/bin/python bench/api_latency.py --home .riskgraph        # a home `riskgraph materialize` already filled
    .venv/bin/python bench/api_latency.py --concurrency 1 8 --seconds 20

The home is copied to a temporary directory (the benchmark's API key is written into the copy, never into yours).
The bare app and the API each run in their own uvicorn process (one worker, no access log, same flags). A load
generator process (an async httpx client keeping a fixed number of requests in flight: each ``--concurrency``
value in turn) drives one target at a time, in ``--rounds`` interleaved rounds, so a change in the machine's load hits every target alike. Printed per
target: p50 and p99 latency, requests/s, the p99 ratio against the baseline measured in the same run, and the
server's CPU time per request (user + system, from /proc: the figure least disturbed by other processes):

- bare:           a FastAPI app whose one endpoint returns a constant (async def): the floor of the stack
- company:        GET /v1/companies/{id} with a read key, cycling over every company of the home
- score x1:       POST /v1/score with one statement (Apple's newest 10-K items, from the home)
- score x100:     POST /v1/score with 100 statements

Goals (issue 6): company lookup p99 within 3x of the bare endpoint; one-company scoring under 20 ms p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

try:
    from fastapi import FastAPI

    bare_app = FastAPI()

    @bare_app.get("/const")
    async def const() -> dict:
        return {"ok": True}
except ImportError:  # the driver process needs only httpx
    bare_app = None


# --- the load generator (runs in its own process) ----------------------------------------------------------------


async def _drive(spec: dict) -> dict:
    import httpx

    requests = spec["requests"]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=spec["concurrency"], max_keepalive_connections=spec["concurrency"])
    async with httpx.AsyncClient(
        base_url=spec["base_url"], headers=spec["headers"], limits=limits, timeout=60
    ) as client:

        async def one(i: int, record: bool) -> None:
            method, path, body = requests[i % len(requests)]
            started = time.perf_counter()
            response = await client.request(method, path, content=body)
            elapsed = time.perf_counter() - started
            if record:
                latencies.append(elapsed)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        async def worker(start: int, deadline: float, record: bool) -> None:
            i = start
            while time.perf_counter() < deadline:
                await one(i, record)
                i += spec["concurrency"]

        warm_until = time.perf_counter() + spec["warmup"]
        await asyncio.gather(*(worker(k, warm_until, False) for k in range(spec["concurrency"])))
        cpu_before = process_cpu_seconds(spec["server_pid"])
        began = time.perf_counter()
        deadline = began + spec["seconds"]
        await asyncio.gather(*(worker(k, deadline, True) for k in range(spec["concurrency"])))
        wall = time.perf_counter() - began
        cpu = process_cpu_seconds(spec["server_pid"]) - cpu_before
    return {"latencies": latencies, "wall": wall, "statuses": statuses, "cpu": cpu}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive_main() -> None:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(_drive(spec))))


# --- orchestration -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """uvicorn in its own process group, on a free loopback port."""

    def __init__(self, target: str, env: dict[str, str], app_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [
            str(Path(sys.executable).parent / "uvicorn"),
            target,
            "--app-dir",
            str(app_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, env=env, start_new_session=True)

    def wait(self, path: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.base_url}{path} did not answer within {timeout:.0f}s")

    def stop(self) -> None:
        import signal

        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def drive(server: Server, requests: list, headers: dict, args: argparse.Namespace, seconds: float) -> dict:
    spec = {
        "base_url": server.base_url,
        "requests": requests,
        "headers": headers,
        "concurrency": args.concurrency_now,
        "seconds": seconds,
        "warmup": args.warmup,
        "server_pid": server.process.pid,
    }
    out = subprocess.run(
        [sys.executable, __file__, "--drive"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def summarise(rounds: list[dict]) -> dict:
    latencies = sorted(x for r in rounds for x in r["latencies"])
    statuses: dict[str, int] = {}
    for r in rounds:
        for code, count in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    n = len(latencies)
    cpu = sum(r["cpu"] for r in rounds)
    return {
        "n": n,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "rps": n / sum(r["wall"] for r in rounds),
        "cpu_ms": cpu / n * 1000,
        "statuses": statuses,
    }


def prepare_home(args: argparse.Namespace, workdir: Path) -> Path:
    home = workdir / "home"
    if args.home:
        shutil.copytree(Path(args.home).expanduser(), home)
        return home
    print("materialising the graph on the bundled data (use --home to reuse one) ...", flush=True)
    env = {**os.environ, "RISKGRAPH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    subprocess.run(
        [sys.executable, "-m", "risk_assets.cli", "materialize"],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return home


def workload(home: Path) -> tuple[str, list, list, list]:
    """A read+score key, the company ids, and one real statement (Apple's newest) as scoring input."""
    from risk_assets.settings import Settings
    from risk_assets.storage import queries
    from risk_assets.storage.api_keys import create_key
    from risk_assets.storage.warehouse import Warehouse

    os.environ["RISKGRAPH_HOME"] = str(home)
    warehouse = Warehouse(Settings.from_env().warehouse_url)
    try:
        key = create_key(warehouse, f"bench-{os.getpid()}", "read,score", actor="bench").secret
        companies, _total = queries.search_companies(warehouse, limit=500)
        statements, _total = queries.statements_for(warehouse, "sec-0000320193", limit=500)
    finally:
        warehouse.dispose()
    annual = [s for s in statements if (s.get("period_type") or "FY") == "FY"][:3]
    items = [{k: v for k, v in s["items"].items() if v is not None} for s in annual]
    one = {"reference": "apple", "items": items[0], "prior_years": items[1:3]}
    gets = [["GET", f"/v1/companies/{c['company_id']}", None] for c in companies]
    score1 = [["POST", "/v1/score", json.dumps({"statements": [one]})]]
    score100 = [["POST", "/v1/score", json.dumps({"statements": [one] * 100})]]
    return key, gets, score1, score100


def report(concurrency: int, results: dict[str, dict], args: argparse.Namespace) -> None:
    baseline = results["bare GET /const"]["p99_ms"]
    print(
        f"\nconcurrency {concurrency}: {args.seconds:.0f} s per target in {args.rounds} interleaved rounds, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'target':<24} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'p99/bare':>9} "
        f"{'CPU ms/req':>10}  statuses"
    )
    for name, r in results.items():
        print(
            f"{name:<24} {r['n']:>8} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['rps']:>8.0f} "
            f"{r['p99_ms'] / baseline:>8.2f}x {r['cpu_ms']:>10.2f}  {r['statuses']}"
        )
    company, score = results["GET /v1/companies/{id}"]["p99_ms"], results["POST /v1/score x1"]["p99_ms"]
    print(
        f"goal: company lookup p99 <= 3x bare: {company / baseline:.2f}x "
        f"({'met' if company <= 3 * baseline else 'NOT met'}); "
        f"one-company scoring p99 < 20 ms: {score:.2f} ms ({'met' if score < 20 else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home", help="a materialised RISKGRAPH_HOME to copy (default: materialise a new one)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 4],
        help="requests in flight; one full run per value (default: 1 4)",
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per target (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unmeasured seconds before each round (default 1)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per target (default 5)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="riskgraph-bench-") as tmp:
        home = prepare_home(args, Path(tmp))
        key, gets, score1, score100 = workload(home)
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        env = {**os.environ, "RISKGRAPH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
        bare = Server("api_latency:bare_app", env, Path(__file__).parent)
        api = Server("api.main:app", env, REPO)
        targets = {
            "bare GET /const": (bare, [["GET", "/const", None]], {}),
            "GET /v1/companies/{id}": (api, gets, auth),
            "POST /v1/score x1": (api, score1, auth),
            "POST /v1/score x100": (api, score100, auth),
        }
        try:
            bare.wait("/const")
            api.wait("/health")
            for concurrency in args.concurrency:
                args.concurrency_now = concurrency
                rounds: dict[str, list[dict]] = {name: [] for name in targets}
                # Rounds interleave the targets, so a change in the machine's load hits all of them alike.
                for _ in range(args.rounds):
                    for name, (server, requests, headers) in targets.items():
                        rounds[name].append(
                            drive(server, requests, headers, args, args.seconds / args.rounds)
                        )
                report(concurrency, {name: summarise(parts) for name, parts in rounds.items()}, args)
        finally:
            bare.stop()
            api.stop()


if __name__ == "__main__":
    if "--drive" in sys.argv:
        drive_main()
    else:
        main()
