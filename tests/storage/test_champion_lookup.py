"""The champion alias read from a real `mlflow server` over its REST API, and the champion models kept in the
object store: a scoring run against a tracking server imports no MLflow once its champions' models are kept
(storage/champion_lookup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_assets.core.segments import SEGMENTS
from risk_assets.defs.resources import default_resources
from risk_assets.storage.champion_lookup import (
    CHAMPION_ALIAS,
    QUIET_SECONDS,
    AliasMemo,
    LookupUnavailable,
    RegisteredVersion,
    alias_version,
    cached_model,
    local_store_files,
)
from risk_assets.storage.objects import LocalObjectStore
from tests.support.servers import MlflowServer, free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def served_registry(graph_copy: Path, tmp_path: Path) -> Iterator[str]:
    """`mlflow server` over the copy's registry (its SQLite store and artifact folder), as a deployment's is."""
    server = MlflowServer(
        tmp_path / "mlflow",
        backend_store_uri=f"sqlite:///{graph_copy / 'mlflow.db'}",
        artifacts_destination=(graph_copy / "mlartifacts").as_uri(),
    )
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


def _champion_segments() -> list[str]:
    resource = default_resources(env_vars=False)["mlflow_registry"]
    return [segment for segment in sorted(SEGMENTS) if resource.for_segment(segment).champion_version()]


def test_the_alias_read_over_rest_is_the_one_mlflows_client_reads(served_registry: str) -> None:
    resource = default_resources(env_vars=False)["mlflow_registry"]
    segments = _champion_segments()
    assert segments, "the materialised graph has champions"
    for segment in segments:
        registry = resource.for_segment(segment)
        expected = registry.client.get_model_version_by_alias(registry.model_name, CHAMPION_ALIAS)
        assert alias_version(served_registry, registry.model_name) == RegisteredVersion(
            registry.model_name, str(expected.version), expected.run_id
        )
    registry = resource.for_segment(segments[0])
    version = registry.champion_version()
    registry.client.delete_registered_model_alias(registry.model_name, CHAMPION_ALIAS)
    assert alias_version(served_registry, registry.model_name) is None  # the alias is gone
    assert alias_version(served_registry, "no_such_model") is None  # so is the model
    registry.set_champion(version)
    assert alias_version(served_registry, registry.model_name).version == version


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """A server in front of a registry that refuses what a plain request sends: 401 without credentials (an auth
    proxy, MLflow's basic-auth app), and a page that is not MLflow's for anything else."""

    class Refusing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            unauthorised = not self.path.startswith("/not-mlflow/")
            self.send_response(401 if unauthorised else 404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>log in first</html>" if unauthorised else b"<html>not here</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_only_mlflows_client_answers_where_a_plain_request_cannot(
    served_registry: str, refusing_server: str
) -> None:
    resource = default_resources(env_vars=False)["mlflow_registry"]
    segment = _champion_segments()[0]
    name = resource.segment_model_name(segment)
    with pytest.raises(LookupUnavailable, match="not a server"):
        alias_version(resource.tracking_uri, name)  # the embedded default's SQLite store
    with pytest.raises(LookupUnavailable, match="did not answer"):
        alias_version(f"http://127.0.0.1:{free_port()}", name, timeout=2)  # nothing listens there
    with pytest.raises(LookupUnavailable, match="answered 401"):
        alias_version(refusing_server, name)  # credentials only MLflow's client sends
    with pytest.raises(LookupUnavailable, match="answered 404"):
        alias_version(f"{refusing_server}/not-mlflow", name)  # a 404 that is not MLflow's "no such alias"
    # where the plain request cannot answer, the resource asks MLflow's client: the same version and run
    assert resource.champion(segment) == alias_version(served_registry, name)


_SCORING_START = """
import json, sys
import numpy as np, pandas as pd
from risk_assets.defs.resources import default_resources
from risk_assets.defs.scoring.assets import champion_models, champions_of

resources = default_resources(env_vars=False)
registry = resources["mlflow_registry"]
objects = resources["object_store"].get()
champions = champion_models(champions_of(registry, objects), registry, objects)
pds = {}
for segment, _, _ in champions.versions:
    model = champions.load(segment)[2]
    frame = pd.DataFrame(np.linspace(-1, 1, 4 * len(model.feature_names)).reshape(4, -1), columns=model.feature_names)
    pds[segment] = model.predict_pd(frame).tolist()
print(json.dumps({"mlflow": "mlflow" in sys.modules, "versions": champions.versions, "pds": pds}))
"""


def _start_scoring(home: Path, tracking_uri: str) -> dict:
    """A fresh process's start of a scoring run (champions looked up, their models loaded) against the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKGRAPH_", "MLFLOW_"))}
    env.update(RISKGRAPH_HOME=str(home), MLFLOW_TRACKING_URI=tracking_uri, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", _SCORING_START], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_scoring_run_against_a_server_imports_no_mlflow_once_its_models_are_kept(
    served_registry: str, graph_copy: Path
) -> None:
    objects = default_resources(env_vars=False)["object_store"].get()
    for key in list(objects.list("models/")):  # what the graph's own runs kept
        objects.delete(key)
    first = _start_scoring(graph_copy, served_registry)
    assert first["mlflow"], "the first run loads the champions through MLflow"
    for segment, name, version in first["versions"]:
        found = alias_version(served_registry, name)
        assert found is not None and found.version == version
        assert objects.exists(found.cache_key()), f"{segment}'s model was kept"
    again = _start_scoring(graph_copy, served_registry)
    assert not again["mlflow"], "a later run finds the champions and their models without MLflow"
    assert again["versions"] == first["versions"]
    assert again["pds"] == first["pds"]  # the kept models are the registered ones


def test_a_kept_model_is_found_by_its_version_and_run_and_an_unreadable_one_is_loaded_again(
    graph_copy: Path,
) -> None:
    resources = default_resources(env_vars=False)
    resource, objects = resources["mlflow_registry"], resources["object_store"].get()
    segment = _champion_segments()[0]
    champion = resource.champion(segment)
    assert champion is not None and champion.run_id
    assert cached_model(objects, champion) is not None, "the graph's rescore kept its champions' models"
    objects.delete(champion.cache_key())
    assert cached_model(objects, champion) is None
    expected = resource.load_version(segment, champion, objects)  # through MLflow, then kept
    frame = pd.DataFrame(
        np.linspace(-2, 2, 5 * len(expected.feature_names)).reshape(5, -1), columns=expected.feature_names
    )
    kept = cached_model(objects, champion)
    np.testing.assert_array_equal(kept.predict_pd(frame), expected.predict_pd(frame))
    # the same version number logged by another run (a registered model deleted and registered again) is not it
    assert (
        cached_model(objects, RegisteredVersion(champion.model_name, champion.version, "another-run")) is None
    )
    objects.put(champion.cache_key(), b"torn write")
    assert cached_model(objects, champion) is None
    reloaded = resource.load_version(segment, champion, objects)
    np.testing.assert_array_equal(reloaded.predict_pd(frame), expected.predict_pd(frame))
    assert cached_model(objects, champion) is not None  # kept again, readable
    # a version registered without a run is loaded through MLflow every time, never kept
    before = sorted(objects.list("models/"))
    runless = RegisteredVersion(champion.model_name, champion.version, "")
    np.testing.assert_array_equal(
        resource.load_version(segment, runless, objects).predict_pd(frame), expected.predict_pd(frame)
    )
    assert sorted(objects.list("models/")) == before


def _leave_alone(files: tuple[Path, ...], seconds: float = 10 * QUIET_SECONDS) -> None:
    """Date the store's files as if nothing had written them for ``seconds``."""
    then = time.time() - seconds
    for path in files:
        if path.exists():
            os.utime(path, (then, then))


def test_an_embedded_scoring_run_imports_no_mlflow_while_its_store_is_unchanged(graph_copy: Path) -> None:
    resources = default_resources(env_vars=False)
    resource, objects = resources["mlflow_registry"], resources["object_store"].get()
    files = local_store_files(resource.tracking_uri)
    assert files is not None and files[0] == graph_copy / "mlflow.db", resource.tracking_uri
    for key in list(objects.list("models/aliases/")):  # what the graph's own runs remembered
        objects.delete(key)
    _leave_alone(files)
    first = _start_scoring(graph_copy, resource.tracking_uri)
    assert first["mlflow"], "the first run asks MLflow's client for the aliases"
    again = _start_scoring(graph_copy, resource.tracking_uri)
    assert not again["mlflow"], "a later run takes the remembered aliases and the kept models"
    assert again["versions"] == first["versions"] and again["pds"] == first["pds"]

    # an alias moved in the store: the next lookup asks MLflow's client and finds where it points now
    segment, name, version = first["versions"][0]
    registry = resource.for_segment(segment)
    registry.client.delete_registered_model_alias(name, CHAMPION_ALIAS)
    assert resource.champion(segment, objects) is None
    assert AliasMemo.of(resource.tracking_uri, objects).lookup(name) == (False, None), (
        "a lookup just after a write is not remembered"
    )
    registry.set_champion(version)
    _leave_alone(files)
    assert resource.champion(segment, objects).version == version
    assert AliasMemo.of(resource.tracking_uri, objects).lookup(name)[1].version == version


def test_a_remembered_alias_holds_only_while_the_stores_files_are_unchanged(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"store")
    objects = LocalObjectStore(tmp_path / "objects")
    memo = AliasMemo.of(f"sqlite:///{database}", objects)
    found = RegisteredVersion("riskgraph-pd", "3", "run-3")
    assert memo.lookup("riskgraph-pd") == (False, None)

    assert not memo.remember("riskgraph-pd", found, memo.state()), "the store was written a moment ago"
    _leave_alone(memo.files)
    assert memo.remember("riskgraph-pd", found, memo.state())
    assert memo.remember("riskgraph-other", None, memo.state())  # no such alias: remembered as none
    assert memo.lookup("riskgraph-pd") == (True, found)
    assert memo.lookup("riskgraph-other") == (True, None)
    assert memo.lookup("riskgraph-pd", alias="challenger") == (False, None)

    before = memo.state()
    database.write_bytes(b"store, an alias moved")  # a write during the client's read
    assert not memo.remember("riskgraph-pd", found, before)
    assert memo.lookup("riskgraph-pd") == (False, None)

    _leave_alone(memo.files)
    assert memo.remember("riskgraph-pd", found, memo.state())
    (tmp_path / "mlflow.db-wal").write_bytes(b"a commit in the write-ahead log")
    assert memo.lookup("riskgraph-pd") == (False, None)

    objects.put(memo.key, b"{torn")
    assert memo.lookup("riskgraph-pd") == (False, None)
    database.unlink()
    assert memo.state() is None and not memo.remember("riskgraph-pd", found, None)

    assert AliasMemo.of("http://127.0.0.1:5000", objects) is None  # a server is asked over REST
    assert AliasMemo.of(f"sqlite:///{tmp_path / 'other.db'}", None) is None
    assert local_store_files("sqlite:///") is None
    assert local_store_files("file:///tmp/mlruns") is None
