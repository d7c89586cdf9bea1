"""Real server processes for tests: a scratch database on the test MySQL/MariaDB server, `moto_server`
(the S3 API) and `mlflow server`, each started on a free port in its own process group and cleaned up.

Why processes rather than in-process fakes: the product talks to these services over the network in
production (PyMySQL, boto3 through dagster-aws, MLflow's REST client), so the tests do too; a server can then
be killed or restarted in the middle of a write, which is what the fault tests need.

API
---
::

    from tests.support.servers import MotoServer, MlflowServer, scratch_database, unavailable

    with scratch_database() as server:            # CREATE DATABASE riskgraph_test_<random> ... DROP afterwards
        url = server.url()                         # mysql+pymysql://root@127.0.0.1:3306/riskgraph_test_ab12cd34

    with MotoServer(tmp_path) as moto:             # moto_server on 127.0.0.1:<free port>
        moto.create_bucket("riskgraph")
        moto.client().put_object(...)
        moto.kill()                                # SIGKILL: the server is gone, mid-whatever
        moto.start(replay=True)                    # same port; the journal of writes is replayed

    with MlflowServer(tmp_path, backend_store_uri=..., artifacts_destination="s3://riskgraph/mlartifacts",
                      s3_endpoint_url=moto.endpoint_url) as mlflow_server:
        mlflow_server.url                          # http://127.0.0.1:<free port>

Missing services: `unavailable(reason)` skips outside CI and fails when the environment variable CI is
set, so a check that cannot run never passes silently in CI. MySQL is found only through
RISKGRAPH_TEST_MYSQL_URL (a SQLAlchemy URL; `.ci/run` sets it).

moto keeps everything in memory. With ``journal=True`` (the default) it records every request to a file
(its recorder) and ``start(replay=True)`` replays that file into the new process: the stand-in for a real
S3 server's disk, so "what was stored before the crash" survives a kill the way it would on MinIO. A
request is journaled only once moto has read its whole body, so an upload cut off mid-body is not replayed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

BIN = Path(sys.executable).parent
MYSQL_URL_VARIABLE = "RISKGRAPH_TEST_MYSQL_URL"
# Dummy credentials: moto accepts any; boto3 refuses to sign without some.
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "riskgraph-test",
    "AWS_SECRET_ACCESS_KEY": "riskgraph-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer's machine, fail in CI: a check that cannot run must never pass silently there."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this check must run, not skip")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- MySQL / MariaDB ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MySqlServer:
    host: str
    port: int
    user: str
    password: str
    database: str

    def url(self, driver: str | None = None, database: str | None = None) -> str:
        """A SQLAlchemy URL for this database (or another on the same server), with the driver of
        RISKGRAPH_TEST_MYSQL_URL unless ``driver`` names another."""
        from sqlalchemy.engine import URL, make_url

        driver = driver or make_url(mysql_test_url()).drivername
        return URL.create(
            driver,
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=database or self.database,
            # MariaDB Connector/Python speaks utf8mb4 and takes no charset argument
            query={} if driver.endswith("mariadbconnector") else {"charset": "utf8mb4"},
        ).render_as_string(hide_password=False)

    def connect(self, database: str | None = None, **kwargs: Any):
        """A plain PyMySQL connection (autocommit) to this database."""
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database or self.database,
            autocommit=True,
            charset="utf8mb4",
            **kwargs,
        )


def mysql_test_url() -> str:
    """RISKGRAPH_TEST_MYSQL_URL, or skip (fail in CI) saying why."""
    url = os.environ.get(MYSQL_URL_VARIABLE, "").strip()
    if not url:
        unavailable(f"{MYSQL_URL_VARIABLE} is not set (e.g. mysql+pymysql://root@127.0.0.1:3306/test)")
    return url


@contextmanager
def scratch_database(prefix: str = "riskgraph_test_") -> Iterator[MySqlServer]:
    """A new, empty utf8mb4 database on the server of RISKGRAPH_TEST_MYSQL_URL, dropped afterwards.

    Not the URL's own database: Dagster's MySQL storage, MLflow and the warehouse each keep an
    `alembic_version` table, and other tests use that database at the same time.
    """
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(mysql_test_url())
    server = MySqlServer(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=f"{prefix}{secrets.token_hex(4)}",
    )
    try:
        connection = pymysql.connect(
            host=server.host, port=server.port, user=server.user, password=server.password, autocommit=True
        )
    except pymysql.err.OperationalError as error:
        unavailable(f"cannot connect to the MySQL server of {MYSQL_URL_VARIABLE}: {error}")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{server.database}` CHARACTER SET utf8mb4")
        yield server
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{server.database}`")
        connection.close()


# --- processes ----------------------------------------------------------------------------------------------


class ServerProcess:
    """A server started in its own process group (so its children die with it), logging to a file."""

    name = "server"
    start_timeout = 60.0

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.workdir / f"{self.name}.log"
        self.process: subprocess.Popen | None = None

    # Subclasses say how to run and how to tell that the server answers.
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> Mapping[str, str]:
        return {}

    def ready(self) -> bool:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float | None = None) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (a slow server can come up while the test works)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        env = {**os.environ, **self.environment()}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                env=env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float | None = None) -> None:
        timeout = timeout or self.start_timeout
        self.wait_until(self.ready, timeout, f"{self.name} did not answer on port {self.port}")

    def wait_until(self, condition: Callable[[], bool], timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                returncode = self.process.returncode
                self.stop()  # whatever it started may still run in its group
                raise RuntimeError(f"{self.name} exited with {returncode}:\n{self.log_tail()}")
            if condition():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{message} within {timeout:.0f}s:\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: the server stops at once, whatever it was doing."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
        self.process = None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if the group has not exited within ``timeout``."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        # The group may outlive its leader (uvicorn workers): make sure nothing of it is left.
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def _signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class MotoServer(ServerProcess):
    """`moto_server`: the S3 API over HTTP, in memory, with an optional request journal (see module doc)."""

    name = "moto"

    def __init__(self, workdir: Path, port: int | None = None, journal: bool = True) -> None:
        super().__init__(workdir, port)
        self.journal_path = self.workdir / "moto-journal.jsonl" if journal else None

    def command(self) -> list[str]:
        return [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]

    def environment(self) -> Mapping[str, str]:
        env = dict(DUMMY_AWS_ENV)
        if self.journal_path is not None:
            env |= {"MOTO_ENABLE_RECORDING": "true", "MOTO_RECORDER_FILEPATH": str(self.journal_path)}
        return env

    def ready(self) -> bool:
        return _http_ok(f"{self.base_url}/moto-api/data.json")

    @property
    def endpoint_url(self) -> str:
        return self.base_url

    def start(self, timeout: float | None = None, replay: bool = False) -> None:
        """Start; with ``replay``, re-apply the journal (the writes the previous process accepted) first."""
        super().start(timeout)
        if replay:
            if self.journal_path is None:
                raise RuntimeError("replay needs a journal")
            request = urllib.request.Request(
                f"{self.base_url}/moto-api/recorder/replay-recording", method="POST"
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                if response.status != 200:
                    raise RuntimeError(f"moto replay answered {response.status}")

    def client(self, **config: Any):
        """A boto3 S3 client on this server (``config``: botocore Config keywords, e.g. retries)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=DUMMY_AWS_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=DUMMY_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            config=Config(**config),
        )

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under ``prefix``, key -> bytes (for assertions)."""
        client = self.client()
        found: dict[str, bytes] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found


class MlflowServer(ServerProcess):
    """`mlflow server` with a database backend store and artifacts proxied to an S3 bucket (moto), or kept in a
    folder without ``s3_endpoint_url``.

    MLflow 3 refuses Host headers it does not know (its DNS-rebinding guard); the client here always uses
    127.0.0.1:<port>, which the server is told to allow explicitly rather than relying on its default.
    """

    name = "mlflow"
    # Slow to start (database migrations, then a uvicorn worker importing MLflow): ~40 s on 2 busy cores.
    start_timeout = 300.0

    def __init__(
        self,
        workdir: Path,
        *,
        backend_store_uri: str,
        artifacts_destination: str,
        s3_endpoint_url: str | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.backend_store_uri = backend_store_uri
        self.artifacts_destination = artifacts_destination
        self.s3_endpoint_url = s3_endpoint_url

    def command(self) -> list[str]:
        return [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            self.artifacts_destination,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--allowed-hosts",
            f"127.0.0.1:{self.port},localhost:{self.port}",
        ]

    def environment(self) -> Mapping[str, str]:
        if self.s3_endpoint_url is None:  # artifacts in a folder
            return {}
        return {**DUMMY_AWS_ENV, "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint_url}

    def ready(self) -> bool:
        return _http_ok(f"{self.base_url}/health")

    @property
    def url(self) -> str:
        return self.base_url
