"""The checkov acknowledgments land on the synthesized resources they name (``Metadata.checkov.skip``), each one
somewhere, and nowhere else; the Multi-AZ one only on dev's single-AZ instance."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.checkov_acknowledgments import ACKNOWLEDGMENTS

pytestmark = pytest.mark.infra


def _skips(template: dict[str, Any]) -> dict[str, set[str]]:
    """``logical id -> skipped check ids`` of a template."""
    return {
        logical_id: {entry["id"] for entry in resource["Metadata"]["checkov"]["skip"]}
        for logical_id, resource in template["Resources"].items()
        if "checkov" in resource.get("Metadata", {})
    }


def test_every_acknowledgment_is_written_on_a_resource_of_some_stack(platform_app: Any) -> None:
    from stacks.data_platform_stack import DataPlatformStack

    stacks = [child for child in platform_app.node.children if isinstance(child, DataPlatformStack)]
    assert len(stacks) == 2
    written = {ack.check for stack in stacks for ack, _ in stack.checkov_acknowledgments}
    assert written == {ack.check for ack in ACKNOWLEDGMENTS}


def test_the_templates_carry_exactly_the_acknowledged_skips_with_their_reasons(
    platform_app: Any, platform_templates: dict[str, dict[str, Any]]
) -> None:
    from stacks.data_platform_stack import DataPlatformStack

    for stack in platform_app.node.children:
        if not isinstance(stack, DataPlatformStack):
            continue
        template = platform_templates[stack.stack_name]
        expected: dict[str, set[str]] = {}
        for ack, logical_id in stack.checkov_acknowledgments:
            expected.setdefault(logical_id, set()).add(ack.check)
            (entry,) = [
                e for e in template["Resources"][logical_id]["Metadata"]["checkov"]["skip"] if e["id"] == ack.check
            ]
            assert entry["comment"] == ack.reason
        assert _skips(template) == expected


def test_four_cdk_functions_and_multi_az_only_where_single_az(platform_templates: dict[str, dict[str, Any]]) -> None:
    for name, template in platform_templates.items():
        skips = _skips(template)
        functions = [k for k, checks in skips.items() if checks == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}]
        assert len(functions) == 4, (name, skips)
        (instance,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::RDS::DBInstance"]
        multi_az = template["Resources"][instance]["Properties"]["MultiAZ"]
        assert ("CKV_AWS_157" in skips.get(instance, set())) is (not multi_az), name
    assert "CKV_AWS_157" not in str(_skips(platform_templates["MlDataPlatform-prod"]))
