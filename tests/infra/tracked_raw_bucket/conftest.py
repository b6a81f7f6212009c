"""Fixtures of the ``TrackedRawBucket`` tests: the construct on bare stacks (default and overridden props), each
synthesized once per session, with one role per grant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from platform_constructs import TrackedRawBucket, TrackedRawBucketProps
from platform_constructs._shared.removal_policy import DESTROY_CONTEXT_KEY


@dataclass
class Built:
    """A synthesized bare stack with one TrackedRawBucket and one role per grant, and readers of its template."""

    stack: Stack
    template: Template
    construct: TrackedRawBucket
    roles: dict[str, iam.Role]

    def data_bucket(self, cfn: Any) -> dict[str, Any]:
        """The data bucket's resource."""
        return self.template.to_json()["Resources"][cfn.logical_id(self.construct.bucket)]

    def log_bucket(self, cfn: Any) -> dict[str, Any]:
        """The access-log bucket's resource."""
        assert self.construct.access_log_bucket is not None
        return self.template.to_json()["Resources"][cfn.logical_id(self.construct.access_log_bucket)]

    def bucket_arn(self, cfn: Any) -> str:
        """The data bucket's ARN as ``cfn.render`` shows it."""
        return "${" + cfn.logical_id(self.construct.bucket) + ".Arn}"

    def statements(self, cfn: Any, role: str) -> list[dict[str, Any]]:
        """The normalized IAM statements of the role of grant ``role``."""
        return cfn.role_statements(self.template, self.roles[role])

    def s3_statements(self, cfn: Any, role: str) -> set[tuple[tuple[str, ...], tuple[str, ...], str]]:
        """(sorted actions, sorted resources, repr(condition)) of the role's S3 statements."""
        return {
            (tuple(sorted(s["Action"])), tuple(sorted(s["Resource"])), repr(s["Condition"]))
            for s in self.statements(cfn, role)
            if all(a.startswith("s3:") for a in s["Action"])
        }


def _build(props: TrackedRawBucketProps | None, context: dict[str, Any] | None = None) -> Built:
    stack = Stack(App(context=context), "BucketStack")
    construct = TrackedRawBucket(stack, "Lake", props)
    roles: dict[str, iam.Role] = {}
    for name in ("lister", "processor", "read_curated", "read_scripts", "read_dead_letter", "write_raw"):
        role = iam.Role(stack, f"{name}Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
        getattr(construct, f"grant_{name}")(role)
        roles[name] = role
    return Built(stack, Template.from_stack(stack), construct, roles)


@pytest.fixture(scope="session")
def default() -> Built:
    """Default props."""
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


@pytest.fixture(scope="session")
def custom() -> Built:
    """``CUSTOM_PROPS`` in an app that allows DESTROY (the removal-policy guard's context key)."""
    return _build(CUSTOM_PROPS, {DESTROY_CONTEXT_KEY: True})


@pytest.fixture(scope="session")
def built_type() -> type[Built]:
    """The :class:`Built` type, for a test that builds its own stack."""
    return Built
