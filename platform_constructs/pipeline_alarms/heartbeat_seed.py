"""The heartbeat's first datapoint: no ``ListerHeartbeat`` alarm on a healthy fresh deploy.

``ListerHeartbeat`` counts the lister's ``ListerDurationSeconds`` datapoints over the heartbeat window and treats
missing data as *breaching*: silence is the failure it exists to catch. Right after a deploy, though, no run has
reported yet, so the new alarm would page before the first scheduled run could have happened.

:func:`heartbeat_seed` adds an ``AwsCustomResource`` (construct id ``HeartbeatSeed``) that publishes one datapoint
(value 0, unit ``Seconds``) to exactly the metric the alarm watches (namespace, name, ``Environment`` dimension)
when it is created, and the alarm depends on it, so the datapoint is published before the alarm exists. The alarm is OK
for one heartbeat window after the deploy, which by construction (the window is at least processor timeout + lister
timeout + one schedule interval, validated at synth) covers the first scheduled run; from then on missing data is
breaching as before, and a schedule that never starts pages one window after the deploy.

The seed is published again whenever ``schedule_enabled`` changes (its update call's physical id names the state),
so resuming a paused schedule restarts the window instead of leaving an alarm that went ALARM while paused
(silently: its actions are disabled) without a transition that would page. The seed is updated before the alarm
(the dependency), so the paused alarm returns to OK while its actions are still disabled. Pausing itself keeps
disabling the alarm's actions as before.

Alternatives considered: ``notBreaching`` would never page for a stuck schedule; a metric-math expression that
treats missing data as healthy until "creation time + window" needs the creation time, which CloudFormation does
not provide (a synth-time timestamp changes the template on every synth), so it needs a custom resource anyway; a
dedicated seed metric added to the runs by metric math (``FILL(runs, 0) + FILL(seed, 0)``) keeps the duration
graph free of the seed's 0 s point but relies on how ``FILL`` treats a series with no data at all in the window.
The cost of the chosen one: a 0 s ``ListerDurationSeconds`` point on the dashboard at each deploy that creates the
alarm or flips the schedule (the duration alarm, which fires above its threshold, ignores it).

The custom resource's policy allows ``cloudwatch:PutMetricData`` only, which has no resource-level permissions, so
``Resource: *`` with a ``cloudwatch:namespace`` condition naming the runtime's namespace.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from platform_constructs._shared.nag import acknowledge
from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps
from platform_contract import metrics as m

#: Value of the seed datapoint (a ``ListerDurationSeconds`` sample: the heartbeat counts samples, not values).
SEED_VALUE = 0


def seed_physical_id(props: PipelineAlarmsProps) -> str:
    """The seed's physical id; it names the schedule's state, so that a change of ``schedule_enabled`` re-seeds."""
    state = "running" if props.schedule_enabled else "paused"
    return f"{props.metrics_namespace}/{props.environment_name}/lister-heartbeat-seed/{state}"


def heartbeat_seed(scope: Construct, props: PipelineAlarmsProps, alarm: cloudwatch.Alarm) -> cr.AwsCustomResource:
    """The custom resource that publishes the heartbeat's seed datapoint on create and when the schedule's state
    changes; ``alarm`` (the heartbeat) depends on it."""
    call = cr.AwsSdkCall(
        service="CloudWatch",
        action="putMetricData",
        parameters={
            "Namespace": props.metrics_namespace,
            "MetricData": [
                {
                    "MetricName": m.LISTER_DURATION_SECONDS,
                    "Dimensions": [{"Name": m.ENVIRONMENT_DIMENSION, "Value": props.environment_name}],
                    "Value": SEED_VALUE,
                    "Unit": m.UNITS[m.LISTER_DURATION_SECONDS],
                }
            ],
        },
        physical_resource_id=cr.PhysicalResourceId.of(seed_physical_id(props)),
    )
    seed = cr.AwsCustomResource(
        scope,
        "HeartbeatSeed",
        on_create=call,
        on_update=call,
        install_latest_aws_sdk=False,
        policy=cr.AwsCustomResourcePolicy.from_statements([
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": props.metrics_namespace}},
            )
        ]),
    )
    acknowledge(
        seed,
        "AwsSolutions-IAM5[Resource::*]",
        "The heartbeat seed publishes one datapoint with cloudwatch:PutMetricData, which has no resource-level "
        "permissions; a cloudwatch:namespace condition confines it to the pipeline's metric namespace",
    )
    alarm.node.add_dependency(seed)
    return seed
