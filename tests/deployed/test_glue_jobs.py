"""The deployed shape: both Glue jobs run from the synthesized template and assets alone, with the argv Glue
passes and (or without) the real ``getResolvedOptions``, in a Python that holds only what Glue provides plus the
bundled code; only the store and the database are swapped. The processor also runs first on an empty database.

One scenario per store: a local directory, and an ``s3://`` bucket on a moto server the job reaches over HTTP.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from runtime.layout import Layout
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from runtime.storage.s3 import S3Store
from tests.deployed.conftest import job_named
from tests.deployed.glue_emulator import run_glue_job
from tests.support.sql import fetch_all

LAYOUT = Layout()
BAD_INPUTS = ["malformed-line-among-good.jsonl", "broken.jsonl.gz", "zero-byte.jsonl"]
MIGRATION_FILES = sorted(p.name for p in (Path(__file__).parents[2] / "runtime/db/migrations").glob("*.sql"))


def _processor_triggers(jobs) -> dict[str, tuple]:
    """trigger name -> (Spark job, the trigger's Arguments), for every trigger that starts a Spark job."""
    return {trigger: (job, arguments) for job in jobs.values() if job.command == "glueetl"
            for trigger, arguments in job.trigger_arguments.items()}


class _LocalTarget:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.store_argument = str(root)
        self.store = LocalStore(root)
        self.env: dict[str, str] = {}

    def objects(self, prefix: str) -> dict[str, bytes]:
        base = self.root / prefix
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


class _S3Target:
    def __init__(self, moto: dict, bucket: str) -> None:
        self.env = moto["env"]
        self.client = boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        self.client.create_bucket(Bucket=bucket)
        self.bucket = bucket
        self.store_argument = f"s3://{bucket}"
        self.store = S3Store(bucket, client=self.client)

    def objects(self, prefix: str) -> dict[str, bytes]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        return {k: self.client.get_object(Bucket=self.bucket, Key=k)["Body"].read() for k in keys}


@pytest.fixture(params=["local-directory+awsglue", "s3-moto+no-awsglue"])
def target(request, tmp_path):
    if request.param.startswith("local"):
        return _LocalTarget(tmp_path / "bucket"), True
    moto = request.getfixturevalue("moto_server")
    return _S3Target(moto, f"deployed-{tmp_path.name.lower().replace('_', '-')[-40:]}"), False


def test_both_jobs_run_from_the_synthesized_assets_with_glues_argv(target, dev_jobs, glue_environments,
                                                                    empty_db_url, tmp_path):
    store, with_awsglue = target
    lister = job_named(dev_jobs, "FileListerAndDbPopulator")
    triggers = _processor_triggers(dev_jobs)
    assert "JsonToParquetAfterListing-dev" in triggers and "JsonToParquetBackfill-dev" in triggers
    swap = {"--store": store.store_argument, "--db-secret-arn": None, "--db-host": None, "--db-port": None,
            "--db-name": None, "--db-iam-user": None, "--db": empty_db_url}
    spark_env = glue_environments[("glueetl", with_awsglue)]
    shell_env = glue_environments[("pythonshell", with_awsglue)]

    # 1. a backfill run before anything else: an empty database gets the whole schema, nothing is claimed
    job, arguments = triggers["JsonToParquetBackfill-dev"]
    first = run_glue_job(job, spark_env, tmp_path / "run-backfill", arguments, replace=swap, extra_env=store.env,
                         shuffle_seed=1)
    assert first.result["batches"] == 0
    applied = fetch_all(empty_db_url, "SELECT version FROM schema_migrations ORDER BY version")
    assert [v for (v,) in applied] == [int(name[:4]) for name in MIGRATION_FILES]

    # 2. the lister (Python 3.9 shell job, bundled wheels installed offline) registers the sample
    expected = generate_sample(store.store, files=4, records_per_file=25, include_bad_inputs=BAD_INPUTS)
    listed = run_glue_job(lister, shell_env, tmp_path / "run-lister", replace=swap, extra_env=store.env,
                          shuffle_seed=2)
    assert listed.result["new"] == len(expected.files)
    run_ids = fetch_all(empty_db_url, "SELECT DISTINCT processing_status FROM file_processing_status")
    assert run_ids == [("PENDING",)]

    # 3. the scheduled processor run (the workflow's trigger Arguments: --drain true) converts everything
    job, arguments = triggers["JsonToParquetAfterListing-dev"]
    converted = run_glue_job(job, spark_env, tmp_path / "run-processor", arguments, replace=swap,
                             extra_env=store.env, shuffle_seed=3)
    glue_run_id = next(converted.argv[i + 1] for i, a in enumerate(converted.argv) if a == "--JOB_RUN_ID")
    assert converted.result["records_good"] == expected.good_records
    assert converted.result["records_bad"] == expected.bad_records
    states = dict(fetch_all(empty_db_url, "SELECT s3_key, processing_status FROM file_processing_status"))
    assert states == expected.files
    recorded_runs = fetch_all(empty_db_url, "SELECT DISTINCT glue_job_run_id FROM processing_batches")
    assert recorded_runs == [(glue_run_id,)]

    curated = store.objects(LAYOUT.curated_prefix)
    rows = sum(pq.read_table(io.BytesIO(data)).num_rows for key, data in curated.items() if key.endswith(".parquet"))
    assert rows == expected.good_records
    dead_objects = {k: v for k, v in store.objects(LAYOUT.dead_letter_prefix).items() if k.endswith(".json")}
    dead = [json.loads(line) for data in dead_objects.values() for line in data.decode().splitlines() if line.strip()]
    assert len(dead) == expected.bad_records
    # what the README says a dead letter carries: these fields, and the batch and file in the path
    assert all(set(record) == {"source_s3_path", "reason", "line", "raw_record"} for record in dead)
    assert all("/batch_id=" in key and "/file_id=" in key for key in dead_objects)
    archived = set(store.objects(LAYOUT.processed_prefix))
    succeeded = {k for k, s in expected.files.items() if s == "SUCCEEDED"}
    assert {LAYOUT.processed_prefix + k[len(LAYOUT.raw_prefix):] for k in succeeded} <= archived
