"""``mldp process --table-format iceberg`` against an S3 store (a moto server: pyarrow's C++ S3 client, which
pyiceberg reads and writes through, cannot be intercepted in process, DESIGN §10) with the local ``SqlCatalog`` in
the test's database and local Spark working through its mirror (runtime/jobs/spark_staging.py): the warehouse is
``s3://<bucket>/curated-data-lake/iceberg``, every good record is in the table once, read back through the
catalog from S3, and nothing loose is left under the curated prefix or in the staging."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from platform_contract.table import ICEBERG_WAREHOUSE_PREFIX
from runtime.cli import main
from runtime.jobs.lister import run_lister
from runtime.sample_data import generate_sample
from runtime.storage.factory import open_store
from runtime.table.catalog import TableLocation, endpoint_properties, local_location
from runtime.table.commit import IcebergTable
from runtime.transforms.spec import load_spec
from tests.support.pipeline import LAYOUT, states

#: A bucket of its own: moto's state outlives its server.
BUCKET = "iceberg-s3-store"


def test_the_environments_s3_endpoint_reaches_pyiceberg_as_boto3_reads_it():
    assert endpoint_properties({}) == {}
    assert endpoint_properties({"AWS_ENDPOINT_URL": "http://a:1", "AWS_DEFAULT_REGION": "eu-west-1"}) == {
        "s3.endpoint": "http://a:1", "s3.region": "eu-west-1"}
    assert endpoint_properties({"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "http://s3:2",
                                "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "x"}) == {
        "s3.endpoint": "http://s3:2", "s3.region": "us-west-2"}


@pytest.mark.spark
def test_mldp_process_commits_every_good_record_once_to_a_table_whose_warehouse_is_on_s3(
        moto_endpoint, monkeypatch, db_conn, db_url, spark):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # boto3 and pyarrow's S3 client both read it
    monkeypatch.setattr("runtime.spark.session.get_spark", lambda *a, **k: spark)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    store = open_store(f"s3://{BUCKET}", s3_client=s3)
    expected = generate_sample(store, files=2, records_per_file=6,
                               include_bad_inputs=["malformed-line-among-good.jsonl"])
    run_lister(store, db_conn)
    argv = ["process", "--store", f"s3://{BUCKET}", "--db", db_url, "--table-format", "iceberg", "--no-metrics",
            "--drain"]
    assert main(argv) == 0
    assert states(db_conn) == expected.files

    local = local_location(store, db_url)
    assert local.warehouse == f"s3://{BUCKET}/{ICEBERG_WAREHOUSE_PREFIX.rstrip('/')}"
    location = TableLocation(local.namespace, local.table, local.warehouse, sql_uri=local.sql_uri,
                             properties=(("s3.endpoint", moto_endpoint), ("s3.region", "us-east-1")))
    table = IcebergTable(location, load_spec(None).partition_names).load()
    assert table is not None and table.location().startswith(f"s3://{BUCKET}/{ICEBERG_WAREHOUSE_PREFIX}")
    rows = table.scan().to_arrow()
    pairs = list(zip(rows["id"].to_pylist(), rows["source_s3_path"].to_pylist(), strict=True))
    assert len(pairs) == len(set(pairs)), "a row is in the table twice"
    by_key = Counter(source.split(f"s3://{BUCKET}/", 1)[1] for _id, source in pairs)
    assert dict(by_key) == {k: v for k, v in expected.good_by_file.items() if v}
    keys = [o.key for o in store.list("")]
    assert not [k for k in keys if k.startswith(LAYOUT.curated_prefix)]  # nothing loose beside the table
    assert not [k for k in keys if k.startswith(LAYOUT.staging_prefix)]
    data = [k for k in keys if k.startswith(ICEBERG_WAREHOUSE_PREFIX) and k.endswith(".parquet")
            and "/data/" in k]
    assert data and all("/batch-" in k for k in data)
