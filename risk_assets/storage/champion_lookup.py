"""A segment's champion version and its model, found without MLflow's Python client where that is safe.

Every scoring run (a new filing's included) needs only the version each champion alias names and the models of
those versions. Importing MLflow and opening its store for that is most of a new filing's start beyond the
definitions (~1.5-2.5 s here: docs/production.md), so:

- **The alias** is read from the tracking server's REST API (``GET /api/2.0/mlflow/registered-models/alias``, the
  public interface MLflow's own client calls) when the tracking URI is a server (http/https: every deployment).
  Any other URI (the embedded default's SQLite store, a file store) and any answer other than the version or the
  server's "no such alias/model" raise LookupUnavailable, and the caller asks MLflow's client as it always did.
  That includes a server that wants what only the client sends (credentials from ``MLFLOW_TRACKING_TOKEN``, a
  client certificate, a private CA): the plain request is refused or fails its TLS check, so nothing is read
  from the environment here.
- **A local SQLite store** (the embedded default) has no server to ask, so MLflow's client reads the alias, and
  what it read is remembered in the object store with the state of the store's files (modification time, size and
  inode of the database and of its journal or write-ahead log). A later run takes the remembered version while
  those files are as they were; any write to the store (an alias set or removed, a run logged) changes them, and
  the client is asked again. A lookup is remembered only when the files had been left alone for QUIET_SECONDS
  before it, so a write after it gives them a newer time even on a file system that keeps times coarsely.
- **The model** of a registered version is immutable, so it is kept in the object store after its first load
  through MLflow and read from there afterwards (``cached_model``/``keep_model``). Its key holds the run that
  logged the version: a version number alone could name another model after a registered model is deleted and
  registered again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risk_assets.core.model import PDModel
from risk_assets.storage.objects import ObjectStore

CHAMPION_ALIAS = "champion"
#: Seconds a request to the tracking server may take before MLflow's client is asked instead.
TIMEOUT_SECONDS = 10.0
#: The server's error codes for an alias or registered model that does not exist (the client's None).
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})
#: Seconds a local store's files must have been left alone before a lookup in them is remembered (AliasMemo).
QUIET_SECONDS = 3.0
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of a registered model, and the run that logged it."""

    model_name: str
    version: str
    run_id: str

    def cache_key(self) -> str:
        """Where the object store keeps this version's model."""
        name = urllib.parse.quote(self.model_name, safe="")
        return f"models/{name}/{self.version}/{self.run_id}/pd_model.pickle"


class LookupUnavailable(RuntimeError):
    """The alias cannot be read without MLflow's client here (the caller asks the client)."""


def _error_code(error: urllib.error.HTTPError) -> str | None:
    try:
        return json.loads(error.read() or b"{}").get("error_code")
    except (ValueError, AttributeError):
        return None


def alias_version(
    tracking_uri: str, model_name: str, alias: str = CHAMPION_ALIAS, timeout: float = TIMEOUT_SECONDS
) -> RegisteredVersion | None:
    """The version ``alias`` names on ``model_name``, read from the tracking server; None where the alias or the
    model does not exist. LookupUnavailable where this cannot tell (see the module docstring)."""
    scheme = urllib.parse.urlparse(tracking_uri).scheme
    if scheme not in ("http", "https"):
        raise LookupUnavailable(f"the tracking URI is not a server ({scheme or 'a path'})")
    query = urllib.parse.urlencode({"name": model_name, "alias": alias})
    request = urllib.request.Request(
        f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/registered-models/alias?{query}"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http/https checked)
            found = json.load(response)["model_version"]
    except urllib.error.HTTPError as error:
        if error.code in (400, 404) and _error_code(error) in _NOT_FOUND_CODES:
            return None
        raise LookupUnavailable(f"the tracking server answered {error.code}") from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LookupUnavailable(f"the tracking server did not answer the alias: {error}") from error
    return RegisteredVersion(model_name, str(found["version"]), str(found.get("run_id") or ""))


def cached_model(objects: ObjectStore, version: RegisteredVersion) -> PDModel | None:
    """The version's model kept in the object store, or None where it is not there or cannot be read (a torn
    write, a class this code no longer has): the caller loads it through MLflow and keeps it again."""
    key = version.cache_key()
    try:
        if not objects.exists(key):
            return None
        model = pickle.loads(objects.get(key))  # noqa: S301 (written by keep_model, as trusted as the registry)
    except Exception as error:  # noqa: BLE001 (any unreadable copy is loaded again through MLflow)
        _LOG.warning("the cached model %s could not be read (%s); loading it through MLflow", key, error)
        return None
    return model if isinstance(model, PDModel) else None


def keep_model(objects: ObjectStore, version: RegisteredVersion, model: PDModel) -> None:
    """Keep the version's model in the object store for later runs (cached_model)."""
    objects.put(version.cache_key(), pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def local_store_files(tracking_uri: str) -> tuple[Path, ...] | None:
    """The files of a SQLite tracking store (the database, its rollback journal and its write-ahead log), or None
    for any other tracking URI."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix) or len(tracking_uri) == len(prefix):
        return None
    database = Path(tracking_uri[len(prefix) :].split("?", 1)[0])
    return (database, *(database.with_name(database.name + suffix) for suffix in ("-journal", "-wal")))


def _store_state(files: tuple[Path, ...]) -> list[list[Any]] | None:
    """Modification time (ns), size and inode of each of the store's files that exists; None without a database."""
    state = []
    for path in files:
        try:
            found = os.stat(path)
        except FileNotFoundError:
            continue
        state.append([path.name, found.st_mtime_ns, found.st_size, found.st_ino])
    return state if state and state[0][0] == files[0].name else None


class AliasMemo:
    """The versions MLflow's client read from a local SQLite store, kept in the object store beside the store's
    state when they were read, so a later run finds them without importing MLflow (the module docstring)."""

    def __init__(self, objects: ObjectStore, files: tuple[Path, ...]) -> None:
        self.objects, self.files = objects, files
        digest = hashlib.sha256(str(files[0].resolve()).encode()).hexdigest()[:24]
        self.key = f"models/aliases/{digest}.json"

    @classmethod
    def of(cls, tracking_uri: str, objects: ObjectStore | None) -> AliasMemo | None:
        """The memo of a local SQLite store, None for a server (or without an object store)."""
        files = local_store_files(tracking_uri)
        return cls(objects, files) if files is not None and objects is not None else None

    def state(self) -> list[list[Any]] | None:
        return _store_state(self.files)

    def _read(self) -> dict[str, Any]:
        try:
            memo = json.loads(self.objects.get(self.key)) if self.objects.exists(self.key) else {}
        except Exception as error:  # noqa: BLE001 (an unreadable memo is only a miss)
            _LOG.warning("the alias memo %s could not be read (%s); asking MLflow", self.key, error)
            return {}
        return memo if isinstance(memo, dict) else {}

    def lookup(self, model_name: str, alias: str = CHAMPION_ALIAS) -> tuple[bool, RegisteredVersion | None]:
        """(found, version): whether the memo knows the alias for the store as it is now, and the version it names
        (None: the store had no such alias or model)."""
        memo = self._read()
        entry = memo.get("aliases", {}).get(f"{model_name}@{alias}", False)
        if entry is False or memo.get("state") is None or memo.get("state") != self.state():
            return False, None
        if entry is None:
            return True, None
        return True, RegisteredVersion(model_name, str(entry["version"]), str(entry.get("run_id") or ""))

    def remember(
        self,
        model_name: str,
        found: RegisteredVersion | None,
        before: list[list[Any]] | None,
        alias: str = CHAMPION_ALIAS,
    ) -> bool:
        """Remember what the client read, given the store's state taken ``before`` the read: only when the files
        had been left alone for QUIET_SECONDS and did not change during the read. Returns whether it did."""
        if before is None or before != self.state():
            return False
        newest = max(mtime for _, mtime, _, _ in before) / 1e9
        if time.time() - newest < QUIET_SECONDS:
            return False
        memo = self._read()
        aliases = memo.get("aliases", {}) if memo.get("state") == before else {}
        aliases[f"{model_name}@{alias}"] = (
            None if found is None else {"version": found.version, "run_id": found.run_id}
        )
        self.objects.put(self.key, json.dumps({"state": before, "aliases": aliases}).encode())
        return True
