"""The Glue Data Catalog path (``--iceberg-database``): pyiceberg's ``GlueCatalog`` and its S3 file IO against a
moto server over HTTP (pyarrow's C++ S3 client cannot be intercepted in process, DESIGN §10). The table is created
in the Glue database, a batch committed once (a replay finds its batch id), a new version retracted."""

from __future__ import annotations

import contextlib

import boto3

from runtime.storage.factory import open_store
from runtime.table.catalog import TableLocation
from runtime.table.commit import BatchFiles, IcebergTable
from tests.support.iceberg import write_file

BUCKET, DATABASE = "lake", "mldp_dev"


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
    write_file(store, "staged/a.parquet", "s3://raw/a.jsonl", 1, ["1", "2"])
    prefix = table.data_key_prefix(store, "staged/a.parquet")
    assert prefix == f"curated-data-lake/iceberg/{DATABASE}.db/json_parsed/data/"
    final = prefix + "year=2024/month=1/day=5/mode=train/batch-b1-0000.snappy.parquet"
    store.copy("staged/a.parquet", final)
    lock = contextlib.nullcontext
    first = table.commit_batch(BatchFiles("b-1", [f"s3://{BUCKET}/{final}"]), lock)
    assert table.commit_batch(BatchFiles("b-1", [f"s3://{BUCKET}/{final}"]), lock) == first  # the replay
    write_file(store, "staged/a2.parquet", "s3://raw/a.jsonl", 2, ["1-new"])
    second = prefix + "year=2024/month=1/day=5/mode=train/batch-b2-0000.snappy.parquet"
    store.copy("staged/a2.parquet", second)
    table.commit_batch(BatchFiles("b-2", [f"s3://{BUCKET}/{second}"], {"s3://raw/a.jsonl": 2}), lock)
    rows = table.load().scan().to_arrow()
    assert sorted(zip(rows["id"].to_pylist(), rows["source_version"].to_pylist(), strict=True)) == [("1-new", 2)]
    parameters = glue.get_table(DatabaseName=DATABASE, Name="json_parsed")["Table"]["Parameters"]
    assert parameters["table_type"].upper() == "ICEBERG" and parameters["metadata_location"].startswith("s3://")
    assert (table.counts.committed, table.counts.already_committed) == (2, 1)
