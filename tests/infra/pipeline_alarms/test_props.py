"""``PipelineAlarmsProps`` (props.py): they default to the contract (the namespace the runtime publishes under), and
invalid props fail with a message naming the field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns

from platform_constructs import PipelineAlarms, PipelineAlarmsProps
from platform_contract import defaults

pytestmark = pytest.mark.infra

ONCALL_TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall"


def _default(cls: type, name: str) -> Any:
    (f,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def test_alarms_use_the_contracts_namespace() -> None:
    from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps

    assert _default(PipelineAlarmsProps, "metrics_namespace") == defaults.METRICS_NAMESPACE


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"alarm_emails": ("not-an-email",)},
            r"alarm_emails has 'not-an-email', which is not an e-mail",
        ),
        ({"alarm_emails": ("a@example.com", "a@example.com")}, r"lists an address twice"),
        ({"alarm_emails": "a@example.com"}, r"must be a tuple of addresses"),
        ({"environment_name": "dev env"}, r"environment_name 'dev env' must be 1-20 lowercase letters"),
        ({"environment_name": "Dev_1"}, r"environment_name 'Dev_1' must be 1-20 lowercase letters"),
        ({"lister_job_name": ""}, r"lister_job_name must name the Glue job"),
        ({"backfill_job_name": ""}, r"backfill_job_name must name the Glue job to watch, or be None"),
        ({"backfill_job_name": "p"}, r"job names must differ, got \('l', 'p', 'p'\)"),
        ({"extra_job_names": ("",)}, r"extra_job_names must each name a Glue job"),
        ({"extra_job_names": ("l",)}, r"extra_job_names repeats a job: job names must differ"),
        ({"existing_topic_arn": "oncall"}, r"existing_topic_arn 'oncall' is not an SNS topic ARN"),
        ({"existing_topic_arn": ONCALL_TOPIC + ".fifo"}, r"existing_topic_arn .* is a FIFO topic"),
        ({"metrics_namespace": "AWS/Glue"}, r"must not start with 'AWS/'"),
        ({"failure_states": ("FAILED", "BROKEN")}, r"failure_states must be a non-empty subset"),
        ({"failure_states": ()}, r"failure_states must be a non-empty subset"),
        ({"dead_letter_records_threshold": 0}, r"dead_letter_records_threshold must be > 0"),
        ({"rds_cpu_percent": 120}, r"rds_cpu_percent must be <= 100"),
        ({"lister_heartbeat_minutes": 7}, r"lister_heartbeat_minutes must be a multiple of 5"),
        ({"backlog_age_seconds": -1}, r"backlog_age_seconds must be > 0"),
    ],
)
def test_invalid_props_raise_a_helpful_value_error(overrides: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"environment_name": "dev", "lister_job_name": "l", "processor_job_name": "p"}
    stack = Stack(App(), "Invalid")
    with pytest.raises(ValueError, match=message):
        PipelineAlarms(stack, "Alarms", PipelineAlarmsProps(**{**base, **overrides}))


def test_topic_given_twice_is_refused() -> None:
    stack = Stack(App(), "Twice")
    theirs = sns.Topic.from_topic_arn(stack, "Theirs", ONCALL_TOPIC)
    props = PipelineAlarmsProps(environment_name="dev", lister_job_name="l", processor_job_name="p",
                                existing_topic=theirs, existing_topic_arn=ONCALL_TOPIC)
    with pytest.raises(ValueError, match=r"existing_topic and existing_topic_arn are both set"):
        props.validate()
