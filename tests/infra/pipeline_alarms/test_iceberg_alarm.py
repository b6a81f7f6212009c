"""``IcebergCommitFailures`` (issue 19): an alarm and a graph only when the curated table is an Iceberg table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from platform_constructs import PipelineAlarms, PipelineAlarmsProps
from platform_constructs._shared.validation import PropsError
from platform_contract import metrics as m

pytestmark = pytest.mark.infra

PROCESSOR = "JsonToParquetBatchProcessor-dev"


def _props(**overrides: Any) -> PipelineAlarmsProps:
    return PipelineAlarmsProps(environment_name="dev", lister_job_name="lister", processor_job_name=PROCESSOR,
                               **overrides)


def _build(**overrides: Any) -> tuple[PipelineAlarms, dict[str, Any]]:
    stack = Stack(App(), "IcebergAlarmStack")
    alarms = PipelineAlarms(stack, "Alarms", _props(**overrides))
    return alarms, Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def iceberg() -> tuple[PipelineAlarms, dict[str, Any]]:
    return _build(table_format="iceberg")


def test_the_alarm_fires_on_any_failed_commit_and_notifies_once(iceberg: Any, cfn: Any) -> None:
    alarms, template = iceberg
    alarm = template["Resources"][cfn.logical_id(alarms.alarms["IcebergCommitFailures"])]["Properties"]
    assert {k: alarm[k] for k in ("Namespace", "MetricName", "Statistic", "Period", "Threshold",
                                  "ComparisonOperator", "TreatMissingData", "EvaluationPeriods")} == {
        "Namespace": "MlDataPlatform", "MetricName": m.ICEBERG_COMMIT_FAILURES, "Statistic": "Sum", "Period": 900,
        "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "EvaluationPeriods": 1,
    }
    assert alarm["Dimensions"] == [{"Name": "Environment", "Value": "dev"}]
    assert "Unit" not in alarm
    assert [cfn.render(a) for a in alarm["AlarmActions"]] == ["${" + cfn.logical_id(alarms.topic) + "}"]
    assert "OKActions" not in alarm  # event-like: it returns to OK on its own
    assert alarm["AlarmDescription"].startswith(f"[dev] A {PROCESSOR} run could not commit")


def test_the_dashboard_graphs_it_with_the_threshold(iceberg: Any, cfn: Any) -> None:
    _, template = iceberg
    (_, dashboard), = cfn.resources(template, "AWS::CloudWatch::Dashboard")
    widgets = json.loads(cfn.render(dashboard["Properties"]["DashboardBody"]))["widgets"]
    (graph,) = [w["properties"] for w in widgets if w["properties"].get("title") == "Iceberg: failed commits"]
    assert graph["metrics"] == [["MlDataPlatform", m.ICEBERG_COMMIT_FAILURES, "Environment", "dev",
                                 {"period": 900, "stat": "Sum"}]]
    assert [a["value"] for a in graph["annotations"]["horizontal"]] == [1]


def test_no_alarm_with_the_parquet_format() -> None:
    alarms, template = _build()
    assert "IcebergCommitFailures" not in alarms.alarms
    assert m.ICEBERG_COMMIT_FAILURES not in json.dumps(template)


def test_an_unknown_table_format_is_refused() -> None:
    with pytest.raises(PropsError, match=r"\.table_format must be one of \('parquet', 'iceberg'\)"):
        _props(table_format="delta").validate()
