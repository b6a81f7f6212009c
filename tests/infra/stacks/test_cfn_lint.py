"""cfn-lint over both synthesized templates: zero errors (warnings are reported, not failed on)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra

#: Regions whose resource specs the templates are checked against (Glue 5.0 and every service used exist there).
REGIONS = ["us-east-1", "eu-west-1"]


def _lint(template: dict[str, Any]) -> list[Any]:
    from cfnlint.api import ManualArgs, lint

    return lint(json.dumps(template), config=ManualArgs(regions=REGIONS))


@pytest.mark.parametrize("stack_name", ["MlDataPlatform-dev", "MlDataPlatform-prod"])
def test_template_has_no_cfn_lint_errors(platform_templates: dict[str, dict[str, Any]], stack_name: str) -> None:
    matches = _lint(platform_templates[stack_name])
    errors = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.severity == "error"]
    assert errors == []


def test_cfn_lint_reports_errors_in_a_broken_template(platform_templates: dict[str, dict[str, Any]]) -> None:
    """The linter is live: a Glue job with an unknown worker type is an error."""
    broken = json.loads(json.dumps(platform_templates["MlDataPlatform-dev"]))
    job = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::Glue::Job"
               and r["Properties"]["Command"]["Name"] == "glueetl")
    job["Properties"]["WorkerType"] = "G.999X"
    assert any(m.rule.severity == "error" for m in _lint(broken))
