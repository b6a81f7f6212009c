"""Every stateful resource of the production stack is kept on update and delete but not on a failed first create
(issue 18, item 1): ``DeletionPolicy: RetainExceptOnCreate`` with ``UpdateReplacePolicy: Retain``."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

#: the data (database, buckets), what reads it (secret, keys) and what the retained instance still uses (subnets)
STATEFUL_TYPES = {
    "AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup", "AWS::SecretsManager::Secret", "AWS::KMS::Key", "AWS::S3::Bucket"
}


def _stateful(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] in STATEFUL_TYPES}


def test_production_retains_every_stateful_resource_except_on_create(
    platform_templates: dict[str, dict[str, Any]],
) -> None:
    stateful = _stateful(platform_templates["MlDataPlatform-prod"])
    counts = {t: sum(r["Type"] == t for r in stateful.values()) for t in sorted(STATEFUL_TYPES)}
    # keys: bucket, database (secret and flow logs), Glue security configuration, alarm topic;
    # buckets: data, access logs, inventory reports
    assert counts == {
        "AWS::KMS::Key": 4, "AWS::RDS::DBInstance": 1, "AWS::RDS::DBSubnetGroup": 1, "AWS::S3::Bucket": 3,
        "AWS::SecretsManager::Secret": 1,
    }
    wrong = {
        name: (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy"))
        for name, r in stateful.items()
        if (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy")) != ("RetainExceptOnCreate", "Retain")
    }
    assert not wrong


def test_production_database_stays_deletion_protected(platform_templates: dict[str, dict[str, Any]]) -> None:
    """Deletion protection stays (it guards against deletes outside CloudFormation); see docs/infrastructure.md on
    what it means for the rollback of a failed first create."""
    (instance,) = [r for r in _stateful(platform_templates["MlDataPlatform-prod"]).values()
                   if r["Type"] == "AWS::RDS::DBInstance"]
    assert instance["Properties"]["DeletionProtection"] is True
    assert instance["Properties"]["DeleteAutomatedBackups"] is False


def test_dev_policies_are_unchanged(platform_templates: dict[str, dict[str, Any]]) -> None:
    """Outside production ``RETAIN`` stays ``Retain`` and the database snapshots on deletion."""
    policies = {r["Type"]: r.get("DeletionPolicy", "Delete")
                for r in _stateful(platform_templates["MlDataPlatform-dev"]).values()}
    assert policies == {
        "AWS::KMS::Key": "Retain", "AWS::RDS::DBInstance": "Snapshot", "AWS::RDS::DBSubnetGroup": "Delete",
        "AWS::S3::Bucket": "Retain", "AWS::SecretsManager::Secret": "Retain",
    }
