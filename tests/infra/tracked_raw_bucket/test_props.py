"""``TrackedRawBucketProps`` (props.py): invalid props fail with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3

from platform_constructs import TrackedRawBucket, TrackedRawBucketProps

pytestmark = pytest.mark.infra


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"encryption": "AES"}, r"encryption must be one of"),
        ({"bucket_name": "Bad_Name"}, r"bucket_name 'Bad_Name' is not a valid S3 bucket"),
        (
            {"raw_prefix": "raw-json-data"},
            r"raw_prefix 'raw-json-data' must be a non-empty key prefix that ends with",
        ),
        ({"curated_prefix": "/lake/"}, r"curated_prefix '/lake/' must be"),
        ({"staging_prefix": "curated-data-lake/json_parsed_parquet/_tmp/"}, r"overlap"),
        ({"processed_to_glacier_ir_days": 45}, r"processed_to_glacier_ir_days must be 60-90 days .*got 45"),
        (
            {"processed_to_intelligent_tiering_days": 80, "processed_to_glacier_ir_days": 70},
            r"must be greater than processed_to_intelligent_tiering_days",
        ),
        (
            {"processed_to_intelligent_tiering_days": -1},
            r"processed_to_intelligent_tiering_days must be >= 0",
        ),
        ({"glue_temp_expiry_days": 0}, r"glue_temp_expiry_days must be at least 1 day"),
        (
            {"staging_expiry_days": 3},
            r"staging_expiry_days is no longer a prop: batch staging never expires .* set glue_temp_expiry_days",
        ),
        ({"dead_letter_expiry_days": 0}, r"dead_letter_expiry_days must be at least 1 day"),
        (
            {"auto_delete_objects": True},
            r"auto_delete_objects=True requires removal_policy=RemovalPolicy.DESTROY",
        ),
    ],
)
def test_invalid_props_raise_a_helpful_value_error(overrides: dict[str, Any], message: str) -> None:
    stack = Stack(App(), "Invalid")
    with pytest.raises(ValueError, match=message):
        TrackedRawBucket(stack, "Lake", TrackedRawBucketProps(**overrides))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"encryption": "S3_MANAGED"}, "encryption"),
        ({"processed_to_glacier_ir_days": 75}, "processed_to_glacier_ir_days"),
        ({"glue_temp_expiry_days": 1}, "glue_temp_expiry_days"),
        ({"removal_policy": RemovalPolicy.DESTROY}, "removal_policy"),
        ({"bucket_name": "another-lake"}, "bucket_name"),
    ],
)
def test_existing_bucket_refuses_the_props_it_would_ignore(overrides: dict[str, Any], field: str) -> None:
    """Encryption, lifecycle, naming and removal shape a bucket the construct creates: with ``existing_bucket`` they
    would be silently ignored, so they are refused with both names (the prefixes still scope the grants)."""
    stack = Stack(App(), "ExistingAndMore")
    existing = s3.Bucket.from_bucket_name(stack, "Existing", "their-lake")
    message = rf"existing_bucket and {field} are both set: an existing bucket keeps its own"
    with pytest.raises(ValueError, match=message):
        TrackedRawBucket(stack, "Lake", TrackedRawBucketProps(existing_bucket=existing, **overrides))
    TrackedRawBucket(stack, "Prefixed", TrackedRawBucketProps(existing_bucket=existing, raw_prefix="landing/"))
