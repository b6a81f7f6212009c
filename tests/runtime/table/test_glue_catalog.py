"""The Glue Data Catalog path (``--iceberg-database``): pyiceberg's ``GlueCatalog`` and its S3 file IO against a
moto server over HTTP (pyarrow's C++ S3 client cannot be intercepted in process, DESIGN §10). The table is created
in the Glue database, a batch committed once (a replay finds its batch id), a new version retracted."""

from __future__ import annotations

import contextlib
import datetime
import io
from collections.abc import Iterator

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from runtime.db.embedded import free_port
from runtime.storage.factory import open_store
from runtime.table.catalog import TableLocation
from runtime.table.commit import BatchFiles, IcebergTable

BUCKET, DATABASE = "lake", "mldp_dev"


@pytest.fixture
def moto_endpoint(monkeypatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def staged(store, key: str, source: str, version: int, ids: list[str]) -> None:
    n = len(ids)
    table = pa.table({"id": ids, "source_s3_path": [source] * n, "source_version": pa.array([version] * n, pa.int32()),
                      "event_date": [datetime.date(2024, 1, 5)] * n, "year": pa.array([2024] * n, pa.int32()),
                      "month": pa.array([1] * n, pa.int32()), "day": pa.array([5] * n, pa.int32()),
                      "mode": ["train"] * n})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    store.put_bytes(key, sink.getvalue())


def test_a_batch_is_committed_once_to_a_table_in_the_glue_data_catalog(moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    glue.create_database(DatabaseInput={"Name": DATABASE})  # the workflow construct's
    properties = (("glue.endpoint", moto_endpoint), ("glue.region", "us-east-1"), ("s3.endpoint", moto_endpoint),
                  ("s3.region", "us-east-1"), ("s3.access-key-id", "testing"),
                  ("s3.secret-access-key", "testing"), ("s3.force-virtual-addressing", "false"))
    location = TableLocation(DATABASE, "json_parsed", f"s3://{BUCKET}/curated-data-lake/iceberg", glue=True,
                             properties=properties)
    table = IcebergTable(location, ("year", "month", "day", "mode"))
    store = open_store(f"s3://{BUCKET}", s3_client=s3)
    staged(store, "staged/a.parquet", "s3://raw/a.jsonl", 1, ["1", "2"])
    prefix = table.data_key_prefix(store, "staged/a.parquet")
    assert prefix == f"curated-data-lake/iceberg/{DATABASE}.db/json_parsed/data/"
    final = prefix + "year=2024/month=1/day=5/mode=train/batch-b1-0000.snappy.parquet"
    store.copy("staged/a.parquet", final)
    lock = contextlib.nullcontext
    first = table.commit_batch(BatchFiles("b-1", [f"s3://{BUCKET}/{final}"]), lock)
    assert table.commit_batch(BatchFiles("b-1", [f"s3://{BUCKET}/{final}"]), lock) == first  # the replay
    staged(store, "staged/a2.parquet", "s3://raw/a.jsonl", 2, ["1-new"])
    second = prefix + "year=2024/month=1/day=5/mode=train/batch-b2-0000.snappy.parquet"
    store.copy("staged/a2.parquet", second)
    table.commit_batch(BatchFiles("b-2", [f"s3://{BUCKET}/{second}"], {"s3://raw/a.jsonl": 2}), lock)
    rows = table.load().scan().to_arrow()
    assert sorted(zip(rows["id"].to_pylist(), rows["source_version"].to_pylist(), strict=True)) == [("1-new", 2)]
    parameters = glue.get_table(DatabaseName=DATABASE, Name="json_parsed")["Table"]["Parameters"]
    assert parameters["table_type"].upper() == "ICEBERG" and parameters["metadata_location"].startswith("s3://")
    assert (table.counts.committed, table.counts.already_committed) == (2, 1)
