"""The replacement check (issue 18, item 2): the synthesized templates against the committed snapshots.

A change that would replace the tracking database, its secret, a KMS key or a bucket (a create-only property, a
type or a logical ID) fails here, naming the resource and property, unless ``replacements_acknowledged.json``
acknowledges it with a reason (docs/infrastructure.md, "Changes that replace stateful resources").
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from stacks.replacement_check import (
    LOGICAL_ID,
    Replacement,
    create_only_properties,
    find_replacements,
    main,
    unacknowledged,
)
from tests.infra.stacks.test_snapshots import ASSET_HASH, mask

pytestmark = pytest.mark.infra

HERE = Path(__file__).parent
STACKS = ["MlDataPlatform-dev", "MlDataPlatform-prod"]
ACKNOWLEDGED = json.loads((HERE / "replacements_acknowledged.json").read_text(encoding="utf-8"))
INSTANCE = "TrackingDatabaseInstance572D6BD9"
SUBNET_GROUP = "TrackingDatabaseInstanceSubnetGroupDE0C1238"
BUCKET = "DataLakeBucketEF1CCA5A"


def _snapshot(stack: str) -> dict[str, Any]:
    path = HERE / "__snapshots__" / "test_snapshots" / f"test_template_snapshot[{stack}].json"
    return json.loads(path.read_text(encoding="utf-8"))


def _prod(platform_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return copy.deepcopy(mask(platform_templates["MlDataPlatform-prod"]))


@pytest.mark.parametrize("stack", STACKS)
def test_no_stateful_resource_is_replaced(platform_templates: dict[str, dict[str, Any]], stack: str) -> None:
    """(a) The check in the test command: today's templates against the committed snapshots."""
    findings = unacknowledged(find_replacements(_snapshot(stack), mask(platform_templates[stack]), stack=stack),
                              ACKNOWLEDGED)
    assert not findings, (
        "these changes would replace stateful resources (docs/infrastructure.md, 'Changes that replace stateful "
        "resources'):\n" + "\n".join(map(str, findings))
    )


def test_the_create_only_properties_come_from_the_provider_schemas() -> None:
    assert {"DBName", "MasterUsername", "KmsKeyId", "DBSubnetGroupName"} <= set(
        create_only_properties("AWS::RDS::DBInstance")
    )
    assert "BucketName" in create_only_properties("AWS::S3::Bucket")
    assert create_only_properties("AWS::SecretsManager::Secret") == ("Name",)
    # KMS marks no property create-only: changing KeySpec or KeyUsage fails the update instead of replacing the key
    assert create_only_properties("AWS::KMS::Key") == ()
    assert create_only_properties("AWS::Serverless::Application") == ()  # a transform: no schema, no finding


@pytest.mark.parametrize(
    ("resource", "prop", "value"),
    [(INSTANCE, "DBName", "renamed"), (INSTANCE, "MasterUsername", "admin2"), (BUCKET, "BucketName", "my-lake")],
)
def test_a_changed_create_only_property_fails_naming_it(
    platform_templates: dict[str, dict[str, Any]], resource: str, prop: str, value: str
) -> None:
    """(b)"""
    new = _prod(platform_templates)
    new["Resources"][resource]["Properties"][prop] = value
    findings = find_replacements(_snapshot("MlDataPlatform-prod"), new, stack="MlDataPlatform-prod")
    assert [(f.resource, f.property) for f in findings] == [(resource, prop)]
    assert f"MlDataPlatform-prod: {resource} (" in str(findings[0])
    assert f"would be replaced: {prop}: create-only property changed from" in str(findings[0])
    assert json.dumps(value) in str(findings[0])


def test_a_replaced_subnet_group_replaces_the_database(platform_templates: dict[str, dict[str, Any]]) -> None:
    """A replacement propagates through a create-only reference: the instance's ``DBSubnetGroupName`` is a Ref."""
    new = _prod(platform_templates)
    new["Resources"][SUBNET_GROUP]["Properties"]["DBSubnetGroupName"] = "tracking"
    (finding,) = find_replacements(_snapshot("MlDataPlatform-prod"), new)
    assert (finding.resource, finding.property) == (INSTANCE, "DBSubnetGroupName")
    assert SUBNET_GROUP in finding.detail


def test_a_renamed_logical_id_fails(platform_templates: dict[str, dict[str, Any]]) -> None:
    """(c) A moved construct: the old ID disappears (and is orphaned or deleted), a new, empty one appears."""
    new = _prod(platform_templates)
    new["Resources"]["TrackingDbInstance0123ABCD"] = new["Resources"].pop(INSTANCE)
    (finding,) = find_replacements(_snapshot("MlDataPlatform-prod"), new)
    assert (finding.resource, finding.resource_type, finding.property) == (INSTANCE, "AWS::RDS::DBInstance", LOGICAL_ID)
    assert "new AWS::RDS::DBInstance in the template: TrackingDbInstance0123ABCD" in finding.detail


def test_a_changed_type_fails(platform_templates: dict[str, dict[str, Any]]) -> None:
    new = _prod(platform_templates)
    new["Resources"][BUCKET]["Type"] = "AWS::S3Express::DirectoryBucket"
    (finding,) = find_replacements(_snapshot("MlDataPlatform-prod"), new)
    assert (finding.resource, finding.property) == (BUCKET, "Type")


def test_a_mutable_property_change_passes(platform_templates: dict[str, dict[str, Any]]) -> None:
    """(d) Storage, backups, key rotation and bucket tags update in place."""
    new = _prod(platform_templates)
    resources = new["Resources"]
    resources[INSTANCE]["Properties"]["AllocatedStorage"] = "500"
    resources[INSTANCE]["Properties"]["BackupRetentionPeriod"] = 30
    resources[BUCKET]["Properties"]["Tags"] = [{"Key": "team", "Value": "ml"}]
    for resource in resources.values():
        if resource["Type"] == "AWS::KMS::Key":
            resource["Properties"]["EnableKeyRotation"] = False
    assert find_replacements(_snapshot("MlDataPlatform-prod"), new) == []


def test_masked_asset_hashes_are_no_replacement(platform_templates: dict[str, dict[str, Any]]) -> None:
    """A rebuilt asset changes only hashes and digests, which the snapshot masks: compared masked, nothing is found."""
    rebuilt = json.loads(ASSET_HASH.sub("f" * 64, json.dumps(platform_templates["MlDataPlatform-prod"])))
    rebuilt = json.loads(re.sub(r"-(1x)?[0-9a-f]{16}(?=[-.])", r"-\g<1>0123456789abcdef", json.dumps(rebuilt)))
    assert find_replacements(_snapshot("MlDataPlatform-prod"), mask(rebuilt)) == []


def test_an_acknowledgement_needs_a_reason() -> None:
    finding = Replacement("S", INSTANCE, "AWS::RDS::DBInstance", "DBName", "changed")
    ack = {"stack": "S", "resource": INSTANCE, "property": "DBName"}
    assert unacknowledged([finding], [{**ack, "reason": "migrated by dump/restore, runbook 2026-12"}]) == []
    assert unacknowledged([finding], [{**ack, "reason": " "}]) == [finding]
    assert unacknowledged([finding], [{**ack, "property": "MasterUsername", "reason": "x"}]) == [finding]


def test_the_acknowledgements_file_is_well_formed() -> None:
    assert isinstance(ACKNOWLEDGED, list)
    for entry in ACKNOWLEDGED:
        assert {"stack", "resource", "property", "reason"} <= entry.keys() and entry["reason"].strip(), entry


def test_the_command_exits_1_naming_the_property(
    platform_templates: dict[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    template = platform_templates["MlDataPlatform-prod"]
    old.write_text(json.dumps(template), encoding="utf-8")
    new.write_text(json.dumps(template), encoding="utf-8")
    assert main([str(old), str(new)]) == 0
    changed = copy.deepcopy(template)
    changed["Resources"][INSTANCE]["Properties"]["DBName"] = "renamed"
    new.write_text(json.dumps(changed), encoding="utf-8")
    assert main([str(old), str(new), "--stack", "MlDataPlatform-prod"]) == 1
    out = capsys.readouterr()
    assert f"MlDataPlatform-prod: {INSTANCE} (AWS::RDS::DBInstance) would be replaced: DBName:" in out.out
    assert "docs/infrastructure.md" in out.err
