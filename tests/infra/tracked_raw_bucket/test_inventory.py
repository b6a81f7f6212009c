"""``TrackedRawBucket.enable_raw_inventory``: one report bucket however often it is asked for, and never on a
bucket the construct does not create (the workflow's ``discovery_mode`` calls it; its template is checked in
``tests/infra/json_to_parquet_workflow/test_discovery.py``)."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from platform_constructs import TrackedRawBucket, TrackedRawBucketProps

pytestmark = pytest.mark.infra


def test_enabling_twice_creates_one_report_bucket():
    construct = TrackedRawBucket(Stack(App(), "Inventory"), "DataLake")
    assert construct.inventory_bucket is None
    first = construct.enable_raw_inventory()
    assert construct.enable_raw_inventory() is first is construct.inventory_bucket
    cfn = construct.bucket.node.default_child
    assert len(cfn.inventory_configurations) == 1


def test_an_existing_bucket_cannot_get_an_inventory():
    stack = Stack(App(), "Existing")
    existing = s3.Bucket.from_bucket_name(stack, "Imported", "some-bucket")
    construct = TrackedRawBucket(stack, "DataLake", TrackedRawBucketProps(existing_bucket=existing))
    with pytest.raises(ValueError, match="existing_bucket"):
        construct.enable_raw_inventory()
