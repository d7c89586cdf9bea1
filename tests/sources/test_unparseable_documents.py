"""A company whose stored document cannot be parsed (a truncated companyfacts JSON) fails the statements
asset's ERROR-severity check in the run, instead of a warning and a green run, and its stored statements stay."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from pathlib import Path

import dagster as dg
import pytest

from risk_assets.defs.partitions import company_partitions
from risk_assets.defs.resources import ObjectStoreResource, WarehouseResource
from risk_assets.defs.statements.assets import statements
from risk_assets.defs.statements.checks import accounting_identity_holds, documents_parse
from risk_assets.storage.objects import open_object_store
from risk_assets.storage.warehouse import Warehouse

APPLE = "sec-0000320193"
FACTS = Path(__file__).resolve().parents[2] / "risk_assets/data/sec/companyfacts/CIK0000320193.json.gz"


@pytest.fixture
def stores(tmp_path: Path):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    warehouse.create_schema()
    objects_url = (tmp_path / "objects").as_uri()
    yield warehouse, open_object_store(objects_url), objects_url
    warehouse.dispose()


def _store_document(warehouse, objects, body: bytes, fetched_at: dt.datetime) -> None:
    digest = hashlib.sha256(body).hexdigest()
    key = objects.put(f"raw/sec/{APPLE}/companyfacts/{digest}.json", body, "application/json")
    warehouse.upsert(
        "raw_filings",
        [
            {
                "company_id": APPLE,
                "source": "sec",
                "kind": "companyfacts",
                "sha256": digest,
                "object_key": key,
                "content_type": "application/json",
                "size_bytes": len(body),
                "fetched_at": fetched_at,
            }
        ],
    )


def _materialize(warehouse: Warehouse, objects_url: str) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(company_partitions.name, [APPLE])
    return dg.materialize(
        [statements, accounting_identity_holds, documents_parse],
        partition_key=APPLE,
        instance=instance,
        resources={
            "warehouse": WarehouseResource(url=str(warehouse.engine.url.render_as_string(False))),
            "object_store": ObjectStoreResource(url=objects_url),
        },
        raise_on_error=False,
    )


def _evaluation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [found] = [e for e in result.get_asset_check_evaluations() if e.check_name == "documents_parse"]
    return found


def test_a_truncated_companyfacts_fails_the_check_and_keeps_the_stored_statements(stores) -> None:
    warehouse, objects, objects_url = stores
    facts = gzip.decompress(FACTS.read_bytes())
    _store_document(warehouse, objects, facts, dt.datetime(2024, 1, 1))
    first = _materialize(warehouse, objects_url)
    assert first.success and _evaluation(first).passed
    stored = warehouse.count("statements")
    rows_refused = warehouse.read("rejected_records")  # rows validate_statements refused in a whole document
    assert stored > 0 and not rows_refused["reason"].str.startswith("unparseable:").any()

    _store_document(
        warehouse, objects, facts[: len(facts) // 2], dt.datetime(2024, 2, 1)
    )  # a cut-off download
    second = _materialize(warehouse, objects_url)
    evaluation = _evaluation(second)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["unparseable"].value == 1
    assert (
        APPLE in evaluation.metadata["documents"].value
        and "sec:companyfacts" in evaluation.metadata["documents"].value
    )
    assert warehouse.count("statements") == stored  # not replaced by nothing
    rejected = warehouse.read("rejected_records")
    assert rejected["reason"].str.startswith("unparseable:").tolist() == [True]

    _store_document(warehouse, objects, facts, dt.datetime(2024, 3, 1))  # fetched again, whole
    third = _materialize(warehouse, objects_url)
    assert third.success and _evaluation(third).passed
    assert warehouse.read("rejected_records")["reason"].tolist() == rows_refused["reason"].tolist()
