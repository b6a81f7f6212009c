"""The removal-policy guard inside the stateful constructs: DESTROY is an error in production, reverted to RETAIN
(with a warning) unless the context allows it, and kept where it does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk.assertions import Annotations, Match, Template
from constructs import Construct

from platform_constructs import TrackedRawBucket, TrackedRawBucketProps, TrackingDatabase, TrackingDatabaseProps
from platform_constructs._shared.removal_policy import DESTROY_CONTEXT_KEY
from platform_constructs.json_to_parquet_workflow.glue.security_configuration import (
    GlueSecurityConfiguration,
    GlueSecurityConfigurationProps,
)

pytestmark = pytest.mark.infra

DESTROY = RemovalPolicy.DESTROY


def _bucket(scope: Construct, **props: Any) -> Construct:
    auto_delete = props.get("removal_policy") == DESTROY and not props.get("production", False)
    return TrackedRawBucket(scope, "Lake", TrackedRawBucketProps(auto_delete_objects=auto_delete, **props))


def _database(scope: Construct, **props: Any) -> Construct:
    return TrackingDatabase(scope, "Tracking", TrackingDatabaseProps(**props))


def _glue_key(scope: Construct, **props: Any) -> Construct:
    return GlueSecurityConfiguration(scope, "Config", GlueSecurityConfigurationProps(name="mldp-glue", **props))


#: construct -> (factory, resource types whose DeletionPolicy follows the guarded policy)
CONSTRUCTS: dict[str, tuple[Callable[..., Construct], tuple[str, ...]]] = {
    "bucket": (_bucket, ("AWS::S3::Bucket", "AWS::KMS::Key")),
    "database": (_database, ("AWS::RDS::DBInstance", "AWS::SecretsManager::Secret")),
    "glue key": (_glue_key, ("AWS::KMS::Key",)),
}


def _synth(which: str, context: dict[str, Any] | None = None, **props: Any) -> tuple[Stack, Construct, dict[str, Any]]:
    factory, _ = CONSTRUCTS[which]
    stack = Stack(App(context=context), "Guarded")
    construct = factory(stack, **props)
    return stack, construct, Template.from_stack(stack).to_json()


def _deletion_policies(template: dict[str, Any], which: str) -> set[str]:
    _, types = CONSTRUCTS[which]
    return {r.get("DeletionPolicy", "Delete") for r in template["Resources"].values() if r["Type"] in types}


@pytest.mark.parametrize("which", sorted(CONSTRUCTS))
def test_destroy_on_production_props_is_an_error(which: str) -> None:
    factory, _ = CONSTRUCTS[which]
    stack = Stack(App(context={DESTROY_CONTEXT_KEY: True}), "Production")  # not even the context allows it
    with pytest.raises(ValueError, match=r"removal_policy is RemovalPolicy\.DESTROY, but the props are marked "
                                         r"production \(production=True\)"):
        factory(stack, removal_policy=DESTROY, production=True)


@pytest.mark.parametrize("which", sorted(CONSTRUCTS))
def test_destroy_without_the_context_key_is_reverted_to_retain_with_a_warning(which: str) -> None:
    stack, construct, template = _synth(which, removal_policy=DESTROY)
    assert _deletion_policies(template, which) == {"Retain"}
    assert construct.removal_policy == RemovalPolicy.RETAIN
    Annotations.from_stack(stack).has_warning(
        "*",
        Match.string_like_regexp(
            rf"removal_policy RemovalPolicy\.DESTROY was reverted to RemovalPolicy\.RETAIN.*{DESTROY_CONTEXT_KEY}=true"
        ),
    )


@pytest.mark.parametrize(("which", "context_value"), [(w, True) for w in sorted(CONSTRUCTS)] + [("glue key", "true")])
def test_destroy_with_the_context_key_is_kept(which: str, context_value: Any) -> None:
    """``True`` from cdk.json or ``set_context``, ``"true"`` from ``-c``."""
    stack, construct, template = _synth(which, {DESTROY_CONTEXT_KEY: context_value}, removal_policy=DESTROY)
    assert _deletion_policies(template, which) == {"Delete"}
    assert construct.removal_policy == DESTROY
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("reverted"))


def test_reverted_bucket_keeps_its_objects() -> None:
    """Auto-delete goes with DESTROY: once the guard reverts the policy, no custom resource empties the buckets."""
    _, _, kept = _synth("bucket", removal_policy=DESTROY)
    _, _, deleted = _synth("bucket", {DESTROY_CONTEXT_KEY: True}, removal_policy=DESTROY)
    auto_delete = "Custom::S3AutoDeleteObjects"
    assert not [r for r in kept["Resources"].values() if r["Type"] == auto_delete]
    assert len([r for r in deleted["Resources"].values() if r["Type"] == auto_delete]) == 2


def test_reverted_database_keeps_its_automated_backups() -> None:
    _, _, template = _synth("database", removal_policy=DESTROY)
    (instance,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance"]
    assert instance["Properties"]["DeleteAutomatedBackups"] is False


def test_other_policies_pass_unchanged() -> None:
    stack, construct, template = _synth("database", removal_policy=RemovalPolicy.SNAPSHOT, production=True)
    assert construct.removal_policy == RemovalPolicy.SNAPSHOT
    assert "Snapshot" in _deletion_policies(template, "database")
    Annotations.from_stack(stack).has_no_warning("*", Match.any_value())


def test_the_workflow_passes_production_to_its_key() -> None:
    from platform_constructs.json_to_parquet_workflow.props import JsonToParquetWorkflowSettings

    with pytest.raises(ValueError, match=r"key_removal_policy is RemovalPolicy\.DESTROY, but the props are marked"):
        JsonToParquetWorkflowSettings(key_removal_policy=DESTROY, production=True).validate()


#: the resources whose policy follows the guard, the database's subnet group included (it must outlive the instance)
STATEFUL_TYPES = (
    "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup", "AWS::SecretsManager::Secret"
)


def _policies(template: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        name: (r.get("DeletionPolicy", "Delete"), r.get("UpdateReplacePolicy", "Delete"))
        for name, r in template["Resources"].items()
        if r["Type"] in STATEFUL_TYPES
    }


@pytest.mark.parametrize("which", sorted(CONSTRUCTS))
def test_production_retains_except_on_create(which: str) -> None:
    """A failed first create deletes what it made; every update or delete afterwards keeps it (issue 18, item 1)."""
    _, construct, template = _synth(which, removal_policy=RemovalPolicy.RETAIN, production=True)
    assert construct.removal_policy == RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
    policies = _policies(template)
    assert policies, "no stateful resource synthesized"
    assert set(policies.values()) == {("RetainExceptOnCreate", "Retain")}, policies


def test_production_database_keeps_its_subnet_group_secret_and_key() -> None:
    _, _, template = _synth("database", removal_policy=RemovalPolicy.RETAIN, production=True)
    types = {r["Type"] for name, r in template["Resources"].items() if name in _policies(template)}
    # the key encrypts the secret (and the flow logs): kept exactly as long as the secret
    assert types == {"AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup", "AWS::SecretsManager::Secret", "AWS::KMS::Key"}
    (instance,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance"]
    assert instance["Properties"]["DeleteAutomatedBackups"] is False


@pytest.mark.parametrize("which", sorted(CONSTRUCTS))
def test_retain_outside_production_stays_retain(which: str) -> None:
    _, construct, template = _synth(which, removal_policy=RemovalPolicy.RETAIN)
    assert construct.removal_policy == RemovalPolicy.RETAIN
    assert _deletion_policies(template, which) == {"Retain"}


def test_retain_except_on_create_and_dependent_policy() -> None:
    from platform_constructs._shared.removal_policy import dependent_policy, retain_except_on_create

    retain, on_update = RemovalPolicy.RETAIN, RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
    assert retain_except_on_create(retain, production=True) == on_update
    assert retain_except_on_create(retain, production=False) == retain
    assert retain_except_on_create(RemovalPolicy.SNAPSHOT, production=True) == RemovalPolicy.SNAPSHOT
    assert dependent_policy(RemovalPolicy.SNAPSHOT) == retain
    assert [dependent_policy(p) for p in (DESTROY, retain, on_update)] == [DESTROY, retain, on_update]
