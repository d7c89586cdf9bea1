"""Objects on the S3 API (dagster-aws S3Resource with endpoint_url, as against MinIO), against `moto_server`:
round trips, raw filings written by the real asset, and the server killed in the middle of a write.

What "intact" means with moto: moto keeps its objects in memory, so a killed moto forgets everything, which
MinIO (objects on disk) would not. The fault test therefore runs moto with its request journal and restarts
it with the journal replayed: every write the dead server had accepted is back, nothing else. That is the
stand-in for a disk; what the test checks is the product's side: which writes it made before the crash,
that no key holds anything but complete content, and that the retried run finishes without duplicates.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from risk_assets.commands.graph import run_job
from risk_assets.defs.resources import ObjectStoreResource
from risk_assets.storage.objects import S3ObjectStore
from risk_assets.storage.schema import raw_filings
from risk_assets.storage.warehouse import Warehouse
from tests.integration.conftest import BUCKET, production_env, s3_env
from tests.support.servers import MotoServer

REPO = Path(__file__).resolve().parents[2]
SEC_DATA = REPO / "risk_assets" / "data" / "sec"
APPLE, NVIDIA = "sec-0000320193", "sec-0001045810"  # the first two registered partitions

pytestmark = pytest.mark.integration


def bundled_sec_documents(company_id: str) -> dict[str, bytes]:
    """kind -> the bytes the raw_filings asset must store for a company (read here from the data files)."""
    cik = company_id.split("-")[1]
    return {
        kind: gzip.decompress((SEC_DATA / kind / f"CIK{cik}.json.gz").read_bytes())
        for kind in ("companyfacts", "submissions")
        if (SEC_DATA / kind / f"CIK{cik}.json.gz").exists()
    }


def expected_key(prefix: str, company_id: str, kind: str, body: bytes) -> str:
    return f"{prefix}/raw/sec/{company_id}/{kind}/{hashlib.sha256(body).hexdigest()}.json"


def test_objects_round_trip_through_the_s3_resource(moto: MotoServer, monkeypatch):
    s3_env(monkeypatch, moto)
    prefix = f"roundtrip-{os.urandom(4).hex()}"
    store = ObjectStoreResource(url=f"s3://{BUCKET}/{prefix}", endpoint_url=moto.endpoint_url).get()
    assert isinstance(store, S3ObjectStore)
    frame = pd.DataFrame(
        {"Attr1": [i / 3 for i in range(200_000)], "target": [i % 2 for i in range(200_000)]}
    )
    parquet = io.BytesIO()
    frame.to_parquet(parquet, index=False)
    large = parquet.getvalue()
    assert len(large) > 1_000_000

    store.put("frames/training_set.parquet", large, "application/vnd.apache.parquet")
    store.put("raw/sec/x/companyfacts/abc.json", b'{"cik": 1}', "application/json")
    assert store.exists("frames/training_set.parquet")
    assert not store.exists("frames/missing.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(io.BytesIO(store.get("frames/training_set.parquet"))), frame
    )
    assert sorted(store.list()) == ["frames/training_set.parquet", "raw/sec/x/companyfacts/abc.json"]
    assert list(store.list("raw/")) == ["raw/sec/x/companyfacts/abc.json"]
    with pytest.raises(KeyError):
        store.get("raw/nothing-here.json")
    # Really in the bucket, under the prefix, with its content type.
    head = moto.client().head_object(Bucket=BUCKET, Key=f"{prefix}/raw/sec/x/companyfacts/abc.json")
    assert head["ContentType"] == "application/json"
    store.delete("raw/sec/x/companyfacts/abc.json")
    assert list(store.list("raw/")) == []


def test_s3_killed_between_two_objects_of_raw_filings_then_the_retry_completes(tmp_path, monkeypatch):
    with MotoServer(tmp_path / "moto", journal=True) as moto:
        moto.create_bucket(BUCKET)
        production_env(
            monkeypatch,
            tmp_path / "home",
            moto=moto,
            prefix="objects",
            warehouse_url=f"sqlite:///{tmp_path / 'warehouse.db'}",
        )
        assert run_job("refresh_universe").success
        assert run_job("ingest_filings", partition_keys=[APPLE], assets=["raw_filings"]).success
        apple_before = moto.objects(BUCKET, f"objects/raw/sec/{APPLE}/")
        assert len(apple_before) == len(bundled_sec_documents(APPLE)) == 2

        # The server dies just before the second of NVIDIA's two documents is sent.
        real_put = S3ObjectStore.put
        nvidia_puts: list[str] = []

        def put_with_crash(self, key, data, content_type="application/octet-stream"):
            if f"/{NVIDIA}/" in key:
                nvidia_puts.append(key)
                if len(nvidia_puts) == 2:
                    moto.kill()
            return real_put(self, key, data, content_type)

        monkeypatch.setattr(S3ObjectStore, "put", put_with_crash)
        crashed = run_job("ingest_filings", partition_keys=[APPLE, NVIDIA], assets=["raw_filings"])
        monkeypatch.setattr(S3ObjectStore, "put", real_put)
        assert not crashed.success
        assert any("raw_filings" in step for step in crashed.failed_steps)
        assert len(nvidia_puts) == 2

        # Restarted with what it had accepted: Apple's objects byte for byte, NVIDIA's first only.
        moto.start(replay=True)
        assert moto.objects(BUCKET, f"objects/raw/sec/{APPLE}/") == apple_before
        nvidia_stored = moto.objects(BUCKET, f"objects/raw/sec/{NVIDIA}/")
        assert list(nvidia_stored) == [f"objects/{nvidia_puts[0]}"]
        for key, body in nvidia_stored.items():  # nothing but complete content under a final key
            assert key.endswith(f"/{hashlib.sha256(body).hexdigest()}.json")
        warehouse = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
        try:
            # NVIDIA's index rows are written after all its objects, in one transaction: none yet.
            assert warehouse.count("raw_filings", where={"company_id": NVIDIA}) == 0
            assert warehouse.count("raw_filings", where={"company_id": APPLE}) == 2

            # The retried run completes: each document once, in the index and in the bucket.
            assert run_job("ingest_filings", partition_keys=[APPLE, NVIDIA], assets=["raw_filings"]).success
            index = warehouse.read("raw_filings", order_by=["company_id", "kind"])
        finally:
            warehouse.dispose()
        stored = moto.objects(BUCKET, "objects/raw/")
        expected = {
            expected_key("objects", company_id, kind, body): body
            for company_id in (APPLE, NVIDIA)
            for kind, body in bundled_sec_documents(company_id).items()
        }
        assert stored == expected
        assert len(index) == 4
        assert not index.duplicated(subset=[c.name for c in raw_filings.primary_key.columns]).any()
        assert {f"objects/{key}" for key in index["object_key"]} == set(expected)
        assert list(index["size_bytes"]) == [len(expected[f"objects/{key}"]) for key in index["object_key"]]


def start_cut_upload(moto: MotoServer, key: str, size: int = 4_000_000) -> http.client.HTTPConnection:
    """A PUT announcing ``size`` bytes of which only half are sent."""
    body = os.urandom(size)
    connection = http.client.HTTPConnection("127.0.0.1", moto.port, timeout=10)
    connection.putrequest("PUT", f"/{BUCKET}/{key}")
    connection.putheader("Content-Length", str(size))
    connection.putheader("Content-Type", "application/octet-stream")
    connection.endheaders()
    connection.send(body[: size // 2])
    return connection


def test_an_upload_whose_sender_dies_mid_body_leaves_nothing_under_its_key(tmp_path):
    """The property the design leans on: an S3 PUT is all or nothing. A run worker killed mid-upload.

    On a moto without its journal: with the recorder on, moto (not S3) stores the short body it read."""
    with MotoServer(tmp_path / "moto", journal=False) as moto:
        moto.create_bucket(BUCKET)
        uploader = start_cut_upload(moto, "objects/raw/uploader-died.bin")
        uploader.sock.close()
        uploader.close()
        moto.client().list_objects_v2(Bucket=BUCKET)  # the server has handled the cut request by now
        assert moto.objects(BUCKET, "objects/") == {}
        assert re.search(r"PUT /riskgraph/objects/raw/uploader-died\.bin HTTP/1\.1\S*\" 400", moto.log_tail())


def test_an_upload_whose_server_dies_mid_body_leaves_nothing_under_its_key(tmp_path):
    with MotoServer(tmp_path / "moto", journal=True) as moto:
        moto.create_bucket(BUCKET)
        moto.client().put_object(Bucket=BUCKET, Key="objects/raw/before.json", Body=b'{"complete": true}')
        uploader = start_cut_upload(moto, "objects/raw/server-died.bin")
        moto.kill()
        uploader.close()
        moto.start(replay=True)
        assert moto.objects(BUCKET, "objects/") == {"objects/raw/before.json": b'{"complete": true}'}
