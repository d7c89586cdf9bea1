"""Launching asset jobs and reading run status through the Dagster webserver's GraphQL API.

The API never executes assets itself: it submits a named asset job (`DagsterGraphQLClient.submit_job_execution`)
to the webserver of the deployment (compose) or of `dagster dev`, whose run coordinator queues it for the daemon.
The code location is named `risk_assets` in both (workspace.yaml, `riskgraph serve`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

log = logging.getLogger("riskgraph.api")

LOCATION_NAME = "risk_assets"
REPOSITORY_NAME = "__repository__"  # the repository `@dg.definitions` creates
PARTITION_TAG = "dagster/partition"
FINISHED_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


class DagsterUnavailable(RuntimeError):
    """The webserver could not be reached."""


class LaunchRefused(RuntimeError):
    """Dagster answered but refused: the message names Dagster's error type, not its internals."""


class RunNotFound(LookupError):
    pass


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    status: str

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class RunLauncher(Protocol):
    def launch(self, job: str, partition_key: str | None, tags: dict[str, str]) -> str: ...

    def status(self, run_id: str) -> RunInfo: ...


class GraphQLRunLauncher:
    """RunLauncher over dagster_graphql's client, pointed at ``url`` (e.g. http://dagster-webserver:3000)."""

    def __init__(self, url: str, timeout_seconds: int = 30) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds

    def _client(self):
        from dagster_graphql import DagsterGraphQLClient

        parts = urlsplit(self.url)
        return DagsterGraphQLClient(
            parts.hostname or "127.0.0.1",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            timeout=self.timeout_seconds,
            path_prefix=parts.path.rstrip("/"),
        )

    def launch(self, job: str, partition_key: str | None, tags: dict[str, str]) -> str:
        from dagster_graphql import DagsterGraphQLClientError

        all_tags = dict(tags)
        if partition_key is not None:
            all_tags[PARTITION_TAG] = partition_key
        try:
            return self._client().submit_job_execution(
                job, repository_location_name=LOCATION_NAME, repository_name=REPOSITORY_NAME, tags=all_tags
            )
        except DagsterGraphQLClientError as error:
            raise _translate(error) from error

    def status(self, run_id: str) -> RunInfo:
        from dagster_graphql import DagsterGraphQLClientError

        try:
            status = self._client().get_run_status(run_id)
        except DagsterGraphQLClientError as error:
            if error.args and error.args[0] in ("RunNotFoundError", "PipelineRunNotFoundError"):
                raise RunNotFound(run_id) from error
            raise _translate(error) from error
        return RunInfo(run_id, status.value)


def _unreachable(error: BaseException) -> bool:
    """Whether a connection failure (refused, timed out, DNS) is anywhere in the exception's cause chain."""
    import requests
    from gql.transport.exceptions import TransportConnectionFailed

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(
            seen,
            TransportConnectionFailed
            | requests.exceptions.ConnectionError
            | requests.exceptions.Timeout
            | ConnectionError
            | TimeoutError,
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _translate(error: Exception) -> Exception:
    """Connection failures -> DagsterUnavailable; anything else -> LaunchRefused naming Dagster's error type."""
    if _unreachable(error):
        return DagsterUnavailable("the Dagster webserver is unreachable")
    log.warning("Dagster refused a request: %s", error)
    kind = str(error.args[0]).split("\n")[0][:80] if error.args else type(error).__name__
    if kind.startswith(("Server error", "Exception occured")):
        kind = "a server error"
    return LaunchRefused(f"Dagster refused the request ({kind})")
