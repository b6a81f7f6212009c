"""Fixtures of the ``JsonToParquetWorkflow`` tests (this folder and ``glue/``): the workflow on a bare stack.

Session-scoped, so each stack is synthesized once however many modules use it; a module that defines a fixture of
the same name (``default``, ``custom``) uses its own. The template readers (``cfn.one``, ``cfn.job``, ``cfn.subs``)
are in ``tests/infra/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="session")
def cdk() -> Any:
    """aws_cdk modules and the constructs under test (imported once per session)."""
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from platform_constructs.json_to_parquet_workflow import JsonToParquetWorkflow, JsonToParquetWorkflowProps
    from platform_constructs.tracked_raw_bucket import TrackedRawBucket, TrackedRawBucketProps
    from platform_constructs.tracking_database import TrackingDatabase

    class Modules:
        pass

    m = Modules()
    m.App, m.Stack, m.Template = App, Stack, Template
    m.Workflow, m.Props = JsonToParquetWorkflow, JsonToParquetWorkflowProps
    m.Bucket, m.BucketProps, m.Database = TrackedRawBucket, TrackedRawBucketProps, TrackingDatabase
    return m


def _build(cdk: Any, bucket_props: Any = None, **props: Any) -> tuple[Any, Any, dict[str, Any]]:
    stack = cdk.Stack(cdk.App(), "Bare")
    bucket = cdk.Bucket(stack, "Bucket", bucket_props)
    database = cdk.Database(stack, "Db")
    workflow = cdk.Workflow(stack, "Wf", cdk.Props(bucket=bucket, database=database, **props))
    return stack, workflow, cdk.Template.from_stack(stack).to_json()


@pytest.fixture(scope="session")
def default(cdk: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Default props (KMS bucket, created VPC) in environment ``dev``."""
    return _build(cdk, environment_name="dev")


@pytest.fixture(scope="session")
def custom(cdk: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Overridden props: SSE-S3 bucket, exact reference names, bigger workers, prefixes, spec, enum modes."""
    return _build(
        cdk,
        cdk.BucketProps(encryption="S3_MANAGED"),
        environment_name="prod",
        name_suffix="",
        processor_worker_type="G.2X",
        processor_number_of_workers=10,
        processor_timeout_minutes=90,
        backfill_max_concurrent_runs=5,
        backfill_number_of_workers=20,
        lister_max_capacity=1.0,
        schedule="cron(0 * * * ? *)",
        schedule_enabled=False,
        batch_size=5000,
        max_attempts=5,
        lease_seconds=7200,
        drain_minutes=50,
        backfill_drain_minutes=600,
        metrics_namespace="OtherNamespace",
        transform_spec_uri="s3://some-bucket/glue-scripts/spec.json",
        listing_prefixes=("raw-json-data/all_historical_files/", "raw-json-data/2024/"),
        mode_values=("batch", "stream"),
        catalog_database_name="curated",
    )


@pytest.fixture(scope="session")
def build_workflow(cdk: Any) -> Callable[..., tuple[Any, Any, dict[str, Any]]]:
    """``build_workflow(bucket_props=None, **props)``: a workflow on a new bare stack, as ``(stack, workflow,
    template)``."""
    return lambda bucket_props=None, **props: _build(cdk, bucket_props, **props)
