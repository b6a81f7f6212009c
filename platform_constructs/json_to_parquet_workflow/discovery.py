"""Discovery beyond the scheduled listing (issue 21, ``discovery_mode``; docs/discovery.md).

* ``listing``: nothing here (the workflow's scheduled lister is the only discovery).
* ``inventory``: the bucket's daily Parquet S3 Inventory of the raw prefix
  (:meth:`~platform_constructs.tracked_raw_bucket.TrackedRawBucket.enable_raw_inventory`), read by the scheduled
  lister (``--inventory-location``, ``--full-listing-hours``: it registers each new report and lists the whole
  prefix only as the safety net; the lister's role reads the report prefix).
* ``events``: the inventory, plus :class:`EventDiscovery`: S3 "Object Created" events under the raw prefix (the
  bucket sends every event to EventBridge) -> an EventBridge rule -> an SQS queue with a dead-letter queue ->
  the ``FileEventConsumer`` Glue Python-shell job, every ``event_consumer_schedule``, running
  ``mldp list --from-queue``. The workflow's scheduled listing stays: it is the reconciliation that registers what
  events miss (S3 delivers events at least once, not always).

**Where the consumer runs, and why a scheduled Glue Python-shell job** (not a Lambda on the queue in the VPC): it
is the lister's job with one more argument: the same bundle (script, runtime wheel, cp39 wheels), the same
network connection, security configuration, log groups, database grant and metrics, so nothing new has to be
built, patched or tested (a Lambda would need its own package of psycopg2 and the runtime, its own VPC
configuration and a second code path). Batching is better too: a 5-minute drain registers everything that arrived
in one bulk transaction per 1,000 messages, where a Lambda per 10-message batch opens a database connection per
invocation. The price is latency (an upload waits up to the schedule interval plus the run's ~1 minute start;
a Lambda would take seconds) and a floor cost: 1/16 DPU x 1-minute minimum x 288 runs a day = 18 DPU-minutes a day,
about $0.13 a day ($4 a month) whatever the volume. Per million files: EventBridge $1.00, SQS ~$0.12 (sends,
receives and delete batches of 10, empty long polls), HeadObject $0.40, Glue ~1 DPU-minute at 1,000 keys/s ~$0.01:
about $1.5 per million files (docs/discovery.md).

**The queue.** Encrypted with SQS-managed keys (SSE-SQS), not the bucket's KMS key: a message holds a key name,
size and ETag, which anyone allowed to list the raw prefix sees anyway; a customer key would need a key-policy
grant to ``events.amazonaws.com`` and a KMS request per data key, for no secret worth it. Visibility timeout 15
minutes: longer than a consumer run (``--max-seconds 600`` plus one chunk), so a message is never handed to the
next run while one still holds it; a run that dies leaves its messages for the run after. ``maxReceiveCount`` 5:
a malformed message reaches the dead-letter queue within the hour (alarmed), while a newer version deferred
because its file is being processed gets five visibility timeouts (75 minutes) to be registered. Retention 4 days
(the consumer drains every few minutes and the age alarm fires after ``event_queue_age_alarm_minutes``; what
expires anyway is found by the next listing), the dead-letter queue's 14 days (the maximum, for the operator).
The queue policy lets only this rule send (``aws:SourceArn``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from platform_constructs._shared.nag import acknowledge, finding_value
from platform_constructs._shared.vpc_endpoints import closed_interface_endpoint
from platform_constructs.json_to_parquet_workflow.database_access import grant_database_access
from platform_constructs.json_to_parquet_workflow.job_arguments import lister_arguments
from platform_contract import outputs as out
from platform_contract.discovery import (
    INVENTORY_ID,
    INVENTORY_PREFIX,
    MODE_EVENTS,
    MODE_LISTING,
    object_created_pattern,
)

#: The workflow construct (:class:`~platform_constructs.json_to_parquet_workflow.JsonToParquetWorkflow`), typed
#: loosely: it imports this module.
JsonToParquetWorkflow = Any

__all__ = ["CONSUMER_JOB_NAME", "CONSUMER_MAX_SECONDS", "EventDiscovery", "add_discovery", "discovery_outputs",
           "grant_read_inventory", "inventory_arguments"]

CONSUMER_JOB_NAME = "FileEventConsumer"
#: The consumer's time budget per run (``--max-seconds``); the job's timeout and the visibility timeout exceed it.
CONSUMER_MAX_SECONDS = 600
CONSUMER_TIMEOUT_MINUTES = 15
VISIBILITY_TIMEOUT = Duration.minutes(15)
MAX_RECEIVE_COUNT = 5
QUEUE_RETENTION = Duration.days(4)
DLQ_RETENTION = Duration.days(14)


def add_discovery(workflow: JsonToParquetWorkflow) -> EventDiscovery | None:
    """What the workflow's ``discovery_mode`` adds: the raw prefix's inventory (``inventory`` and ``events``) and
    the event path (``events``); ``None`` when it adds no event path."""
    mode = workflow.props.discovery_mode
    if mode != MODE_LISTING:
        reports = workflow.props.bucket.enable_raw_inventory()
        grant_read_inventory(workflow.lister_role.role, reports)
        job = workflow.lister_job  # registers from each new report (runtime.jobs.scheduled_discovery)
        job.default_arguments = {**job.default_arguments, **inventory_arguments(workflow.props, reports)}
    return EventDiscovery(workflow, "EventDiscovery", workflow) if mode == MODE_EVENTS else None


def inventory_arguments(p: Any, reports: Any) -> dict[str, str]:
    """The lister's arguments with an inventory: where this bucket's reports land (the config's folder in AWS's
    layout ``<destination prefix>/<source bucket>/<config id>/``) and the safety-net listing period."""
    location = f"s3://{reports.bucket_name}/{INVENTORY_PREFIX}{p.bucket.bucket.bucket_name}/{INVENTORY_ID}/"
    return {"--inventory-location": location, "--full-listing-hours": str(p.full_listing_hours)}


def discovery_outputs(workflow: JsonToParquetWorkflow) -> dict[str, str]:
    """The stack outputs of what ``discovery_mode`` created (:data:`platform_contract.outputs.OPTIONAL_OUTPUTS`):
    the event queue's URL (events), the report bucket and the lister's ``--inventory-location`` (inventory,
    events); none in ``listing`` mode."""
    found: dict[str, str] = {}
    reports = workflow.props.bucket.inventory_bucket
    if reports is not None:
        found[out.INVENTORY_BUCKET_NAME] = reports.bucket_name
        found[out.INVENTORY_LOCATION] = inventory_arguments(workflow.props, reports)["--inventory-location"]
    if workflow.discovery is not None:
        found[out.EVENT_QUEUE_URL] = workflow.discovery.queue.queue_url
    return found


def grant_read_inventory(role: iam.IRole, reports: Any) -> None:
    """Let the lister read the inventory reports (``mldp list --from-inventory s3://<reports>/s3-inventory/...``):
    list the report bucket, get the objects under the report prefix; nothing else."""
    objects = reports.arn_for_objects(f"{INVENTORY_PREFIX}*")
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[reports.bucket_arn]))
    acknowledge(role, f"AwsSolutions-IAM5[Resource::{finding_value(role, objects)}]",
                "Read-only on the S3 Inventory report prefix: reports are named by date and id at delivery")


class EventDiscovery(Construct):
    """The event path of ``events`` mode (see the module docstring).

    Attributes:
        queue / dead_letter_queue: ``sqs.Queue``.
        rule: the EventBridge rule (``events.Rule``).
        role: the consumer job's role; job: its ``glue.CfnJob`` (``job_name``); trigger: its schedule.
        sqs_endpoint: the SQS interface endpoint (``None`` when the workflow creates no endpoints).
        oldest_message_alarm / dead_letter_alarm: ``cloudwatch.Alarm`` (no action until :meth:`notify`).
    """

    def __init__(self, scope: Construct, construct_id: str, workflow: JsonToParquetWorkflow) -> None:
        super().__init__(scope, construct_id)
        p = workflow.props
        bucket = p.bucket
        self.job_name = f"{CONSUMER_JOB_NAME}{p.suffix}"
        self.dead_letter_queue = sqs.Queue(self, "DeadLetterQueue", encryption=sqs.QueueEncryption.SQS_MANAGED,
                                           enforce_ssl=True, retention_period=DLQ_RETENTION)
        self.queue = sqs.Queue(
            self, "Queue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=QUEUE_RETENTION, visibility_timeout=VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT),
        )
        pattern = object_created_pattern(bucket.bucket.bucket_name, bucket.props.raw_prefix)
        self.rule = events.Rule(
            self, "ObjectCreated",
            description="S3 Object Created events under the raw prefix -> the event consumer's queue",
            event_pattern=events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                                              detail=pattern["detail"]),
            targets=[targets.SqsQueue(self.queue)],
        )
        self.sqs_endpoint = self._endpoint(workflow)
        self.role = workflow._role("EventConsumerRole", CONSUMER_JOB_NAME, (p.metrics_namespace,)).role
        self._grant(workflow)
        workflow.log_groups.extend(workflow.security_configuration.add_job_log_groups(
            "EventConsumer", self.role, p.glue_log_retention))
        self.job = self._job(workflow)
        self.trigger = glue.CfnTrigger(
            self, "Schedule", name=f"FileEventConsumerSchedule{p.suffix}",
            description="Drain the S3 event queue into the tracking table", type="SCHEDULED",
            schedule=p.event_consumer_schedule, start_on_creation=p.schedule_enabled,
            actions=[glue.CfnTrigger.ActionProperty(job_name=self.job_name)],
        )
        self.trigger.add_resource_dependency(self.job)
        self.oldest_message_alarm = cloudwatch.Alarm(
            self, "OldestEventAge",
            metric=self.queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(5)),
            threshold=p.event_queue_age_alarm_minutes * 60, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"[{p.environment_name}] S3 events wait in the queue for more than "
            f"{p.event_queue_age_alarm_minutes} minutes: the FileEventConsumer job is not draining it",
        )
        self.dead_letter_alarm = cloudwatch.Alarm(
            self, "DeadLetteredEvents",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5),
                                                                                          statistic="Maximum"),
            threshold=0, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"[{p.environment_name}] messages in the S3 event dead-letter queue: malformed, or "
            "a key deferred five times; the next listing registers the keys (docs/discovery.md)",
        )

    def notify(self, topic: sns.ITopic) -> None:
        """Send both alarms (and their recovery) to ``topic``."""
        action = cloudwatch_actions.SnsAction(topic)
        for alarm in (self.oldest_message_alarm, self.dead_letter_alarm):
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)

    def _endpoint(self, workflow: JsonToParquetWorkflow) -> ec2.InterfaceVpcEndpoint | None:
        network = workflow.network
        if not network.interface_endpoints:  # the VPC reaches AWS APIs some other way
            return None
        endpoint = closed_interface_endpoint(self, "SqsEndpoint", vpc=workflow.props.database.vpc,
                                             service=ec2.InterfaceVpcEndpointAwsService.SQS, subnets=network.subnets)
        endpoint.connections.allow_default_port_from(network.security_group, "sqs API from the Glue jobs")
        return endpoint

    def _grant(self, workflow: JsonToParquetWorkflow) -> None:
        """Least privilege: this queue's receive/delete/visibility/attributes; HeadObject (``s3:GetObject``) on the
        raw prefix and ``s3:ListBucket`` (a missing key must answer 404, not 403, to be counted ``gone``: the
        processor grant's reasoning); decrypt on the bucket key; the database and the lister's code."""
        p, role = workflow.props, self.role
        workflow._grant_ca_bundle(role)
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                     "sqs:GetQueueAttributes"],
            resources=[self.queue.queue_arn],
        ))
        raw_objects = p.bucket.bucket.arn_for_objects(f"{p.bucket.props.raw_prefix}*")
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[raw_objects]))
        acknowledge(role, f"AwsSolutions-IAM5[Resource::{finding_value(role, raw_objects)}]",
                    "HeadObject (s3:GetObject) limited to the raw prefix: the consumer reads the current size, "
                    "last-modified time and ETag of keys named by S3 events at run time")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[p.bucket.bucket.bucket_arn]))
        if p.bucket.encryption_key is not None:
            p.bucket.encryption_key.grant_decrypt(role)
        grant_database_access(p, role, migrates=False)  # no secret with IAM authentication
        workflow.security_configuration.grant_use(role)
        workflow.code.grant_read(workflow.code.lister_files, role)

    def _job(self, workflow: JsonToParquetWorkflow) -> glue.CfnJob:
        p, network = workflow.props, workflow.network
        job = glue.CfnJob(
            self, "Job", name=self.job_name,
            description="Drains the S3 event queue and registers the events' raw files as PENDING (Python shell)",
            role=self.role.role_arn,
            command=glue.CfnJob.JobCommandProperty(
                name="pythonshell", python_version="3.9", script_location=workflow.code.lister_script.s3_url),
            glue_version="3.0", max_capacity=0.0625, timeout=CONSUMER_TIMEOUT_MINUTES, max_retries=0,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            connections=glue.CfnJob.ConnectionsListProperty(connections=list(network.connection_names)),
            security_configuration=workflow.security_configuration.name,
            default_arguments={**lister_arguments(p, workflow.code, migrates=False),
                               "--from-queue": self.queue.queue_url,
                               "--max-seconds": str(CONSUMER_MAX_SECONDS), "--poll-seconds": "20"},
        )
        job.add_resource_dependency(network.connection)
        if network.failover is not None:
            job.add_resource_dependency(network.failover)
        job.add_resource_dependency(workflow.security_configuration.configuration)
        return job

