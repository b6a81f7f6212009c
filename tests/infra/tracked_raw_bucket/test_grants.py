"""The bucket's prefix-scoped grants (grants.py): what each ``grant_*`` allows, on which prefix, and nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from platform_constructs import TrackedRawBucket, TrackedRawBucketProps

pytestmark = pytest.mark.infra


WRITE_ACTIONS = {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:DeleteObjectVersion"}


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
# Grants
# --------------------------------------------------------------------------------------------
def test_lister_may_only_list_the_raw_prefix_and_read_the_location(default: Any, cfn: Any) -> None:
    arn = default.bucket_arn(cfn)
    assert default.s3_statements(cfn, "lister") == {
        (LOCATION, (arn,), repr({})),
        _list(arn, "raw-json-data/"),
    }
    assert all(a.startswith("s3:") for s in default.statements(cfn, "lister") for a in s["Action"])


def test_processor_grants_are_scoped_per_prefix(default: Any, cfn: Any) -> None:
    arn = default.bucket_arn(cfn)
    assert default.s3_statements(cfn, "processor") == {
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
    built: Any = request.getfixturevalue(which)
    listing = [s for s in built.statements(cfn, "processor") if "s3:ListBucket" in s["Action"]]
    assert listing == [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [built.bucket_arn(cfn)], "Condition": {}}
    ]


def test_only_the_processor_lists_the_whole_bucket(default: Any, cfn: Any) -> None:
    """The lister only lists the raw prefix (never reads a key), and the read-only grants keep their prefix
    conditions: the unconditioned s3:ListBucket is the processor's alone."""
    arn = default.bucket_arn(cfn)
    for role in default.roles:
        for statement in default.statements(cfn, role):
            if "s3:ListBucket" in statement["Action"] and not statement["Condition"]:
                assert role == "processor", f"{role} lists the whole bucket"
                assert statement["Resource"] == [arn]
    assert _list(arn, "raw-json-data/") in default.s3_statements(cfn, "lister")


def test_processor_may_use_the_bucket_key(default: Any, cfn: Any) -> None:
    kms = [
        s for s in default.statements(cfn, "processor") if any(a.startswith("kms:") for a in s["Action"])
    ]
    assert len(kms) == 1
    assert kms[0]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms[0]["Resource"] == ["${" + cfn.logical_id(default.construct.encryption_key) + ".Arn}"]


def test_read_grants_are_read_only_and_prefix_scoped(default: Any, cfn: Any) -> None:
    arn = default.bucket_arn(cfn)
    assert default.s3_statements(cfn, "read_curated") == {
        (LOCATION, (arn,), repr({})),
        _list(arn, "curated-data-lake/json_parsed_parquet/"),
        _objects(["s3:GetObject"], arn, "curated-data-lake/json_parsed_parquet/"),
    }
    assert default.s3_statements(cfn, "read_scripts") == {
        _list(arn, "glue-scripts/"),
        _objects(["s3:GetObject"], arn, "glue-scripts/"),
    }
    assert default.s3_statements(cfn, "read_dead_letter") == {
        _list(arn, "error-data-lake/json_malformed_records/"),
        _objects(["s3:GetObject"], arn, "error-data-lake/json_malformed_records/"),
    }
    for role in ("read_curated", "read_scripts", "read_dead_letter"):
        kms = [s for s in default.statements(cfn, role) if any(a.startswith("kms:") for a in s["Action"])]
        assert [s["Action"] for s in kms] == [["kms:Decrypt"]]


def test_readers_that_look_up_missing_keys_may_list_the_whole_bucket(cfn: Any, built_type: Any) -> None:
    """``list_whole_bucket=True`` (Spark, pyarrow: a missing key must be a 404, not a 403) makes the listing
    unconditioned and changes nothing else: objects are still read under their prefix only."""
    stack = Stack(App(), "SparkReaders")
    lake = TrackedRawBucket(stack, "Lake", None)
    roles = {}
    for name in ("read_curated", "read_dead_letter"):
        roles[name] = iam.Role(stack, f"{name}Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
        getattr(lake, f"grant_{name}")(roles[name], list_whole_bucket=True)
    built = built_type(stack, Template.from_stack(stack), lake, roles)
    arn = built.bucket_arn(cfn)
    assert built.s3_statements(cfn, "read_curated") == {
        (LOCATION, (arn,), repr({})),
        _list_bucket(arn),
        _objects(["s3:GetObject"], arn, "curated-data-lake/json_parsed_parquet/"),
    }
    assert built.s3_statements(cfn, "read_dead_letter") == {
        _list_bucket(arn),
        _objects(["s3:GetObject"], arn, "error-data-lake/json_malformed_records/"),
    }


def test_raw_writer_may_only_put_under_the_raw_prefix(default: Any, cfn: Any) -> None:
    arn = default.bucket_arn(cfn)
    assert default.s3_statements(cfn, "write_raw") == {
        _objects(["s3:PutObject", *MULTIPART], arn, "raw-json-data/"),
    }


@pytest.mark.parametrize("which", ["default", "custom"])
def test_no_grant_uses_wildcard_actions_or_writes_the_whole_bucket(
    which: str, request: pytest.FixtureRequest, cfn: Any
) -> None:
    built: Any = request.getfixturevalue(which)
    arn = built.bucket_arn(cfn)
    checked = 0
    for role in built.roles:
        for statement in built.statements(cfn, role):
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


def test_custom_prefixes_drive_the_grants(custom: Any, cfn: Any) -> None:
    arn = custom.bucket_arn(cfn)
    assert custom.s3_statements(cfn, "lister") == {
        (LOCATION, (arn,), repr({})),
        _list(arn, "landing/json/"),
    }
    resources = {r for s in custom.statements(cfn, "processor") for r in s["Resource"]}
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
