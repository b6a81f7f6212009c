"""No alarm on a healthy fresh deploy (issue 18, item 6): the ``HeartbeatSeed`` custom resource publishes one
datapoint of exactly the metric ``ListerHeartbeat`` counts before the alarm exists, and again when the schedule is
paused or resumed; the alarm keeps treating missing data as breaching."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from platform_constructs import PipelineAlarms, PipelineAlarmsProps
from platform_contract import metrics as m

pytestmark = pytest.mark.infra


def _build(**overrides: Any) -> tuple[PipelineAlarms, dict[str, Any], Stack]:
    stack = Stack(App(), "SeedStack")
    props: dict[str, Any] = {
        "environment_name": "dev", "lister_job_name": "lister", "processor_job_name": "processor",
        "lister_timeout_minutes": 30, "processor_timeout_minutes": 60, "schedule_interval_minutes": 15,
    }
    construct = PipelineAlarms(stack, "Alarms", PipelineAlarmsProps(**{**props, **overrides}))
    return construct, Template.from_stack(stack).to_json(), stack


@pytest.fixture(scope="module")
def running() -> tuple[PipelineAlarms, dict[str, Any], Stack]:
    return _build()


@pytest.fixture(scope="module")
def paused() -> tuple[PipelineAlarms, dict[str, Any], Stack]:
    return _build(schedule_enabled=False)


def _seed(built: tuple[PipelineAlarms, dict[str, Any], Stack]) -> tuple[str, dict[str, Any]]:
    construct, template, stack = built
    assert construct.heartbeat_seed is not None
    logical_id = stack.get_logical_id(construct.heartbeat_seed.node.find_child("Resource").node.default_child)
    return logical_id, template["Resources"][logical_id]


def _alarm(built: tuple[PipelineAlarms, dict[str, Any], Stack], key: str) -> tuple[str, dict[str, Any]]:
    construct, template, stack = built
    logical_id = stack.get_logical_id(construct.alarms[key].node.default_child)
    return logical_id, template["Resources"][logical_id]


def _call(resource: dict[str, Any], phase: str) -> dict[str, Any]:
    return json.loads(resource["Properties"][phase])


def test_the_seed_is_one_datapoint_of_the_very_metric_the_heartbeat_counts(running: Any) -> None:
    _, seed = _seed(running)
    _, alarm = _alarm(running, "ListerHeartbeat")
    call = _call(seed, "Create")
    assert (call["service"], call["action"]) == ("CloudWatch", "putMetricData")
    (datum,) = call["parameters"]["MetricData"]
    watched = alarm["Properties"]
    assert call["parameters"]["Namespace"] == watched["Namespace"]
    assert datum["MetricName"] == watched["MetricName"] == m.LISTER_DURATION_SECONDS
    assert datum["Dimensions"] == watched["Dimensions"] == [{"Name": m.ENVIRONMENT_DIMENSION, "Value": "dev"}]
    assert watched["Statistic"] == "SampleCount"  # one sample is one "run reported" for the heartbeat
    assert "Timestamp" not in datum  # now, i.e. at create: the window starts with the deploy
    assert datum["Unit"] == m.UNITS[m.LISTER_DURATION_SECONDS]  # like the lister's own datapoints


def test_the_seed_follows_the_namespace_and_environment() -> None:
    built = _build(metrics_namespace="TeamX/Pipeline", environment_name="prod")
    _, seed = _seed(built)
    _, alarm = _alarm(built, "ListerHeartbeat")
    call = _call(seed, "Create")["parameters"]
    assert call["Namespace"] == alarm["Properties"]["Namespace"] == "TeamX/Pipeline"
    assert call["MetricData"][0]["Dimensions"] == alarm["Properties"]["Dimensions"]


def test_the_heartbeat_is_created_after_its_seed_and_still_breaches_on_silence(running: Any) -> None:
    """The alarm's first evaluation sees the seed (OK for one window); afterwards silence pages as before."""
    seed_id, _ = _seed(running)
    _, alarm = _alarm(running, "ListerHeartbeat")
    assert seed_id in alarm.get("DependsOn", [])
    assert alarm["Properties"]["TreatMissingData"] == "breaching"
    assert alarm["Properties"]["Period"] == 105 * 60  # the window the seed keeps OK: the first run falls in it
    assert (alarm["Properties"]["ComparisonOperator"], alarm["Properties"]["Threshold"]) == ("LessThanThreshold", 1)


def test_the_seed_may_only_put_metric_data_in_the_pipeline_namespace(running: Any, cfn: Any) -> None:
    construct, template, _ = running
    policies = [
        p for k, p in cfn.resources(template, "AWS::IAM::Policy")
        if k.startswith("AlarmsHeartbeatSeedCustomResourcePolicy")
    ]
    (policy,) = policies
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "cloudwatch:PutMetricData"
    assert statement["Resource"] == "*"  # PutMetricData has no resource-level permissions
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "MlDataPlatform"}}
    assert construct.heartbeat_seed is not None


def test_pausing_or_resuming_reseeds_and_pausing_still_silences_the_heartbeat(running: Any, paused: Any) -> None:
    """The seed's properties differ between the two states (its physical id names the state), so CloudFormation
    updates it, and publishes again, whenever ``schedule_enabled`` flips: a resumed schedule gets a fresh window."""
    _, on = _seed(running)
    _, off = _seed(paused)
    assert _call(on, "Update")["parameters"] == _call(on, "Create")["parameters"]  # an update publishes too
    assert on["Properties"]["Update"] != off["Properties"]["Update"]
    assert _call(on, "Update")["physicalResourceId"]["id"].endswith("/running")
    assert _call(off, "Update")["physicalResourceId"]["id"].endswith("/paused")
    _, paused_alarm = _alarm(paused, "ListerHeartbeat")
    assert paused_alarm["Properties"]["ActionsEnabled"] is False
    _, running_alarm = _alarm(running, "ListerHeartbeat")
    assert running_alarm["Properties"].get("ActionsEnabled", True) is True


def test_no_heartbeat_no_seed() -> None:
    construct, template, _ = _build(lister_heartbeat=False)
    assert construct.heartbeat_seed is None
    assert not [r for r in template["Resources"].values() if r["Type"] == "Custom::AWS"]
