"""Pausing and resuming the scheduled trigger on a live stack.

``StartOnCreation`` of a Glue trigger only counts when the trigger is created: CloudFormation ignores it on updates,
so flipping ``schedule_enabled`` on a deployed stack used to change nothing. :func:`schedule_state` adds an
``AwsCustomResource`` (construct id ``ScheduleState``) whose update calls ``glue:StopTrigger`` (paused) or
``glue:StartTrigger`` (enabled) on the scheduled trigger: its ``onUpdate`` call is part of its properties, so it
runs exactly when ``schedule_enabled`` changes. On create it only reads the trigger (``glue:GetTrigger``):
``StartOnCreation`` has already put the new trigger in the state asked for. Its policy allows those three actions
on the trigger's ARN only.

Alternative considered: recreating the trigger (a new name per state) would also apply ``StartOnCreation``, but a
replaced trigger in a workflow is the "modified while adding trigger" race again, and the name would change.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct


def trigger_arn(scope: Construct, trigger_name: str) -> str:
    """ARN of the Glue trigger ``trigger_name`` in ``scope``'s stack."""
    return Stack.of(scope).format_arn(
        service="glue", resource="trigger", resource_name=trigger_name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


def schedule_state(scope: Construct, trigger: glue.CfnTrigger, enabled: bool) -> cr.AwsCustomResource:
    """The custom resource that starts (``enabled``) or stops the scheduled ``trigger`` when ``enabled`` changes."""
    name = trigger.name
    assert name is not None  # the workflow names its triggers
    call = cr.AwsSdkCall(
        service="Glue",
        action="startTrigger" if enabled else "stopTrigger",
        parameters={"Name": name},
        physical_resource_id=cr.PhysicalResourceId.of(f"{name}-schedule-state"),
    )
    read = cr.AwsSdkCall(
        service="Glue",
        action="getTrigger",
        parameters={"Name": name},
        physical_resource_id=cr.PhysicalResourceId.of(f"{name}-schedule-state"),
        output_paths=["Trigger.State"],
    )
    resource = cr.AwsCustomResource(
        scope,
        "ScheduleState",
        on_create=read,
        on_update=call,
        install_latest_aws_sdk=False,
        policy=cr.AwsCustomResourcePolicy.from_statements([
            iam.PolicyStatement(
                actions=["glue:GetTrigger", "glue:StartTrigger", "glue:StopTrigger"],
                resources=[trigger_arn(scope, name)],
            )
        ]),
    )
    resource.node.add_dependency(trigger)
    return resource
