"""Shared by the ``test_json_to_parquet_workflow_*`` modules: the JsonToParquetWorkflow on a bare stack, and
helpers to read its template.

The test modules load this module as a plugin (``pytest_plugins = ("tests.infra.workflow_helpers",)``), so that its
fixtures are registered once for the test session: each stack below is synthesized once however many modules use it
(a fixture imported into several modules would be built again in each). A module that defines a fixture of the same
name (``default``, ``custom``) uses its own. The helper functions are imported by name, so this module is imported
before pytest loads it as a plugin and could rewrite its asserts: PYTEST_DONT_REWRITE (its one assert carries its own
message) keeps pytest from warning about it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "runtime"


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


def _subs(value: Any) -> Any:
    """Replace ``{"Fn::Sub": "s3://...${AWS::AccountId}..."}`` by its string (asset URLs), recursively."""
    if isinstance(value, list):
        return [_subs(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return value["Fn::Sub"]
        return {k: _subs(v) for k, v in value.items()}
    return value


def _one(template: dict[str, Any], resource_type: str, **properties: Any) -> dict[str, Any]:
    found = [
        r for r in template["Resources"].values()
        if r["Type"] == resource_type and all(r["Properties"].get(k) == v for k, v in properties.items())
    ]
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {len(found)}"
    return found[0]


def _job(template: dict[str, Any], name: str) -> dict[str, Any]:
    return _one(template, "AWS::Glue::Job", Name=name)["Properties"]
