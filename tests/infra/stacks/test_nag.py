"""cdk-nag 3.x (AwsSolutions) over both stacks through ``validate_scope``: zero unacknowledged findings, and
every acknowledgment carries a specific reason."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra


def _findings(report: Any) -> list[str]:
    return [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def test_no_unacknowledged_findings(platform_app: Any) -> None:
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks().validate_scope(platform_app)
    assert _findings(report) == []
    assert report.success is True


def test_checks_are_live_on_an_unacknowledged_resource() -> None:
    """The same check reports a finding for a resource nobody acknowledged (so a zero above means something)."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs
    from cdk_nag import AwsSolutionsChecks

    app = App()
    sqs.Queue(Stack(app, "Probe"), "Queue")
    findings = _findings(AwsSolutionsChecks().validate_scope(app))
    assert any(f.startswith("AwsSolutions-SQS3") for f in findings), findings  # no dead-letter queue


def test_every_acknowledgment_has_a_specific_reason(platform_app: Any) -> None:
    from aws_cdk import Validations

    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    reasons: dict[str, str] = {}
    for construct in platform_app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                for rule, reason in entry.data.items():
                    reasons[f"{rule} at {construct.node.path}"] = reason
    nag = {k: v for k, v in reasons.items() if "AwsSolutions-" in k}
    assert nag, "expected the stacks to acknowledge some AwsSolutions findings"
    for rule, reason in nag.items():
        assert len(reason) >= 60, f"{rule}: reason too short to be specific: {reason!r}"
    # the same rule on different resources may share a reason; different rules must not
    by_reason: dict[str, set[str]] = {}
    for rule, reason in nag.items():
        by_reason.setdefault(reason, set()).add(rule.split("[")[0].split(" at ")[0])
    assert all(len(rules) == 1 for rules in by_reason.values()), by_reason
