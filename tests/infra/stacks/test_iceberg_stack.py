"""The dev stack with ``workflow.table_format=iceberg`` and the table optimizers (issue 19), as `cdk synth -c` builds
it: cfn-lint finds no error in the Glue table optimizers and the rest, cdk-nag finds nothing unacknowledged, and the
alarm watches the commits. The default stacks (Parquet) are covered by test_cfn_lint, test_nag and the snapshots.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import PLATFORM_CONTEXT

pytestmark = pytest.mark.infra

ICEBERG_CONTEXT = {"dev.workflow.table_format": "iceberg", "dev.workflow.iceberg_optimizers": "true"}


@pytest.fixture(scope="module")
def iceberg_app() -> Any:
    from aws_cdk import App

    import app as cdk_app

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
        patch.delenv("CDK_DEFAULT_REGION", raising=False)
        return cdk_app.build_app(App(context={**cdk_app.cdk_json_context(), **PLATFORM_CONTEXT, **ICEBERG_CONTEXT}))


@pytest.fixture(scope="module")
def iceberg_template(iceberg_app: Any) -> dict[str, Any]:
    return iceberg_app.synth().get_stack_by_name("MlDataPlatform-dev").template


def test_the_iceberg_stack_has_no_cfn_lint_errors(iceberg_template: dict[str, Any], cfn: Any) -> None:
    from tests.infra.stacks.test_cfn_lint import _lint

    assert len(cfn.resources(iceberg_template, "AWS::Glue::TableOptimizer")) == 3
    matches = _lint(iceberg_template)
    errors = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.severity == "error"]
    assert errors == []


def test_cfn_lint_checks_the_optimizers(iceberg_template: dict[str, Any], cfn: Any) -> None:
    """The linter knows the resource: an unknown optimizer type is an error."""
    import json

    from tests.infra.stacks.test_cfn_lint import _lint

    broken = json.loads(json.dumps(iceberg_template))
    (logical_id, _), *_ = cfn.resources(broken, "AWS::Glue::TableOptimizer")
    broken["Resources"][logical_id]["Properties"]["TableOptimizerConfiguration"]["Enabled"] = "sometimes"
    assert any(m.rule.severity == "error" for m in _lint(broken))


def test_the_iceberg_stack_has_no_unacknowledged_nag_findings(iceberg_app: Any) -> None:
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks().validate_scope(iceberg_app)
    findings = [f"{v.rule_name} at {r.construct_path}" for v in report.violations for r in v.violating_resources]
    assert findings == []


def test_the_iceberg_stack_alarms_on_commit_failures_and_passes_the_table_to_the_jobs(
    iceberg_app: Any, iceberg_template: dict[str, Any], cfn: Any
) -> None:
    stack = next(s for s in iceberg_app.node.children if getattr(s, "stack_name", "") == "MlDataPlatform-dev")
    assert "IcebergCommitFailures" in stack.alarms.alarms
    job = cfn.job(iceberg_template, stack.workflow.processor_job_name)
    assert job["DefaultArguments"]["--table-format"] == "iceberg"
    assert job["DefaultArguments"]["--iceberg-database"] == "ml_data_platform_dev"


def test_the_iceberg_stack_outputs_name_the_table_for_smoke(iceberg_template: dict[str, Any]) -> None:
    from platform_contract import outputs as out

    outputs = iceberg_template["Outputs"]
    assert outputs[out.ICEBERG_TABLE]["Value"] == "ml_data_platform_dev.json_parsed"
    assert "curated-data-lake/iceberg/" in str(outputs[out.ICEBERG_WAREHOUSE]["Value"])
    for key in out.ICEBERG_OUTPUTS:
        assert outputs[key]["Description"] == out.DESCRIPTIONS[key]


def test_the_iceberg_jobs_arguments_all_reach_mldp(iceberg_template: dict[str, Any]) -> None:
    from tests.infra.stacks.test_job_arguments_reach_the_entry import dropped_job_arguments

    assert dropped_job_arguments(iceberg_template) == {}
