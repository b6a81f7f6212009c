"""``mldp smoke`` on a stack in the Iceberg format: its check reads the smoke run's rows back through the Glue Data
Catalog (pyiceberg's ``GlueCatalog`` and its S3 file IO against a moto server, as tests/runtime/table/
test_glue_catalog.py does), filtered on the run's own source keys; the clean-up deletes them in one table commit.
The Glue job runs themselves are emulated in test_runner.py (Parquet); here the table is filled as the processor's
commit fills it."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import boto3
import pytest

from runtime.smoke.iceberg import SmokeTable
from runtime.smoke.plan import build_plan
from runtime.smoke.target import SmokeTarget
from runtime.smoke.verify import SmokeBucket
from runtime.storage.factory import open_store
from runtime.table.catalog import TableLocation, open_catalog
from runtime.table.commit import BatchFiles, IcebergTable
from tests.support.iceberg import write_file

#: Names of their own: moto's state outlives its server, and test_glue_catalog creates its bucket and database.
BUCKET, DATABASE = "smoke-lake", "mldp_smoke"
BATCH = "0b0e5a6e-0000-4000-8000-000000000001"
OTHER = "s3://lake/raw-json-data/not-smoke.jsonl"


def glue_location(endpoint: str, table: str) -> TableLocation:
    properties = (("glue.endpoint", endpoint), ("glue.region", "us-east-1"), ("s3.endpoint", endpoint),
                  ("s3.region", "us-east-1"), ("s3.access-key-id", "testing"),
                  ("s3.secret-access-key", "testing"), ("s3.force-virtual-addressing", "false"))
    return TableLocation(DATABASE, table, f"s3://{BUCKET}/curated-data-lake/iceberg", glue=True,
                         properties=properties)


@pytest.fixture
def deployed(moto_endpoint, request):
    """The bucket and the Glue database (moto's state is the process's: each test has a table of its own)."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    with contextlib.suppress(Exception):
        boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1").create_database(
            DatabaseInput={"Name": DATABASE})  # the workflow construct's
    with contextlib.suppress(Exception):
        s3.create_bucket(Bucket=BUCKET)
    return s3, glue_location(moto_endpoint, request.node.name[:40].replace("test_", "t_"))


def commit(store, table: IcebergTable, batch_id: str, rows_by_source: dict[str, int]) -> None:
    """Commit one batch holding ``rows_by_source`` as the processor would (one data file per source, named for the
    batch, in the table's data location)."""
    files = []
    for n, (source, count) in enumerate(sorted(rows_by_source.items())):
        write_file(store, f"staging/{batch_id}/{n}.parquet", source, 1, [f"{source}#{i}" for i in range(count)])
        prefix = table.data_key_prefix(store, f"staging/{batch_id}/{n}.parquet")
        final = f"{prefix}year=2024/month=1/day=5/mode=train/batch-{batch_id}-{n:04d}.snappy.parquet"
        store.copy(f"staging/{batch_id}/{n}.parquet", final)
        files.append(f"s3://{BUCKET}/{final}")
    table.commit_batch(BatchFiles(batch_id, files), contextlib.nullcontext)


def test_smoke_reads_the_runs_rows_through_the_glue_catalog_and_cleans_them_up_in_one_commit(deployed):
    s3, location = deployed
    store = open_store(f"s3://{BUCKET}", s3_client=s3)
    plan = build_plan("raw-json-data/", now=datetime(2026, 12, 6, tzinfo=UTC), token="abc123", records_per_file=3)
    target = SmokeTarget(bucket=BUCKET, lister_job="l", processor_job="p",
                         iceberg_table=location.name, iceberg_warehouse=location.warehouse)
    smoke_table = SmokeTable(target.iceberg_table, target.iceberg_warehouse,
                             catalog_factory=lambda: open_catalog(location))
    bucket = SmokeBucket(store, target, plan, None, smoke_table)
    writer = IcebergTable(location, ("year", "month", "day", "mode"))
    expected = {bucket.url(f.key): f.good_records for f in plan.files if f.good_records}
    commit(store, writer, BATCH, {**expected, OTHER: 2})

    seen = bucket.observe()
    (check,) = [c for c in bucket.checks(seen) if c.name.startswith("Iceberg table")]
    assert check.ok is True, check.detail
    assert seen.batch_ids == [BATCH]  # from the data files' names: the dead-letter and staging checks use them
    assert dict(seen.table.rows_by_source) == expected  # the scan is filtered on the run's sources

    cleanup = bucket.cleanup(seen)
    assert cleanup["table_rows_deleted"] == sum(expected.values())
    assert not any(k.startswith("curated-data-lake/iceberg/") for k in cleanup["deleted_keys"])  # no file by hand
    after = writer.load()
    rest = after.scan().to_arrow()["source_s3_path"].to_pylist()
    assert rest == [OTHER, OTHER]  # another file's rows stay
    assert after.current_snapshot().summary.additional_properties["mldp.smoke-cleanup"] == "true"


def test_missing_rows_or_an_unreadable_table_fail_the_check_naming_why(deployed):
    s3, location = deployed
    store = open_store(f"s3://{BUCKET}", s3_client=s3)
    plan = build_plan("raw-json-data/", now=datetime(2026, 12, 6, tzinfo=UTC), token="def456", records_per_file=3,
                      include_bad_inputs=False)
    target = SmokeTarget(bucket=BUCKET, lister_job="l", processor_job="p", iceberg_table=location.name)
    smoke_table = SmokeTable(target.iceberg_table, catalog_factory=lambda: open_catalog(location))
    bucket = SmokeBucket(store, target, plan, None, smoke_table)
    (check,) = [c for c in bucket.checks(bucket.observe()) if c.name.startswith("Iceberg table")]
    assert check.ok is False and "not readable through the catalog: NoSuchTableError" in check.detail

    first, *others = [f for f in plan.files if f.good_records]
    commit(store, IcebergTable(location, ("year", "month", "day", "mode")), BATCH,
           {bucket.url(f.key): f.good_records for f in others})
    (check,) = [c for c in bucket.checks(bucket.observe()) if c.name.startswith("Iceberg table")]
    assert check.ok is False
    assert check.detail == f"{first.key.rsplit('/', 1)[1]}: 0 rows, expected {first.good_records}"
