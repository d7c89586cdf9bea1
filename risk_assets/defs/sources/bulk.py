"""Bulk ingestion from SEC's nightly archives (``companyfacts.zip``, ``submissions.zip``), beside the
per-company API path and through the same storage and parsers.

Why a second path: at whole-market scale the per-company API costs two to three requests per filer at SEC's
10/s ceiling and re-sends what did not change; the nightly archives hold every filer's documents in the
API's own format (``CIK##########.json``, plus ``CIK##########-submissions-###.json`` continuation pages in
submissions.zip), so one download replaces tens of thousands of requests.

How it stays safe at that scale:
- never the whole archive in memory: a URL is streamed to a file on disk first (``.part``, resumed with a
  Range request after an interruption), and the ZIP is read member by member (one company's documents at a
  time);
- each member is stored exactly as a fetch would store it (:class:`fetch.RawCapture`: object store under its
  sha256, a ``raw_filings`` row with the same kind names as the API path), then the company's statements are
  rebuilt by the statements asset's own functions (``normalize_documents``, ``validate_statements``);
- resumable: a member whose (company, kind, sha256) is already in ``raw_filings`` is skipped without
  re-parsing, so a re-run of the same archive stores nothing and an interrupted run continues after the last
  committed batch;
- nothing half-written: companies are committed in batches, each batch (companies, raw_filings, statements,
  rejected_records) in ONE warehouse transaction; a damaged member raises :class:`BulkArchiveError` naming
  the archive and the member before its batch is written, so none of that batch's documents is indexed (an
  object already put under its hash is harmless: unindexed, and identical bytes if it comes again).

No Dagster objects here; ``riskgraph ingest bulk`` (commands/bulk.py) drives it.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pandas as pd

from risk_assets.clients.http import redact
from risk_assets.clients.sec import cik10, validate_user_agent
from risk_assets.core.quality import validate_statements
from risk_assets.defs.sources import fetch
from risk_assets.storage.objects import ObjectStore, sha256_hex
from risk_assets.storage.warehouse import Warehouse, utc_now

#: SEC's nightly bulk products (https://www.sec.gov/search-filings/edgar-application-programming-interfaces).
SEC_COMPANYFACTS_URL = "https://www.sec.gov/Archives/edgar/daily-index/xbrl/companyfacts.zip"
SEC_SUBMISSIONS_URL = "https://www.sec.gov/Archives/edgar/daily-index/bulkdata/submissions.zip"
#: OpenDART's code master (a ZIP holding CORPCODE.xml); needs ``crtfc_key``.
DART_CORPCODE_URL = "https://opendart.fss.or.kr/api/corpCode.xml"

_MEMBER = re.compile(r"^(?:.*/)?CIK(\d{10})(-submissions-\d+)?\.json$")


class BulkArchiveError(Exception):
    """A bulk archive that cannot be read: not a ZIP, truncated, a member failing its CRC or not JSON."""


@dataclass
class BulkStats:
    """What a run did; ``line()`` is the progress line the command prints."""

    members: int = 0
    stored: int = 0
    skipped: int = 0
    companies: int = 0
    companies_added: int = 0
    statement_rows: int = 0
    rejected: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return (
            f"{self.members} members ({self.members / seconds:.1f}/s), {self.stored} documents stored, "
            f"{self.skipped} skipped (already stored), {self.companies} companies "
            f"({self.companies_added} added), {self.statement_rows} statement rows "
            f"({self.statement_rows / seconds:.0f}/s), {self.rejected} rejected, {seconds:.1f}s"
        )


# ------------------------------------------------------------------------------------------- download


def download(
    url: str,
    dest: Path,
    *,
    user_agent: str,
    progress: Callable[[str], None] = print,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
    sec: bool = True,
    secrets: tuple[str, ...] = (),
) -> Path:
    """Stream ``url`` to ``dest`` on disk (never into memory) and return it.

    The bytes go to ``dest.part`` first and are renamed only when complete; an interrupted download resumes
    from the ``.part`` file with a Range request (a server answering 200 instead of 206 restarts it). SEC
    requires a User-Agent with a contact e-mail (the same rule as the SEC client); the archive is a single
    request, so the 10 requests/s limit is not a concern here. ``sec=False`` (OpenDART) drops that rule;
    ``secrets`` (an API key in the URL) never appear in a message.
    """
    shown = redact(url, secrets)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": validate_user_agent(user_agent) if sec else (user_agent or "riskgraph/0.1")}
    if have:
        headers["Range"] = f"bytes={have}-"
    with (
        httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True, transport=transport) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code == 416 and have:  # the .part is already whole
            part.replace(dest)
            return dest
        if response.status_code not in (200, 206):
            raise BulkArchiveError(f"{shown}: HTTP {response.status_code} while downloading the archive")
        resumed = response.status_code == 206 and have > 0
        if not resumed:
            have = 0
        total = response.headers.get("content-length")
        total_bytes = int(total) + have if total and total.isdigit() else None
        written, last = have, time.monotonic()
        try:
            with part.open("ab" if resumed else "wb") as handle:
                for chunk in response.iter_bytes():  # as received: a cut keeps every byte that came
                    handle.write(chunk)
                    written += len(chunk)
                    if time.monotonic() - last >= 2:
                        last = time.monotonic()
                        share = f" of {total_bytes:,}" if total_bytes else ""
                        progress(f"{dest.name}: {written:,}{share} bytes")
        except httpx.TransportError as exc:
            raise BulkArchiveError(
                f"{shown}: download interrupted after {written:,} bytes ({type(exc).__name__}); "
                f"run again to resume from {part}"
            ) from None
        if total_bytes is not None and written != total_bytes:
            raise BulkArchiveError(
                f"{shown}: download stopped at {written:,} of {total_bytes:,} bytes; run again "
                f"to resume from {part}"
            )
    part.replace(dest)
    progress(f"{dest.name}: {written:,} bytes{' (resumed)' if resumed else ''}")
    return dest


def resolve_archive(
    path_or_url: str,
    download_dir: Path,
    *,
    user_agent: str | None,
    progress: Callable[[str], None] = print,
    name: str | None = None,
    sec: bool = True,
    secrets: tuple[str, ...] = (),
) -> Path:
    """A local archive path as is; an http(s) URL downloaded into ``download_dir`` (kept for a re-run)."""
    if not path_or_url.startswith(("http://", "https://")):
        path = Path(path_or_url)
        if not path.is_file():
            raise BulkArchiveError(f"{path}: no such archive")
        return path
    name = name or path_or_url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "archive.zip"
    return download(
        path_or_url,
        Path(download_dir) / name,
        user_agent=user_agent or "",
        progress=progress,
        sec=sec,
        secrets=secrets,
    )


# --------------------------------------------------------------------------------------------- archive


class _Archive:
    """One opened bulk ZIP: its CIK members by CIK, read one at a time with errors naming archive + member."""

    def __init__(self, path: Path, folder: str):
        self.path, self.folder = Path(path), folder
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BulkArchiveError(
                f"{self.path}: not a readable ZIP archive (truncated or damaged?): {exc}"
            ) from None
        self.members: dict[str, list[str]] = {}
        for name in self.zip.namelist():
            match = _MEMBER.match(name)
            if match:
                self.members.setdefault(match[1], []).append(name)
        for names in self.members.values():
            names.sort(key=lambda n: ("-submissions-" in n, n))  # the main document first, pages in order

    def close(self) -> None:
        self.zip.close()

    def read(self, member: str) -> bytes:
        """The member's bytes, CRC-checked by zipfile."""
        try:
            return self.zip.read(member)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise BulkArchiveError(f"{self.path}: member {member} is damaged: {exc}") from None

    def parse(self, member: str, body: bytes) -> dict[str, Any]:
        """The member's JSON object, or an error naming archive and member."""
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BulkArchiveError(f"{self.path}: member {member} is not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise BulkArchiveError(f"{self.path}: member {member} is not a JSON object")
        return payload

    def sink_key(self, member: str) -> str:
        """The key the SEC client would give the same document (sec/companyfacts/..., sec/submissions/...)."""
        return f"sec/{self.folder}/{member.rsplit('/', 1)[-1]}"


def _sec_companies(store: Warehouse) -> dict[str, str]:
    """{10-digit CIK: company_id} of the SEC filers the warehouse covers."""
    frame = store.read("companies")
    frame = frame[frame["cik"].notna() & (frame["cik"].astype(str) != "")]
    return {cik10(cik): company_id for cik, company_id in zip(frame["cik"], frame["company_id"], strict=True)}


def _stored_keys(store: Warehouse, company_ids: list[str]) -> set[tuple[str, str, str]]:
    """(company_id, kind, sha256) of the SEC documents already indexed: what a re-run skips."""
    keys: set[tuple[str, str, str]] = set()
    for start in range(0, len(company_ids), 1000):
        frame = store.read(
            "raw_filings", where={"company_id": company_ids[start : start + 1000], "source": "sec"}
        )
        keys.update(zip(frame["company_id"], frame["kind"], frame["sha256"], strict=True))
    return keys


def _company_row_from_facts(facts: dict, company_id: str, cik: str) -> dict[str, Any]:
    """A companies row when only companyfacts is at hand (no submissions): name and CIK; the rest unknown."""
    row = fetch.company_row_from_sec({}, company_id, cik, utc_now())
    row["name"] = str(facts.get("entityName") or company_id)[:200]
    return row


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ingest_sec_archives(
    store: Warehouse,
    objects: ObjectStore,
    *,
    companyfacts: Path | None = None,
    submissions: Path | None = None,
    all_ciks: bool = False,
    batch_size: int = 50,
    progress: Callable[[str], None] = print,
    progress_every_seconds: float = 5.0,
) -> BulkStats:
    """Ingest the SEC bulk archives into the object store, ``raw_filings``, ``companies`` and ``statements``.

    Companies: the warehouse's SEC filers, or with ``all_ciks`` every CIK of the companyfacts archive (of the
    submissions archive when no companyfacts is given), added to ``companies`` as SEC filers (name, SIC,
    fiscal year end and ticker from their submissions when the archive has them).
    """
    # Imported here: the statements asset module imports Dagster, which a caller of fetch helpers may not need.
    from risk_assets.defs.statements.assets import STATEMENT_COLUMNS, normalize_documents

    if companyfacts is None and submissions is None:
        raise ValueError("give at least one archive (companyfacts.zip or submissions.zip)")
    stats = BulkStats()
    with ExitStack() as stack:
        archives: list[_Archive] = []
        for path, folder in ((submissions, "submissions"), (companyfacts, "companyfacts")):
            if path is not None:
                archive = _Archive(path, folder)
                stack.callback(archive.close)
                archives.append(archive)
        known = _sec_companies(store)
        scope = dict(known)
        if all_ciks:
            source = next((a for a in archives if a.folder == "companyfacts"), archives[0])
            for cik in source.members:
                scope.setdefault(cik, f"sec-{cik}")
        ciks = sorted(cik for cik in scope if any(cik in a.members for a in archives))
        stored_keys = _stored_keys(store, [scope[cik] for cik in ciks])
        progress(
            f"{len(ciks)} companies to read from {', '.join(str(a.path) for a in archives)} "
            f"({len(known)} known SEC filers, {'all CIKs' if all_ciks else 'universe only'})"
        )
        last = time.monotonic()
        for batch in _batches(ciks, batch_size):
            companies, raw_rows, statements, rejected, replaced = [], [], [], [], []
            for cik in batch:
                company_id = scope[cik]
                capture = fetch.RawCapture(objects, company_id=company_id)
                documents: dict[str, bytes] = {}
                payloads: dict[str, dict] = {}
                new = False
                for archive in archives:
                    for member in archive.members.get(cik, ()):
                        body = archive.read(member)
                        stats.members += 1
                        source, kind = fetch.raw_kind(archive.sink_key(member))
                        documents[f"{source}:{kind}"] = body
                        if (company_id, kind, sha256_hex(body)) in stored_keys:
                            stats.skipped += 1  # parsed when it was stored: only hashed now
                            if cik not in known:  # ... unless its companies row is still to be written
                                payloads[kind] = archive.parse(member, body)
                            continue
                        payloads[kind] = archive.parse(member, body)
                        capture.store(source, kind, body, "application/json")
                        stats.stored += 1
                        new = True
                stats.companies += 1
                if cik not in known:
                    companies.append(
                        fetch.company_row_from_sec(payloads["submissions"], company_id, cik, utc_now())
                        if "submissions" in payloads
                        else _company_row_from_facts(payloads.get("companyfacts", {}), company_id, cik)
                    )
                    stats.companies_added += 1
                if not new:
                    continue  # nothing new for this company: its statements stand
                raw_rows += capture.take_rows()
                # The statements asset's parse, over the company's stored documents as they will be after this
                # batch (the archive's bodies replace the stored ones of the same kind).
                stored = _latest_other_documents(store, objects, company_id, set(documents))
                frame, refused = normalize_documents(company_id, {**stored, **documents})
                good, bad = validate_statements(frame)
                statements.append(good[STATEMENT_COLUMNS])
                rejected += [
                    {**r, "stage": "statements", "detected_at": utc_now()}
                    for r in refused + bad.to_dict("records")
                ]
                replaced.append(company_id)
                stats.statement_rows += len(good)
                stats.rejected += len(refused) + len(bad)
            # One transaction per batch: every row of these companies lands, or none does.
            with store.transaction() as conn:
                store.upsert("companies", companies, connection=conn)
                store.upsert("raw_filings", raw_rows, connection=conn)
                for company_id, good in zip(replaced, statements, strict=True):
                    store.upsert("statements", good, replace={"company_id": company_id}, connection=conn)
                    store.upsert(
                        "rejected_records",
                        [r for r in rejected if r["company_id"] == company_id],
                        replace={"stage": "statements", "company_id": company_id},
                        connection=conn,
                    )
            known.update({cik: scope[cik] for cik in batch})
            if time.monotonic() - last >= progress_every_seconds:
                last = time.monotonic()
                progress(stats.line())
    progress(stats.line())
    return stats


def _latest_other_documents(
    store: Warehouse, objects: ObjectStore, company_id: str, in_hand: set[str]
) -> dict[str, bytes]:
    """The company's latest stored documents of the kinds the archives did not bring (OpenDART, another SEC
    kind), read back only when needed: a company known only from the archive has none."""
    from risk_assets.defs.sources.assets import latest_document_rows

    rows = latest_document_rows(store, company_id)
    if rows.empty:
        return {}
    names = [f"{r.source}:{r.kind}" for r in rows.itertuples()]
    keep = pd.Series([name not in in_hand for name in names], index=rows.index, dtype=bool)
    return {f"{r.source}:{r.kind}": objects.get(r.object_key) for r in rows[keep].itertuples()}


# ---------------------------------------------------------------------------------------------- OpenDART


def ingest_dart_corpcode(
    store: Warehouse,
    objects: ObjectStore,
    archive_path: Path,
    *,
    include_unlisted: bool = False,
    batch_size: int = 1000,
    progress: Callable[[str], None] = print,
) -> BulkStats:
    """OpenDART's corpCode ZIP into the universe: every listed company (a stock code; with ``include_unlisted``
    every entry, about 100,000) not yet in ``companies`` is added as a DART filer.

    CORPCODE.xml is parsed incrementally from the ZIP member (never whole in memory); the ZIP itself (a couple of
    MB) is stored once under its sha256 as a shared raw document. Companies already known keep their row (the
    per-company path's company.json is richer: KSIC, fiscal month); new rows assume a December year end until
    company.json says otherwise.
    """
    stats = BulkStats()
    path = Path(archive_path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BulkArchiveError(f"{path}: not a readable ZIP archive (truncated or damaged?): {exc}") from None
    with archive:
        member = next((n for n in archive.namelist() if n.lower().endswith("corpcode.xml")), None)
        if member is None:
            raise BulkArchiveError(f"{path}: holds no CORPCODE.xml ({archive.namelist()[:5]})")
        known = set(store.read("companies")["company_id"])
        now, batch = utc_now(), []
        try:
            with archive.open(member) as handle:
                for _event, element in ElementTree.iterparse(handle):
                    if element.tag != "list":
                        continue
                    stats.members += 1
                    row = {
                        name: (element.findtext(name) or "").strip()
                        for name in ("corp_code", "corp_name", "corp_eng_name", "stock_code")
                    }
                    element.clear()
                    company_id = f"dart-{row['corp_code']}"
                    if (
                        not row["corp_code"]
                        or company_id in known
                        or not (row["stock_code"] or include_unlisted)
                    ):
                        stats.skipped += 1
                        continue
                    overview = {
                        "corp_name": row["corp_name"],
                        "corp_name_eng": row["corp_eng_name"] or None,
                        "stock_code": row["stock_code"] or None,
                    }
                    batch.append(fetch.company_row_from_dart(overview, company_id, row["corp_code"], now))
                    known.add(company_id)
        except (ElementTree.ParseError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BulkArchiveError(f"{path}: member {member} is damaged or not valid XML: {exc}") from None
        # All rows are read before any is written: a damaged file adds nobody.
        with store.transaction() as conn:
            for start in range(0, len(batch), batch_size):
                store.upsert("companies", batch[start : start + batch_size], connection=conn)
        body = path.read_bytes()
        capture = fetch.RawCapture(objects)
        capture.store("dart", "corpCode", body, "application/zip")
        stats.stored, stats.companies = 1, len(batch)
        stats.companies_added = len(batch)
    progress(
        f"corpCode: {stats.members} entries, {stats.companies_added} companies added, "
        f"{stats.skipped} skipped (known, or unlisted)"
    )
    return stats
