"""OpenDART major-event reports fetched through the client land in default_events (the asset invoked directly on
a temporary warehouse). The three bodies are the RECORDED DS005 responses (DH오토넥스 00126089, 태영건설 00153861)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from risk_assets.defs.resources import ObjectStoreResource, WarehouseResource
from risk_assets.defs.sources.assets import default_events
from risk_assets.defs.sources.fetch import RawCapture
from risk_assets.storage.objects import open_object_store
from risk_assets.storage.warehouse import Warehouse
from tests.sources import stubs
from tests.support.stub_server import StubResponse, StubServer

DH, TAEYOUNG = "dart-00126089", "dart-00153861"
OPENDART = stubs.DATA / "opendart"


def company(company_id: str, corp_code: str, name: str) -> dict:
    return {
        "company_id": company_id,
        "name": name,
        "dart_corp_code": corp_code,
        "country": "KR",
        "currency": "KRW",
        "is_financial": False,
        "source": "dart",
        "updated_at": dt.datetime(2026, 1, 1),
    }


def test_dart_distress_reports_become_default_events(tmp_path: Path) -> None:
    warehouse_url, objects_url = f"sqlite:///{tmp_path / 'warehouse.db'}", (tmp_path / "objects").as_uri()
    store = Warehouse(warehouse_url)
    store.create_schema()
    store.upsert(
        "companies", [company(DH, "00126089", "DH오토넥스"), company(TAEYOUNG, "00153861", "태영건설")]
    )
    capture = RawCapture(open_object_store(objects_url))
    with StubServer() as stub:
        for endpoint, corp_code in (
            ("dfOcr", "00126089"),
            ("ctrcvsBgrq", "00126089"),
            ("bnkMngtPcbg", "00153861"),
        ):
            stub.route(
                "GET",
                f"/api/{endpoint}.json",
                StubResponse.file(OPENDART / endpoint / f"{endpoint}_{corp_code}.json"),
                query={"corp_code": corp_code},
            )
        for endpoint in ("dfOcr", "ctrcvsBgrq", "bnkMngtPcbg"):
            stub.route("GET", f"/api/{endpoint}.json", stubs.dart_no_data())
        client = stubs.resources_for(stub)["dart"].client(raw_sink=capture)
        for company_id, corp_code in ((DH, "00126089"), (TAEYOUNG, "00153861")):
            capture.company_id = company_id
            for endpoint in ("dfOcr", "ctrcvsBgrq", "bnkMngtPcbg"):
                client.major_events(endpoint, corp_code, "20150101", "20251231")
            store.upsert("raw_filings", capture.take_rows())
        client.close()

    result = default_events(
        context=dg.build_asset_context(),
        warehouse=WarehouseResource(url=warehouse_url),
        object_store=ObjectStoreResource(url=objects_url),
    )
    assert result.metadata["events"] == 3
    events = store.read("default_events").sort_values(["company_id", "event_date"])
    assert [
        tuple(r)
        for r in events[["company_id", "event_date", "kind", "source", "reference"]].itertuples(index=False)
    ] == [
        # dfOcr: no dishonour date ("dfd": "-"), so the receipt date rcept_no[:8].
        (
            DH,
            dt.date(2023, 9, 25),
            "rehabilitation_filing",
            "dart_ctrcvsBgrq",
            "20230926000754",
        ),  # rqd 2023년 09월 25일
        (DH, dt.date(2023, 10, 12), "default", "dart_dfOcr", "20231012000317"),
        (TAEYOUNG, dt.date(2024, 1, 11), "creditor_bank_management", "dart_bnkMngtPcbg", "20250217001661"),
    ]
    store.dispose()
