"""The bundled real sample data (risk_assets/data): the embedded default's stand-in for the live sources.

Files are the recorded responses of SEC EDGAR and OpenDART (see data/SOURCE.md), returned as raw bytes so they
go through exactly the path a live fetch takes: stored in the object store, then parsed.

The company files (universe.csv, sec/, opendart/) may also be read from another folder laid out the same way
(``data_folder``; ``BundledFilings.data_folder``): a larger recorded universe than the packaged one, e.g. the
synthetic filers a backfill test generates, goes through the same code.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from risk_assets.core.events import DART_EVENT_KINDS


@dataclass(frozen=True)
class RawDocument:
    source: str  # "sec" | "dart"
    kind: str  # e.g. "companyfacts", "submissions", "fnlttSinglAcntAll:2023:11011:CFS"
    body: bytes
    content_type: str = "application/json"


def _data_root(data_folder: str = "") -> Traversable:
    """The packaged data (``data_folder`` empty), or a folder laid out like it."""
    if not data_folder:
        return resources.files("risk_assets.data")
    root = Path(data_folder)
    if not root.joinpath("universe.csv").is_file():
        raise FileNotFoundError(f"bundled data folder {data_folder!r} has no universe.csv")
    return root


def read_csv_rows(name: str, data_folder: str = "") -> list[dict[str, str]]:
    text = _data_root(data_folder).joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def universe_rows(data_folder: str = "") -> list[dict[str, str]]:
    return read_csv_rows("universe.csv", data_folder)


def bundled_default_events() -> list[dict[str, str]]:
    return read_csv_rows("default_events.csv")


def _gunzip(path: Traversable) -> bytes:
    return gzip.decompress(path.read_bytes())


def sec_documents(cik: str, data_folder: str = "") -> list[RawDocument]:
    """companyfacts (and submissions when bundled) for a zero-padded CIK."""
    sec = _data_root(data_folder).joinpath("sec")
    documents = []
    for kind in ("companyfacts", "submissions"):
        path = sec.joinpath(kind, f"CIK{cik}.json.gz")
        if path.is_file():
            documents.append(RawDocument("sec", kind, _gunzip(path)))
    return documents


def dart_documents(corp_code: str, data_folder: str = "") -> list[RawDocument]:
    """Full statements (fnlttSinglAcntAll) and the company overview for a DART corp code."""
    dart = _data_root(data_folder).joinpath("opendart")
    documents = []
    for entry in sorted(dart.joinpath("fnlttSinglAcntAll").iterdir(), key=lambda p: p.name):
        name = entry.name
        parts = name.split(".")[0].split("_")
        if len(parts) == 4 and parts[0] == corp_code and "first-row-only" not in name:
            _code, year, report, fs_div = parts
            documents.append(
                RawDocument("dart", f"fnlttSinglAcntAll:{year}:{report}:{fs_div}", entry.read_bytes())
            )
    company = dart.joinpath("company", f"company_{corp_code}.json")
    if company.is_file():
        documents.append(RawDocument("dart", "company", company.read_bytes()))
    for endpoint in DART_EVENT_KINDS:  # distress-event reports, where bundled
        event = dart.joinpath(endpoint, f"{endpoint}_{corp_code}.json")
        if event.is_file():
            documents.append(RawDocument("dart", endpoint, event.read_bytes()))
    return documents


def fred_observations(series_id: str, first_release: bool) -> bytes | None:
    """A bundled FRED series/observations response (data/fred): ``<ID>.first_release.json`` is an ALFRED
    initial-release request (output_type=4), ``<ID>.json[.gz]`` a default (latest-vintage) request."""
    fred = _data_root().joinpath("fred")
    names = (
        [f"{series_id}.first_release.json"]
        if first_release
        else [f"{series_id}.json", f"{series_id}.json.gz"]
    )
    for name in names:
        path = fred.joinpath(name)
        if path.is_file():
            return _gunzip(path) if name.endswith(".gz") else path.read_bytes()
    return None


def price_chart(symbol: str) -> bytes | None:
    """A bundled Yahoo chart response for ``symbol`` (data/yahoo/chart-<SYMBOL>-<from>-to-<to>.json)."""
    yahoo = _data_root().joinpath("yahoo")
    if not yahoo.is_dir():
        return None
    for entry in sorted(yahoo.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(f"chart-{symbol}-") and entry.name.endswith(".json"):
            return entry.read_bytes()
    return None
