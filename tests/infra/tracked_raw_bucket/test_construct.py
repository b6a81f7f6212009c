"""``TrackedRawBucket`` (construct.py) on bare stacks, default and overridden props: encryption, public access,
TLS, access logs, notifications, removal policy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Token

pytestmark = pytest.mark.infra


# --------------------------------------------------------------------------------------------
# Bucket settings
# --------------------------------------------------------------------------------------------
def test_default_bucket_uses_kms_with_bucket_key_and_a_rotating_key(default: Any, cfn: Any) -> None:
    sse = default.data_bucket(cfn)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["BucketKeyEnabled"] is True
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key = default.construct.encryption_key
    assert key is not None
    assert (
        cfn.render(sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
        == "${" + cfn.logical_id(key) + ".Arn}"
    )
    default.template.has_resource(
        "AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}, "DeletionPolicy": "Retain"}
    )


def test_s3_managed_encryption_creates_no_key(custom: Any, cfn: Any) -> None:
    sse = custom.data_bucket(cfn)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert custom.construct.encryption_key is None
    custom.template.resource_count_is("AWS::KMS::Key", 0)
    # No KMS permission is handed out when there is no key.
    for role in custom.roles:
        assert not [
            s for s in custom.statements(cfn, role) if any(a.startswith("kms:") for a in s["Action"])
        ]


@pytest.mark.parametrize("which", ["default", "custom"])
def test_buckets_block_public_access_and_are_versioned(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    built: Any = request.getfixturevalue(which)
    for bucket in (built.data_bucket(cfn), built.log_bucket(cfn)):
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert built.data_bucket(cfn)["Properties"]["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]


@pytest.mark.parametrize("which", ["default", "custom"])
def test_both_bucket_policies_deny_requests_without_tls(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    built: Any = request.getfixturevalue(which)
    buckets = {cfn.logical_id(built.construct.bucket), cfn.logical_id(built.construct.access_log_bucket)}
    denied: set[str] = set()
    for _, policy in cfn.resources(built.template, "AWS::S3::BucketPolicy"):
        bucket_id = policy["Properties"]["Bucket"]["Ref"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                assert statement["Action"] == "s3:*"
                assert statement["Principal"] == {"AWS": "*"}
                assert sorted(cfn.render(statement["Resource"])) == sorted(
                    ["${" + bucket_id + ".Arn}", "${" + bucket_id + ".Arn}/*"]
                )
                denied.add(bucket_id)
    assert denied == buckets


def test_data_bucket_policy_denies_tls_below_1_2(default: Any, cfn: Any) -> None:
    bucket_id = cfn.logical_id(default.construct.bucket)
    conditions = [
        statement.get("Condition")
        for _, policy in cfn.resources(default.template, "AWS::S3::BucketPolicy")
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
    ]
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_access_logs_go_to_a_separate_sse_s3_bucket_that_expires_them(default: Any, cfn: Any) -> None:
    logging = default.data_bucket(cfn)["Properties"]["LoggingConfiguration"]
    assert logging == {
        "DestinationBucketName": {"Ref": cfn.logical_id(default.construct.access_log_bucket)},
        "LogFilePrefix": "data-bucket/",
    }
    log_props = default.log_bucket(cfn)["Properties"]
    assert log_props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert log_props["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "ExpireAccessLogs",
            "Status": "Enabled",
            "ExpirationInDays": 365,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]


def test_log_delivery_is_granted_by_bucket_policy_not_acl(default: Any, cfn: Any) -> None:
    log_id = cfn.logical_id(default.construct.access_log_bucket)
    log_props = default.log_bucket(cfn)["Properties"]
    assert "AccessControl" not in log_props
    assert log_props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (statement,) = [
        cfn.render(st)
        for _, policy in cfn.resources(default.template, "AWS::S3::BucketPolicy")
        if policy["Properties"]["Bucket"] == {"Ref": log_id}
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
        if st["Effect"] == "Allow"
    ]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == "${" + log_id + ".Arn}/data-bucket/*"
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": default.bucket_arn(cfn)}


def test_eventbridge_notifications_are_enabled(default: Any, cfn: Any) -> None:
    notifications = cfn.resources(default.template, "Custom::S3BucketNotifications")
    assert len(notifications) == 1
    props = notifications[0][1]["Properties"]
    assert props["BucketName"] == {"Ref": cfn.logical_id(default.construct.bucket)}
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}


def test_default_removal_policy_retains_buckets(default: Any, cfn: Any) -> None:
    for bucket in (default.data_bucket(cfn), default.log_bucket(cfn)):
        assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    default.template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_destroy_with_auto_delete_and_bucket_name(custom: Any, cfn: Any) -> None:
    data = custom.data_bucket(cfn)
    assert data["DeletionPolicy"] == "Delete"
    assert custom.log_bucket(cfn)["DeletionPolicy"] == "Delete"
    assert data["Properties"]["BucketName"] == "my-team-lake"
    custom.template.resource_count_is("Custom::S3AutoDeleteObjects", 2)


def test_uri_is_the_store_argument(default: Any) -> None:
    assert default.construct.uri.startswith("s3://")
    assert Token.is_unresolved(default.construct.uri)
    assert default.construct.uri_for("glue-scripts/").endswith("/glue-scripts/")
