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
- **The model** of a registered version is immutable, so it is kept in the object store after its first load
  through MLflow and read from there afterwards (``cached_model``/``keep_model``). Its key holds the run that
  logged the version: a version number alone could name another model after a registered model is deleted and
  registered again.
"""

from __future__ import annotations

import json
import logging
import pickle
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from risk_assets.core.model import PDModel
from risk_assets.storage.objects import ObjectStore

CHAMPION_ALIAS = "champion"
#: Seconds a request to the tracking server may take before MLflow's client is asked instead.
TIMEOUT_SECONDS = 10.0
#: The server's error codes for an alias or registered model that does not exist (the client's None).
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})
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
