"""Bulk ingestion (defs/sources/bulk.py, `riskgraph ingest bulk`) against archives built in the test from the
recorded responses of the bundled filers (risk_assets/data/sec: 13 companyfacts, 12 submissions; Hertz's
submissions are not bundled). The archives are BUILT here in SEC's documented layout (one CIK##########.json
per filer, continuation pages as CIK##########-submissions-###.json); no recorded archive exists.

The per-company API path is the SEC client against a local server serving the same bodies, its raw sink the
same RawCapture, then the statements asset's own functions (normalize_documents, validate_statements).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from risk_assets.clients import SecEdgarClient
from risk_assets.core.quality import validate_statements
from risk_assets.defs.sources import bundled, fetch
from risk_assets.defs.sources.assets import latest_documents
from risk_assets.defs.sources.bulk import BulkArchiveError, download, ingest_sec_archives
from risk_assets.defs.sources.providers import company_row
from risk_assets.defs.statements.assets import STATEMENT_COLUMNS, normalize_documents
from risk_assets.storage.objects import LocalObjectStore
from risk_assets.storage.warehouse import Warehouse, utc_now
from tests.sources import stubs
from tests.support.stub_server import StubResponse, StubServer

SEC = [row for row in bundled.universe_rows() if row["cik"]]
KEY = ["company_id", "period_end", "accession"]


def _documents() -> dict[str, dict[str, bytes]]:
    """{"companyfacts"|"submissions": {member name: body}} for every bundled SEC filer; Apple's submissions
    list an older page (filings.files), served / archived as the documented empty page."""
    out: dict[str, dict[str, bytes]] = {"companyfacts": {}, "submissions": {}}
    for row in SEC:
        for document in bundled.sec_documents(row["cik"]):
            out[document.kind][f"CIK{row['cik']}.json"] = document.body
            if document.kind == "submissions":
                for page in json.loads(document.body)["filings"].get("files") or []:
                    out["submissions"][page["name"]] = json.dumps(stubs.empty_submissions_page()).encode()
    return out


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            archive.writestr(name, members[name])
    return path


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, bytes]]:
    return _documents()


@pytest.fixture
def archives(tmp_path: Path, documents) -> tuple[Path, Path]:
    return (
        _zip(tmp_path / "companyfacts.zip", documents["companyfacts"]),
        _zip(tmp_path / "submissions.zip", documents["submissions"]),
    )


def _store(tmp_path: Path, name: str, with_universe: bool = True) -> tuple[Warehouse, LocalObjectStore]:
    store = Warehouse(f"sqlite:///{tmp_path / name}.db")
    store.create_schema()
    if with_universe:
        store.upsert("companies", [company_row(row, utc_now()) for row in SEC])
    return store, LocalObjectStore(tmp_path / f"{name}-objects")


def _statements(store: Warehouse):
    frame = store.read("statements")[STATEMENT_COLUMNS]
    return frame.sort_values(KEY).reset_index(drop=True)


def _raw(store: Warehouse) -> set[tuple[str, str, str, str]]:
    frame = store.read("raw_filings")
    return set(zip(frame["company_id"], frame["kind"], frame["sha256"], frame["object_key"], strict=True))


def _api_path(tmp_path: Path, documents) -> Warehouse:
    """Per-company API path: SEC client -> RawCapture -> raw_filings, then the statements asset's parse."""
    store, objects = _store(tmp_path, "api")
    with StubServer() as stub:
        for folder, path in (("companyfacts", "/api/xbrl/companyfacts"), ("submissions", "/submissions")):
            for name, body in documents[folder].items():
                stub.route("GET", f"{path}/{name}", StubResponse(body=body, content_type="application/json"))
        capture = fetch.RawCapture(objects)
        client = SecEdgarClient(
            user_agent=stubs.USER_AGENT,
            base_url_data=stub.url,
            base_url_www=stub.url,
            max_requests_per_second=1000,
            raw_sink=capture,
        )
        for row in SEC:
            capture.company_id = row["company_id"]
            if f"CIK{row['cik']}.json" in documents["submissions"]:
                fetch.fetch_sec_documents(client, row["cik"])
            else:  # Hertz: companyfacts only (its submissions are not bundled)
                client.companyfacts(row["cik"])
            store.upsert("raw_filings", capture.take_rows())
        client.close()
        assert stub.unmatched == []
    for row in SEC:
        frame, _rejected = normalize_documents(
            row["company_id"], latest_documents(store, objects, row["company_id"])
        )
        good, _bad = validate_statements(frame)
        store.upsert("statements", good[STATEMENT_COLUMNS], replace={"company_id": row["company_id"]})
    return store


def test_bulk_archives_give_the_api_paths_statements_row_for_row(tmp_path: Path, documents, archives) -> None:
    api = _api_path(tmp_path, documents)
    store, objects = _store(tmp_path, "bulk")
    lines: list[str] = []
    stats = ingest_sec_archives(
        store, objects, companyfacts=archives[0], submissions=archives[1], batch_size=4, progress=lines.append
    )
    members = len(documents["companyfacts"]) + len(documents["submissions"])
    assert (stats.members, stats.stored, stats.skipped, stats.companies) == (members, members, 0, 13)

    expected = _statements(api)
    assert len(expected) > 700  # 13 filers, FY and TTM versions
    assert _statements(store).equals(expected)
    assert stats.statement_rows == len(expected)
    # The same documents under the same keys and hashes as the API path stored them.
    assert {r[:3] for r in _raw(store)} == {r[:3] for r in _raw(api)}
    for _company, _kind, digest, key in _raw(store):
        assert fetch.sha256_hex(objects.get(key)) == digest
    assert "members (" in lines[-1] and "documents stored" in lines[-1]

    # A second run of the same archives stores nothing and rewrites nothing.
    before_raw, before = _raw(store), _statements(store)
    again = ingest_sec_archives(
        store, objects, companyfacts=archives[0], submissions=archives[1], progress=lines.append
    )
    assert (again.stored, again.skipped, again.statement_rows) == (0, members, 0)
    assert _raw(store) == before_raw and _statements(store).equals(before)
    api.dispose()
    store.dispose()


def test_all_ciks_adds_the_archives_filers_as_sec_companies(tmp_path: Path, archives) -> None:
    store, objects = _store(tmp_path, "all", with_universe=False)
    assert (
        ingest_sec_archives(store, objects, companyfacts=archives[0], progress=lambda _l: None).companies == 0
    )
    stats = ingest_sec_archives(
        store,
        objects,
        companyfacts=archives[0],
        submissions=archives[1],
        all_ciks=True,
        progress=lambda _l: None,
    )
    assert stats.companies_added == 13
    companies = store.read("companies").set_index("company_id")
    assert companies.loc["sec-0000320193", ["name", "sic", "fiscal_year_end", "source"]].tolist() == [
        "Apple Inc.",
        "3571",
        "0926",
        "sec",
    ]
    # Hertz has companyfacts but no bundled submissions: named from companyfacts' entityName.
    assert (
        companies.loc["sec-0001657853", "name"]
        == json.loads(bundled.sec_documents("0001657853")[0].body)["entityName"]
    )
    assert set(store.read("statements")["company_id"]) == {row["company_id"] for row in SEC}
    store.dispose()


def test_truncated_archive_is_refused_by_name_and_writes_nothing(tmp_path: Path, archives) -> None:
    store, objects = _store(tmp_path, "cut")
    cut = tmp_path / "cut-companyfacts.zip"
    data = archives[0].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BulkArchiveError, match="cut-companyfacts.zip: not a readable ZIP"):
        ingest_sec_archives(store, objects, companyfacts=cut, progress=lambda _l: None)
    assert store.count("raw_filings") == 0 and store.count("statements") == 0


def test_damaged_member_rolls_its_batch_back_and_a_rerun_continues(tmp_path: Path, documents) -> None:
    store, objects = _store(tmp_path, "broken")
    members = dict(documents["companyfacts"])
    ciks = sorted(row["cik"] for row in SEC)
    broken_cik = ciks[5]  # the second batch of four
    members[f"CIK{broken_cik}.json"] = members[f"CIK{broken_cik}.json"][:5000]  # cut JSON
    broken = _zip(tmp_path / "broken.zip", members)
    with pytest.raises(BulkArchiveError, match=f"broken.zip: member CIK{broken_cik}.json is not valid JSON"):
        ingest_sec_archives(store, objects, companyfacts=broken, batch_size=4, progress=lambda _l: None)
    first_batch = {f"sec-{cik}" for cik in ciks[:4]}
    assert set(store.read("raw_filings")["company_id"]) == first_batch
    assert set(store.read("statements")["company_id"]) == first_batch

    # A damaged member's bytes (CRC mismatch), not only its JSON, is named too.
    corrupt = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(corrupt, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"CIK{ciks[0]}.json", documents["companyfacts"][f"CIK{ciks[0]}.json"])
    raw = bytearray(corrupt.read_bytes())
    raw[200] ^= 0xFF  # a byte inside the stored member's data
    corrupt.write_bytes(bytes(raw))
    with pytest.raises(BulkArchiveError, match=f"corrupt.zip: member CIK{ciks[0]}.json"):
        ingest_sec_archives(store, objects, companyfacts=corrupt, progress=lambda _l: None)

    # The good archive continues: the first batch is skipped by hash, the rest lands.
    good = _zip(tmp_path / "good.zip", documents["companyfacts"])
    stats = ingest_sec_archives(store, objects, companyfacts=good, batch_size=4, progress=lambda _l: None)
    assert (stats.skipped, stats.stored) == (4, 9)
    assert set(store.read("statements")["company_id"]) == {row["company_id"] for row in SEC}
    store.dispose()


def test_download_streams_to_disk_resumes_and_feeds_the_command(
    tmp_path: Path, archives, monkeypatch
) -> None:
    from risk_assets.cli import main
    from tests.conftest import use_home

    data = archives[0].read_bytes()
    half = len(data) // 2
    with StubServer() as stub:
        stub.route(
            "GET",
            "/xbrl/companyfacts.zip",
            [
                StubResponse(body=data, content_type="application/zip", truncate_at=half),
                StubResponse(
                    status=206,
                    body=data[half:],
                    content_type="application/zip",
                    headers={"Content-Range": f"bytes {half}-{len(data) - 1}/{len(data)}"},
                ),
                StubResponse(body=data, content_type="application/zip"),
            ],
        )
        url = f"{stub.url}/xbrl/companyfacts.zip"
        dest = tmp_path / "dl" / "companyfacts.zip"
        with pytest.raises(BulkArchiveError, match="run again to resume"):
            download(url, dest, user_agent=stubs.USER_AGENT, progress=lambda _l: None)
        assert not dest.exists() and (tmp_path / "dl" / "companyfacts.zip.part").stat().st_size == half
        assert download(url, dest, user_agent=stubs.USER_AGENT, progress=lambda _l: None) == dest
        assert dest.read_bytes() == data
        first, second = stub.requests_to("/xbrl/companyfacts.zip")
        assert first.headers["user-agent"] == stubs.USER_AGENT and "range" not in first.headers
        assert second.headers["range"] == f"bytes={half}-"
        with pytest.raises(ValueError, match="contact e-mail"):
            download(url, tmp_path / "x.zip", user_agent="no-mail", progress=lambda _l: None)

        # The command: downloads the URL (third response, whole) and ingests the universe's filers.
        use_home(monkeypatch, tmp_path / "home")
        monkeypatch.setenv("RISKGRAPH_SEC_USER_AGENT", stubs.USER_AGENT)
        store, _objects = _store(tmp_path / "home", "warehouse")
        out = io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        assert main(["ingest", "bulk", "--sec-companyfacts", url]) == 0
        assert "13 members" in out.getvalue() and "13 documents stored" in out.getvalue()
        assert set(store.read("statements")["company_id"]) == {row["company_id"] for row in SEC}
        assert main(["ingest", "bulk", "--sec-companyfacts", str(tmp_path / "missing.zip")]) == 1
    store.dispose()


def _corpcode_zip(path: Path, xml: bytes) -> Path:
    """OpenDART's corpCode answer: a ZIP holding CORPCODE.xml (BUILT around the RECORDED 32-entry excerpt; no
    raw ZIP was recorded)."""
    return _zip(path, {"CORPCODE.xml": xml})


def test_dart_corpcode_adds_listed_companies_streamed_and_refuses_broken_xml(
    tmp_path: Path, monkeypatch
) -> None:
    from risk_assets.cli import main
    from risk_assets.defs.sources.bulk import ingest_dart_corpcode
    from tests.conftest import use_home

    xml = (stubs.DATA / "opendart" / "corpCode" / "CORPCODE.listed-only.excerpt.xml").read_bytes()
    entries = xml.count(b"<list>")
    store, objects = _store(
        tmp_path, "dart"
    )  # the universe already has the SEC filers; Samsung is added here
    broken = _corpcode_zip(tmp_path / "broken.zip", xml[: len(xml) // 2])
    with pytest.raises(BulkArchiveError, match="broken.zip: member CORPCODE.xml is damaged or not valid XML"):
        ingest_dart_corpcode(store, objects, broken, progress=lambda _l: None)
    assert not store.read("companies")["company_id"].str.startswith("dart-").any()

    archive = _corpcode_zip(tmp_path / "corpCode.zip", xml)
    stats = ingest_dart_corpcode(store, objects, archive, progress=lambda _l: None)
    companies = store.read("companies").set_index("company_id")
    dart = companies[companies.index.str.startswith("dart-")]
    assert stats.members == entries == 32 and len(dart) == 32  # the excerpt holds listed companies only
    assert dart.loc[
        "dart-00126380", ["ticker", "country", "currency", "source", "dart_corp_code"]
    ].tolist() == ["005930", "KR", "KRW", "dart", "00126380"]
    assert any(key.startswith("raw/dart/_shared/corpCode/") for key in objects.list("raw/dart"))
    again = ingest_dart_corpcode(store, objects, archive, progress=lambda _l: None)
    assert (again.companies_added, again.skipped) == (0, 32)

    # The command downloads it with the key in the query and never prints the key.
    use_home(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("OPENDART_API_KEY", stubs.DART_KEY)
    with StubServer() as stub:
        stub.route("GET", "/api/corpCode.xml", StubResponse.text("no", status=403))
        monkeypatch.setattr("risk_assets.defs.sources.bulk.DART_CORPCODE_URL", f"{stub.url}/api/corpCode.xml")
        err = io.StringIO()
        monkeypatch.setattr("sys.stderr", err)
        assert main(["ingest", "bulk", "--dart-corpcode", "live"]) == 1
        assert "HTTP 403" in err.getvalue() and stubs.DART_KEY not in err.getvalue()
        assert stub.requests[0].param("crtfc_key") == stubs.DART_KEY
    store.dispose()
