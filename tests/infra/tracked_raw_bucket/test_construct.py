"""Assertion tests of ``TrackedRawBucket`` on bare stacks, with default and overridden props."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from platform_constructs import TrackedRawBucket, TrackedRawBucketProps
from platform_constructs._shared.removal_policy import DESTROY_CONTEXT_KEY

pytestmark = pytest.mark.infra

WRITE_ACTIONS = {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:DeleteObjectVersion"}


@dataclass
class Built:
    """A synthesized bare stack with one TrackedRawBucket and one role per grant."""

    stack: Stack
    template: Template
    construct: TrackedRawBucket
    roles: dict[str, iam.Role]


def _build(props: TrackedRawBucketProps | None, context: dict[str, Any] | None = None) -> Built:
    stack = Stack(App(context=context), "BucketStack")
    construct = TrackedRawBucket(stack, "Lake", props)
    roles: dict[str, iam.Role] = {}
    for name in ("lister", "processor", "read_curated", "read_scripts", "read_dead_letter", "write_raw"):
        role = iam.Role(stack, f"{name}Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
        getattr(construct, f"grant_{name}")(role)
        roles[name] = role
    return Built(stack, Template.from_stack(stack), construct, roles)


@pytest.fixture(scope="module")
def default() -> Built:
    return _build(None)


CUSTOM_PROPS = TrackedRawBucketProps(
    bucket_name="my-team-lake",
    encryption="S3_MANAGED",
    raw_prefix="landing/json/",
    processed_prefix="archive/json/",
    curated_prefix="lake/events/",
    staging_prefix="lake-staging/",
    dead_letter_prefix="dlq/",
    scripts_prefix="code/",
    processed_to_intelligent_tiering_days=0,
    processed_to_glacier_ir_days=75,
    glue_temp_expiry_days=2,
    dead_letter_expiry_days=90,
    noncurrent_version_expiry_days=10,
    removal_policy=RemovalPolicy.DESTROY,
    auto_delete_objects=True,
)


@pytest.fixture(scope="module")
def custom() -> Built:
    """``CUSTOM_PROPS`` in an app that allows DESTROY (the removal-policy guard's context key)."""
    return _build(CUSTOM_PROPS, {DESTROY_CONTEXT_KEY: True})


def _data_bucket(built: Built, cfn: Any) -> dict[str, Any]:
    return built.template.to_json()["Resources"][cfn.logical_id(built.construct.bucket)]


def _log_bucket(built: Built, cfn: Any) -> dict[str, Any]:
    assert built.construct.access_log_bucket is not None
    return built.template.to_json()["Resources"][cfn.logical_id(built.construct.access_log_bucket)]


def _bucket_arn(built: Built, cfn: Any) -> str:
    return "${" + cfn.logical_id(built.construct.bucket) + ".Arn}"


def _statements(built: Built, cfn: Any, role: str) -> list[dict[str, Any]]:
    return cfn.role_statements(built.template, built.roles[role])


def _s3_statements(built: Built, cfn: Any, role: str) -> set[tuple[tuple[str, ...], tuple[str, ...], str]]:
    """(sorted actions, sorted resources, repr(condition)) of the role's S3 statements."""
    return {
        (tuple(sorted(s["Action"])), tuple(sorted(s["Resource"])), repr(s["Condition"]))
        for s in _statements(built, cfn, role)
        if all(a.startswith("s3:") for a in s["Action"])
    }


def _list(arn: str, *prefixes: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    patterns: list[str] = []
    for prefix in prefixes:
        patterns += [prefix.rstrip("/"), f"{prefix}*"]
    return (("s3:ListBucket",), (arn,), repr({"StringLike": {"s3:prefix": patterns}}))


def _list_bucket(arn: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """``s3:ListBucket`` on the bucket without any condition (what makes S3 answer 404 for a missing key)."""
    return (("s3:ListBucket",), (arn,), repr({}))


def _objects(actions: list[str], arn: str, *prefixes: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    return (tuple(sorted(actions)), tuple(sorted(f"{arn}/{p}*" for p in prefixes)), repr({}))


LOCATION = ("s3:GetBucketLocation",)
MULTIPART = ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]


# --------------------------------------------------------------------------------------------
# Bucket settings
# --------------------------------------------------------------------------------------------
def test_default_bucket_uses_kms_with_bucket_key_and_a_rotating_key(default: Built, cfn: Any) -> None:
    sse = _data_bucket(default, cfn)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
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


def test_s3_managed_encryption_creates_no_key(custom: Built, cfn: Any) -> None:
    sse = _data_bucket(custom, cfn)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert custom.construct.encryption_key is None
    custom.template.resource_count_is("AWS::KMS::Key", 0)
    # No KMS permission is handed out when there is no key.
    for role in custom.roles:
        assert not [
            s for s in _statements(custom, cfn, role) if any(a.startswith("kms:") for a in s["Action"])
        ]


@pytest.mark.parametrize("which", ["default", "custom"])
def test_buckets_block_public_access_and_are_versioned(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    built: Built = request.getfixturevalue(which)
    for bucket in (_data_bucket(built, cfn), _log_bucket(built, cfn)):
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert _data_bucket(built, cfn)["Properties"]["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]


@pytest.mark.parametrize("which", ["default", "custom"])
def test_both_bucket_policies_deny_requests_without_tls(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    built: Built = request.getfixturevalue(which)
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


def test_data_bucket_policy_denies_tls_below_1_2(default: Built, cfn: Any) -> None:
    bucket_id = cfn.logical_id(default.construct.bucket)
    conditions = [
        statement.get("Condition")
        for _, policy in cfn.resources(default.template, "AWS::S3::BucketPolicy")
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
    ]
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_access_logs_go_to_a_separate_sse_s3_bucket_that_expires_them(default: Built, cfn: Any) -> None:
    logging = _data_bucket(default, cfn)["Properties"]["LoggingConfiguration"]
    assert logging == {
        "DestinationBucketName": {"Ref": cfn.logical_id(default.construct.access_log_bucket)},
        "LogFilePrefix": "data-bucket/",
    }
    log_props = _log_bucket(default, cfn)["Properties"]
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


def test_log_delivery_is_granted_by_bucket_policy_not_acl(default: Built, cfn: Any) -> None:
    log_id = cfn.logical_id(default.construct.access_log_bucket)
    log_props = _log_bucket(default, cfn)["Properties"]
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
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": _bucket_arn(default, cfn)}


def test_default_lifecycle_rules(default: Built, cfn: Any) -> None:
    rules = _data_bucket(default, cfn)["Properties"]["LifecycleConfiguration"]["Rules"]
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


def test_overridden_lifecycle_rules(custom: Built, cfn: Any) -> None:
    rules = {r["Id"]: r for r in _data_bucket(custom, cfn)["Properties"]["LifecycleConfiguration"]["Rules"]}
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


@pytest.mark.parametrize("which", ["default", "custom"])
def test_no_lifecycle_rule_expires_current_staging_objects_but_glue_temporary(
    which: str, request: pytest.FixtureRequest, cfn: Any, lifecycle: Any
) -> None:
    """A batch's staging (``<staging_prefix><batch uuid>/``: staged Parquet and ``_MANIFEST.json``) is needed for as
    long as the batch is open, which no lifecycle rule can know: no rule of the data bucket may expire current objects
    under the staging prefix, except in Glue's scratch space. Every rule is checked by its prefix (a rule without one,
    or on a parent folder, covers the staging too). Non-current versions still expire after a day there."""
    built: Built = request.getfixturevalue(which)
    props = built.construct.props
    rules = _data_bucket(built, cfn)["Properties"]["LifecycleConfiguration"]["Rules"]
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


def test_eventbridge_notifications_are_enabled(default: Built, cfn: Any) -> None:
    notifications = cfn.resources(default.template, "Custom::S3BucketNotifications")
    assert len(notifications) == 1
    props = notifications[0][1]["Properties"]
    assert props["BucketName"] == {"Ref": cfn.logical_id(default.construct.bucket)}
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}


def test_default_removal_policy_retains_buckets(default: Built, cfn: Any) -> None:
    for bucket in (_data_bucket(default, cfn), _log_bucket(default, cfn)):
        assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    default.template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_destroy_with_auto_delete_and_bucket_name(custom: Built, cfn: Any) -> None:
    data = _data_bucket(custom, cfn)
    assert data["DeletionPolicy"] == "Delete"
    assert _log_bucket(custom, cfn)["DeletionPolicy"] == "Delete"
    assert data["Properties"]["BucketName"] == "my-team-lake"
    custom.template.resource_count_is("Custom::S3AutoDeleteObjects", 2)


def test_uri_is_the_store_argument(default: Built) -> None:
    assert default.construct.uri.startswith("s3://")
    assert Token.is_unresolved(default.construct.uri)
    assert default.construct.uri_for("glue-scripts/").endswith("/glue-scripts/")


# --------------------------------------------------------------------------------------------
# Grants
# --------------------------------------------------------------------------------------------
def test_lister_may_only_list_the_raw_prefix_and_read_the_location(default: Built, cfn: Any) -> None:
    arn = _bucket_arn(default, cfn)
    assert _s3_statements(default, cfn, "lister") == {
        (LOCATION, (arn,), repr({})),
        _list(arn, "raw-json-data/"),
    }
    assert all(a.startswith("s3:") for s in _statements(default, cfn, "lister") for a in s["Action"])


def test_processor_grants_are_scoped_per_prefix(default: Built, cfn: Any) -> None:
    arn = _bucket_arn(default, cfn)
    assert _s3_statements(default, cfn, "processor") == {
        (LOCATION, (arn,), repr({})),
        _list_bucket(arn),
        _objects(["s3:GetObject", "s3:DeleteObject"], arn, "raw-json-data/"),
        _objects(["s3:GetObject", "s3:PutObject", *MULTIPART], arn, "raw-json-data-processed/"),
        _objects(
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", *MULTIPART],
            arn,
            "curated-data-lake/_staging/",
            "curated-data-lake/json_parsed_parquet/",
            "error-data-lake/json_malformed_records/",
        ),
    }


@pytest.mark.parametrize("which", ["default", "custom"])
def test_processor_lists_the_bucket_without_a_prefix_condition_so_missing_keys_are_404(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    """S3 answers a GET/HEAD of a missing key 404 only to a caller with s3:ListBucket on the bucket (403 otherwise),
    and a GET/HEAD has no s3:prefix: the processor's grant must be unconditioned, and no conditioned one remains."""
    built: Built = request.getfixturevalue(which)
    listing = [s for s in _statements(built, cfn, "processor") if "s3:ListBucket" in s["Action"]]
    assert listing == [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [_bucket_arn(built, cfn)], "Condition": {}}
    ]


def test_only_the_processor_lists_the_whole_bucket(default: Built, cfn: Any) -> None:
    """The lister only lists the raw prefix (never reads a key), and the read-only grants keep their prefix
    conditions: the unconditioned s3:ListBucket is the processor's alone."""
    arn = _bucket_arn(default, cfn)
    for role in default.roles:
        for statement in _statements(default, cfn, role):
            if "s3:ListBucket" in statement["Action"] and not statement["Condition"]:
                assert role == "processor", f"{role} lists the whole bucket"
                assert statement["Resource"] == [arn]
    assert _list(arn, "raw-json-data/") in _s3_statements(default, cfn, "lister")


def test_processor_may_use_the_bucket_key(default: Built, cfn: Any) -> None:
    kms = [
        s for s in _statements(default, cfn, "processor") if any(a.startswith("kms:") for a in s["Action"])
    ]
    assert len(kms) == 1
    assert kms[0]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms[0]["Resource"] == ["${" + cfn.logical_id(default.construct.encryption_key) + ".Arn}"]


def test_read_grants_are_read_only_and_prefix_scoped(default: Built, cfn: Any) -> None:
    arn = _bucket_arn(default, cfn)
    assert _s3_statements(default, cfn, "read_curated") == {
        (LOCATION, (arn,), repr({})),
        _list(arn, "curated-data-lake/json_parsed_parquet/"),
        _objects(["s3:GetObject"], arn, "curated-data-lake/json_parsed_parquet/"),
    }
    assert _s3_statements(default, cfn, "read_scripts") == {
        _list(arn, "glue-scripts/"),
        _objects(["s3:GetObject"], arn, "glue-scripts/"),
    }
    assert _s3_statements(default, cfn, "read_dead_letter") == {
        _list(arn, "error-data-lake/json_malformed_records/"),
        _objects(["s3:GetObject"], arn, "error-data-lake/json_malformed_records/"),
    }
    for role in ("read_curated", "read_scripts", "read_dead_letter"):
        kms = [s for s in _statements(default, cfn, role) if any(a.startswith("kms:") for a in s["Action"])]
        assert [s["Action"] for s in kms] == [["kms:Decrypt"]]


def test_readers_that_look_up_missing_keys_may_list_the_whole_bucket(cfn: Any) -> None:
    """``list_whole_bucket=True`` (Spark, pyarrow: a missing key must be a 404, not a 403) makes the listing
    unconditioned and changes nothing else: objects are still read under their prefix only."""
    stack = Stack(App(), "SparkReaders")
    lake = TrackedRawBucket(stack, "Lake", None)
    roles = {}
    for name in ("read_curated", "read_dead_letter"):
        roles[name] = iam.Role(stack, f"{name}Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
        getattr(lake, f"grant_{name}")(roles[name], list_whole_bucket=True)
    built = Built(stack, Template.from_stack(stack), lake, roles)
    arn = _bucket_arn(built, cfn)
    assert _s3_statements(built, cfn, "read_curated") == {
        (LOCATION, (arn,), repr({})),
        _list_bucket(arn),
        _objects(["s3:GetObject"], arn, "curated-data-lake/json_parsed_parquet/"),
    }
    assert _s3_statements(built, cfn, "read_dead_letter") == {
        _list_bucket(arn),
        _objects(["s3:GetObject"], arn, "error-data-lake/json_malformed_records/"),
    }


def test_raw_writer_may_only_put_under_the_raw_prefix(default: Built, cfn: Any) -> None:
    arn = _bucket_arn(default, cfn)
    assert _s3_statements(default, cfn, "write_raw") == {
        _objects(["s3:PutObject", *MULTIPART], arn, "raw-json-data/"),
    }


@pytest.mark.parametrize("which", ["default", "custom"])
def test_no_grant_uses_wildcard_actions_or_writes_the_whole_bucket(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    built: Built = request.getfixturevalue(which)
    arn = _bucket_arn(built, cfn)
    checked = 0
    for role in built.roles:
        for statement in _statements(built, cfn, role):
            checked += 1
            assert "s3:*" not in statement["Action"] and "*" not in statement["Action"]
            for resource in statement["Resource"]:
                assert resource != f"{arn}/*", f"{role} has a whole-bucket object resource"
                assert resource != "*" or not any(a.startswith("s3:") for a in statement["Action"])
                if set(statement["Action"]) & WRITE_ACTIONS:
                    assert resource.startswith(f"{arn}/") and resource.endswith("/*")
            if "s3:ListBucket" in statement["Action"] and role != "processor":  # the processor's: see above
                assert statement["Condition"]["StringLike"]["s3:prefix"], f"{role} lists the whole bucket"
    assert checked >= 15


def test_custom_prefixes_drive_the_grants(custom: Built, cfn: Any) -> None:
    arn = _bucket_arn(custom, cfn)
    assert _s3_statements(custom, cfn, "lister") == {
        (LOCATION, (arn,), repr({})),
        _list(arn, "landing/json/"),
    }
    resources = {r for s in _statements(custom, cfn, "processor") for r in s["Resource"]}
    assert resources == {
        arn,
        f"{arn}/landing/json/*",
        f"{arn}/archive/json/*",
        f"{arn}/lake-staging/*",
        f"{arn}/lake/events/*",
        f"{arn}/dlq/*",
    }


def test_existing_bucket_gets_grants_only(cfn: Any) -> None:
    stack = Stack(App(), "ExistingStack")
    existing = s3.Bucket.from_bucket_name(stack, "Existing", "their-lake")
    construct = TrackedRawBucket(stack, "Lake", TrackedRawBucketProps(existing_bucket=existing))
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    construct.grant_lister(role)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::S3::Bucket", 0)
    assert construct.bucket is existing
    assert construct.access_log_bucket is None
    resources = {r for s in cfn.role_statements(template, role) for r in s["Resource"]}
    assert resources == {"arn:${AWS::Partition}:s3:::their-lake"}


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


@pytest.mark.parametrize("encryption", ["KMS", "S3_MANAGED"])
def test_returned_grants_cover_every_statement_including_the_bucket_key(encryption: str, cfn: Any) -> None:
    """Each ``grant_*`` returns one ``iam.Grant`` whose statements are all it added to the role: the KMS statement
    on the bucket key included (read grants decrypt, writing grants also generate data keys)."""
    stack = Stack(App(), "GrantStack")
    construct = TrackedRawBucket(stack, "Lake", TrackedRawBucketProps(encryption=encryption))
    decrypt, write = {"kms:Decrypt"}, {"kms:Decrypt", "kms:GenerateDataKey"}
    key_actions = {"lister": set(), "processor": write, "read_curated": decrypt, "read_scripts": decrypt,
                   "read_dead_letter": decrypt, "write_raw": write}
    grants: dict[str, tuple[iam.Role, iam.Grant]] = {}
    for name in key_actions:
        role = iam.Role(stack, f"{name}Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
        grants[name] = (role, getattr(construct, f"grant_{name}")(role))
    template = Template.from_stack(stack)
    for name, (role, grant) in grants.items():
        assert grant.success
        actions = {a for statement in grant.principal_statements for a in statement.actions}
        assert {a for a in actions if a.startswith("kms:")} == (key_actions[name] if encryption == "KMS" else set())
        assert len(grant.principal_statements) == len(cfn.role_statements(template, role)), name
