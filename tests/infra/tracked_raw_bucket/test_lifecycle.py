"""The bucket's lifecycle rules (lifecycle.py): tiers and expiries per prefix, and no rule that expires batch
staging."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra


def test_default_lifecycle_rules(default: Any, cfn: Any) -> None:
    rules = default.data_bucket(cfn)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rules == [
        {
            "Id": "TierProcessedRaw",
            "Prefix": "raw-json-data-processed/",
            "Status": "Enabled",
            "Transitions": [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30}],
        },
        {
            "Id": "ExpireGlueTemporary",
            "Prefix": "curated-data-lake/_staging/_glue_temporary/",
            "Status": "Enabled",
            "ExpirationInDays": 3,
        },
        {
            "Id": "ExpireStagingNoncurrentVersions",
            "Prefix": "curated-data-lake/_staging/",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        },
        {
            "Id": "ExpireRawNoncurrentVersions",
            "Prefix": "raw-json-data/",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 3},
        },
        {
            "Id": "AbortIncompleteMultipartUploads",
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        },
        {
            "Id": "ExpireNoncurrentVersions",
            "Status": "Enabled",
            "ExpiredObjectDeleteMarker": True,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
        },
    ]


def test_overridden_lifecycle_rules(custom: Any, cfn: Any) -> None:
    rules = {r["Id"]: r for r in custom.data_bucket(cfn)["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["TierProcessedRaw"]["Prefix"] == "archive/json/"
    assert rules["TierProcessedRaw"]["Transitions"] == [
        {"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0},
        {"StorageClass": "GLACIER_IR", "TransitionInDays": 75},
    ]
    assert (rules["ExpireGlueTemporary"]["Prefix"], rules["ExpireGlueTemporary"]["ExpirationInDays"]) == (
        "lake-staging/_glue_temporary/",
        2,
    )
    assert rules["ExpireStagingNoncurrentVersions"]["Prefix"] == "lake-staging/"
    assert rules["ExpireDeadLetters"] == {
        "Id": "ExpireDeadLetters",
        "Prefix": "dlq/",
        "Status": "Enabled",
        "ExpirationInDays": 90,
    }
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 10}
    assert "AbortIncompleteMultipartUploads" in rules


def test_raw_noncurrent_versions_expire_soon_after_archiving() -> None:
    """Issue 18 item 9: the versions an archive's delete leaves under the raw prefix expire after
    ``raw_noncurrent_version_expiry_days`` (configurable, at least a day), not after the bucket-wide 30 days."""
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Match, Template

    from platform_constructs import TrackedRawBucket, TrackedRawBucketProps
    from platform_constructs._shared.validation import PropsError

    stack = Stack(App(), "RawNoncurrent")
    TrackedRawBucket(stack, "Lake", TrackedRawBucketProps(raw_prefix="landing/", raw_noncurrent_version_expiry_days=1))
    Template.from_stack(stack).has_resource_properties("AWS::S3::Bucket", {
        "LifecycleConfiguration": {"Rules": Match.array_with([{
            "Id": "ExpireRawNoncurrentVersions", "Prefix": "landing/", "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        }])},
    })
    with pytest.raises(PropsError, match="raw_noncurrent_version_expiry_days"):
        TrackedRawBucketProps(raw_noncurrent_version_expiry_days=0).validate()


@pytest.mark.parametrize("which", ["default", "custom"])
def test_no_lifecycle_rule_expires_current_staging_objects_but_glue_temporary(
    which: str, request: pytest.FixtureRequest, cfn: Any, lifecycle: Any
) -> None:
    """A batch's staging (``<staging_prefix><batch uuid>/``: staged Parquet and ``_MANIFEST.json``) is needed for as
    long as the batch is open, which no lifecycle rule can know: no rule of the data bucket may expire current objects
    under the staging prefix, except in Glue's scratch space. Every rule is checked by its prefix (a rule without one,
    or on a parent folder, covers the staging too). Non-current versions still expire after a day there."""
    built: Any = request.getfixturevalue(which)
    props = built.construct.props
    rules = built.data_bucket(cfn)["Properties"]["LifecycleConfiguration"]["Rules"]
    glue_temp_prefix = f"{props.staging_prefix}_glue_temporary/"
    assert lifecycle.rules_expiring_staging(rules, props.staging_prefix, glue_temp_prefix) == []
    assert props.glue_temp_prefix == glue_temp_prefix
    (glue_temp,) = [r for r in rules if r.get("Prefix") == glue_temp_prefix]
    assert glue_temp == {
        "Id": "ExpireGlueTemporary",
        "Prefix": glue_temp_prefix,
        "Status": "Enabled",
        "ExpirationInDays": props.glue_temp_expiry_days,
    }
    assert {
        "Id": "ExpireStagingNoncurrentVersions",
        "Prefix": props.staging_prefix,
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    } in rules
    assert [(lifecycle.rule_prefix(r), r["AbortIncompleteMultipartUpload"]) for r in rules
            if "AbortIncompleteMultipartUpload" in r] == [
        ("", {"DaysAfterInitiation": props.incomplete_multipart_upload_days})
    ]


@pytest.mark.parametrize(
    ("prefix", "reaches_batch_staging"),
    [
        ("", True),  # a whole-bucket rule
        ("curated-data-lake/", True),  # a parent folder
        ("curated-data-lake/_staging/", True),  # the former ExpireStaging rule
        ("curated-data-lake/_staging/0b5c6a52-7f36-4d0c-9a4e-2b1f3c9d8e7a/", True),
        ("curated-data-lake/_staging/_glue", True),  # also covers "_glueX/"
        ("curated-data-lake/_staging/_glue_temporary/", False),
        ("curated-data-lake/_staging/_glue_temporary/spark/", False),
        ("curated-data-lake/json_parsed_parquet/", False),
        ("curated-data-lake/_stag", True),
    ],
)
def test_staging_check_covers_rules_without_a_prefix_and_on_parent_folders(
    prefix: str, reaches_batch_staging: bool, lifecycle: Any
) -> None:
    staging = "curated-data-lake/_staging/"
    assert lifecycle.reaches(prefix, staging, exempt=f"{staging}_glue_temporary/") is reaches_batch_staging
    rule = {"Id": "R", "Status": "Enabled", "ExpirationInDays": 1, **({"Prefix": prefix} if prefix else {})}
    expected = ["R"] if reaches_batch_staging else []
    assert lifecycle.rules_expiring_staging([rule], staging, f"{staging}_glue_temporary/") == expected
    as_filter = {"Id": "R", "Status": "Enabled", "ExpirationInDays": 1, "Filter": {"Prefix": prefix}}
    assert lifecycle.rules_expiring_staging([as_filter], staging, f"{staging}_glue_temporary/") == expected
    noncurrent_only = {"Id": "R", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}
    assert lifecycle.rules_expiring_staging([noncurrent_only], staging, f"{staging}_glue_temporary/") == []
