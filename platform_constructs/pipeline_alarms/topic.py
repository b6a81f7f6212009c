"""Where :class:`platform_constructs.pipeline_alarms.PipelineAlarms` sends its notifications.

* :func:`alarm_topic`: the existing topic (``existing_topic``, or ``existing_topic_arn`` imported by ARN), or a
  new one: KMS-encrypted with its own rotating key (a customer-managed key, not the AWS-managed SNS key, because
  CloudWatch and EventBridge must be allowed to use it), SSL-only, publishable by this account's CloudWatch
  alarms;
* :func:`job_state_rule`: the EventBridge rule that reports failed runs of the pipeline's Glue jobs to the topic
  with a readable message (job, run id, state, error).

Everything is created in the alarms construct's own scope, so logical ids do not depend on this module.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps


def alarm_topic(scope: Construct, p: PipelineAlarmsProps) -> tuple[sns.ITopic, kms.Key | None]:
    """The topic every alarm and the failure rule publish to, and its key (``None`` for an existing topic)."""
    if p.existing_topic is not None:
        return p.existing_topic, None
    if p.existing_topic_arn is not None:
        return sns.Topic.from_topic_arn(scope, "ExistingTopic", p.existing_topic_arn), None
    return _create_topic(scope, p.environment_name)


def _create_topic(scope: Construct, environment_name: str) -> tuple[sns.Topic, kms.Key]:
    stack = Stack.of(scope)
    key = kms.Key(
        scope,
        "TopicKey",
        description=f"Encrypts the {environment_name} pipeline alarm topic",
        enable_key_rotation=True,
    )
    # EventBridge's key permissions are added by the SnsTopic rule target; CloudWatch's are not.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )
    )
    topic = sns.Topic(
        scope,
        "Topic",
        display_name=f"ML data platform ({environment_name}) alarms",
        master_key=key,
        enforce_ssl=True,
    )
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                },
                "StringEquals": {"aws:SourceAccount": stack.account},
            },
        )
    )
    return topic, key


def job_state_rule(scope: Construct, p: PipelineAlarmsProps, topic: sns.ITopic) -> events.Rule:
    """An EventBridge rule matching ``Glue Job State Change`` events of the jobs in ``failure_states``, sending
    one readable message per failed run to ``topic``."""
    rule = events.Rule(
        scope,
        "JobStateRule",
        description=f"Failed runs of {', '.join(p.job_names)} ({p.environment_name})",
        event_pattern=events.EventPattern(
            source=["aws.glue"],
            detail_type=["Glue Job State Change"],
            detail={"jobName": list(p.job_names), "state": list(p.failure_states)},
        ),
    )
    message = events.RuleTargetInput.from_text(
        f"[{p.environment_name}] Glue job {events.EventField.from_path('$.detail.jobName')} run "
        f"{events.EventField.from_path('$.detail.jobRunId')} ended in state "
        f"{events.EventField.from_path('$.detail.state')}: "
        f"{events.EventField.from_path('$.detail.message')}"
    )
    rule.add_target(targets.SnsTopic(topic, message=message))
    return rule
