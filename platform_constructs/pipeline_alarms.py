"""``PipelineAlarms``: notifications, alarms and a dashboard for the JSON -> Parquet pipeline.

What is watched, and why each alarm treats missing data the way it does:

* **Job failures** - an EventBridge rule (``job_state_rule``) matches ``Glue Job State Change``
  events of the lister, processor and (when given) backfill jobs in state ``FAILED``, ``TIMEOUT``
  or ``ERROR`` and sends a readable message (job, run id, state, error) to the topic: one e-mail
  per failed run, with the details an operator needs. ``STOPPED`` is left out on purpose: only an
  operator (or a workflow stop) ends a run that way, and a stopped batch is recovered by the next
  run when its lease expires. The ``JobFailures`` alarm counts the rule's matches (``AWS/Events TriggeredRules``) so
  that failures also show as an alarm state on the dashboard; missing data is *not breaching*
  (no event = no failure).
* **Lister heartbeat** - a stuck pipeline publishes nothing, so silence is itself a failure. The
  lister runs on a schedule and publishes ``ListerDurationSeconds`` on every run; the
  ``ListerHeartbeat`` alarm fires when no run reported it within the heartbeat window and treats
  missing data as *breaching*. (The processor has no heartbeat of its own: with an empty backlog
  it rightly does nothing. When it stops running while files wait, the lister's backlog gauges
  trip ``BacklogAge``.)
* **Lister duration**, **dead-letter records** - per-run values, missing data *not breaching*.
* **Backlog age**, **quarantined files** - gauges published at the end of every run; missing data
  is *ignored* (the alarm keeps its state between runs; the heartbeat covers silence).
* **RDS** CPU, freeable memory, disk queue depth, free storage (when a database is given) - basic
  RDS metrics, missing data *missing* (an instance being modified or rebooted yields gaps).

Every alarm has an ``SnsAction`` on the topic as alarm action. State-like alarms (heartbeat,
duration, backlog, quarantine, RDS) also notify when they return to OK; event-like ones (job
failures, dead-letter records) do not, because they return to OK on their own one period later
and an "OK" mail would carry no information.

**Topic.** By default the construct creates the topic (KMS-encrypted with its own rotating key,
SSL-only, publishable by CloudWatch alarms of this account and by the failure rule) and subscribes
``alarm_emails``. Alternatively it publishes to an existing topic, e.g. a team's on-call topic that
already pages someone: ``existing_topic`` (an ``sns.ITopic``) or ``existing_topic_arn``. That
topic's policy (and key policy, if encrypted) must let ``cloudwatch.amazonaws.com`` and
``events.amazonaws.com`` publish; the construct cannot change a topic it does not own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aws_cdk import ArnFormat, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from platform_constructs import metric_names as m

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9 ._/#:-]{1,255}$")
_GLUE_JOB_STATES = ("FAILED", "TIMEOUT", "ERROR", "STOPPED")
#: A standard SNS topic ARN in any partition (CloudWatch alarm actions cannot publish to FIFO topics).
SNS_TOPIC_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$"
)
MIB = 1024 * 1024
GIB = 1024 * MIB

# Alarm keys (the keys of ``PipelineAlarms.alarms``).
JOB_FAILURES = "JobFailures"
LISTER_HEARTBEAT = "ListerHeartbeat"
LISTER_DURATION = "ListerDuration"
DEAD_LETTER_RECORDS = "DeadLetterRecords"
BACKLOG_AGE = "BacklogAge"
QUARANTINED_FILES = "QuarantinedFiles"
RDS_CPU = "RdsCpu"
RDS_FREEABLE_MEMORY = "RdsFreeableMemory"
RDS_DISK_QUEUE_DEPTH = "RdsDiskQueueDepth"
RDS_FREE_STORAGE = "RdsFreeStorage"


def sns_topic_arn_problem(arn: str) -> str | None:
    """Why ``arn`` cannot be the alarm topic (``None`` if it can): it must be a standard SNS topic ARN."""
    if arn.endswith(".fifo"):
        return f"{arn!r} is a FIFO topic; CloudWatch alarms can only notify standard SNS topics"
    if not SNS_TOPIC_ARN.match(arn):
        return f"{arn!r} is not an SNS topic ARN (expected arn:<partition>:sns:<region>:<account-id>:<topic-name>)"
    return None


@dataclass(frozen=True)
class PipelineAlarmsProps:
    """Props of :class:`PipelineAlarms`.

    Attributes:
        environment_name: value of the ``Environment`` dimension the runtime publishes (``dev``, ``prod``).
        lister_job_name / processor_job_name: Glue job names whose failures are reported.
        backfill_job_name: the workflow's backfill job, whose failures and timeouts are reported too;
            ``None`` when there is none.
        alarm_emails: e-mail addresses subscribed to the topic (each must confirm by mail).
        metrics_namespace: namespace of the runtime's custom metrics.
        database_instance: the tracking database; ``None`` skips the RDS alarms.
        existing_topic: publish to this topic instead of creating one (its encryption and policy are
            then the owner's business).
        existing_topic_arn: the same as ``existing_topic``, given by ARN (e.g. an on-call topic from
            configuration); at most one of the two.
        failure_states: Glue job states reported as failures (subset of FAILED, TIMEOUT, ERROR, STOPPED).
        period: aggregation period of the event-like alarms (job failures, dead letters, lister duration).
        gauge_period: aggregation period of the backlog gauges (longer than the lister schedule).
        dead_letter_records_threshold: dead-lettered records per ``period`` that raise the alarm.
        rds_cpu_percent: average CPU above which (for ``rds_evaluation_periods`` periods) to alarm.
        rds_freeable_memory_bytes: freeable memory below which to alarm.
        rds_disk_queue_depth: average disk queue depth above which to alarm.
        rds_free_storage_bytes: free storage below which to alarm (storage autoscaling kicks in at
            10 % free, so this is the "autoscaling hit its ceiling" signal).
        rds_evaluation_periods: consecutive 5-minute periods before an RDS alarm fires.
        lister_duration_seconds: a lister run longer than this raises the alarm.
        lister_heartbeat_minutes: window in which at least one lister run must report; ``None``
            disables the heartbeat (e.g. a deployment that only runs on demand).
        backlog_age_seconds: oldest pending file older than this raises the alarm.
        quarantined_files_threshold: this many quarantined files raise the alarm.
        dashboard_name: physical dashboard name; ``None`` lets CloudFormation generate one.
    """

    environment_name: str
    lister_job_name: str
    processor_job_name: str
    backfill_job_name: str | None = None
    alarm_emails: tuple[str, ...] = ()
    metrics_namespace: str = m.DEFAULT_NAMESPACE
    database_instance: rds.IDatabaseInstance | None = None
    existing_topic: sns.ITopic | None = None
    existing_topic_arn: str | None = None
    failure_states: tuple[str, ...] = ("FAILED", "TIMEOUT", "ERROR")
    period: Duration = field(default_factory=lambda: Duration.minutes(15))
    gauge_period: Duration = field(default_factory=lambda: Duration.minutes(30))
    dead_letter_records_threshold: int = 1
    rds_cpu_percent: float = 80
    rds_freeable_memory_bytes: int = 128 * MIB
    rds_disk_queue_depth: float = 20
    rds_free_storage_bytes: int = 2 * GIB
    rds_evaluation_periods: int = 3
    lister_duration_seconds: int = 900
    lister_heartbeat_minutes: int | None = 60
    backlog_age_seconds: int = 86400
    quarantined_files_threshold: int = 1
    dashboard_name: str | None = None

    @property
    def job_names(self) -> tuple[str, ...]:
        """The Glue jobs whose failed runs are reported: lister, processor and, if given, backfill."""
        names = (self.lister_job_name, self.processor_job_name)
        return names if self.backfill_job_name is None else (*names, self.backfill_job_name)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field to fix when the props are inconsistent."""
        if not _ENVIRONMENT.match(self.environment_name):
            raise ValueError(
                f"PipelineAlarmsProps.environment_name {self.environment_name!r} must be 1-64 "
                "letters, digits, "
                "'-' or '_' (e.g. 'dev', 'prod')"
            )
        for name in ("lister_job_name", "processor_job_name"):
            if not getattr(self, name):
                raise ValueError(f"PipelineAlarmsProps.{name} must name the Glue job to watch")
        if self.backfill_job_name is not None and not self.backfill_job_name:
            raise ValueError("PipelineAlarmsProps.backfill_job_name must name the Glue job to watch, or be None")
        if len(set(self.job_names)) != len(self.job_names):
            raise ValueError(
                f"PipelineAlarmsProps job names must differ, got {self.job_names}: lister_job_name, "
                "processor_job_name and backfill_job_name must each name a different Glue job"
            )
        self._validate_topic()
        if isinstance(self.alarm_emails, str):
            raise ValueError("PipelineAlarmsProps.alarm_emails must be a tuple of addresses, not one string")
        for email in self.alarm_emails:
            if not _EMAIL.match(email):
                raise ValueError(
                    f"PipelineAlarmsProps.alarm_emails contains {email!r}, which is not an e-mail address "
                    "(expected e.g. 'data-oncall@example.com')"
                )
        if len(set(self.alarm_emails)) != len(self.alarm_emails):
            raise ValueError("PipelineAlarmsProps.alarm_emails lists an address twice; remove the duplicate")
        if not _NAMESPACE.match(self.metrics_namespace) or self.metrics_namespace.startswith("AWS/"):
            raise ValueError(
                f"PipelineAlarmsProps.metrics_namespace {self.metrics_namespace!r} must be 1-255 "
                "characters of "
                "letters, digits and . - _ / # : or space, and must not start with 'AWS/'"
            )
        unknown = set(self.failure_states) - set(_GLUE_JOB_STATES)
        if not self.failure_states or unknown:
            raise ValueError(
                f"PipelineAlarmsProps.failure_states must be a non-empty subset of {_GLUE_JOB_STATES}, "
                f"got {self.failure_states}"
            )
        self._validate_thresholds()

    def _validate_topic(self) -> None:
        arn = self.existing_topic_arn
        if arn is None:
            return
        if self.existing_topic is not None:
            raise ValueError(
                "PipelineAlarmsProps.existing_topic and existing_topic_arn are both set: give the topic once"
            )
        if not Token.is_unresolved(arn) and (problem := sns_topic_arn_problem(arn)) is not None:
            raise ValueError(f"PipelineAlarmsProps.existing_topic_arn {problem}")

    def _validate_thresholds(self) -> None:
        positive = {
            "dead_letter_records_threshold": self.dead_letter_records_threshold,
            "rds_cpu_percent": self.rds_cpu_percent,
            "rds_freeable_memory_bytes": self.rds_freeable_memory_bytes,
            "rds_disk_queue_depth": self.rds_disk_queue_depth,
            "rds_free_storage_bytes": self.rds_free_storage_bytes,
            "rds_evaluation_periods": self.rds_evaluation_periods,
            "lister_duration_seconds": self.lister_duration_seconds,
            "backlog_age_seconds": self.backlog_age_seconds,
            "quarantined_files_threshold": self.quarantined_files_threshold,
        }
        if self.lister_heartbeat_minutes is not None:
            positive["lister_heartbeat_minutes"] = self.lister_heartbeat_minutes
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"PipelineAlarmsProps.{name} must be > 0, got {value}")
        if self.rds_cpu_percent > 100:
            raise ValueError(
                f"PipelineAlarmsProps.rds_cpu_percent must be <= 100, got {self.rds_cpu_percent}"
            )
        if self.lister_heartbeat_minutes is not None and self.lister_heartbeat_minutes % 5:
            raise ValueError(
                "PipelineAlarmsProps.lister_heartbeat_minutes must be a multiple of 5 (a CloudWatch alarm "
                f"period), got {self.lister_heartbeat_minutes}"
            )
        for name in ("period", "gauge_period"):
            seconds = getattr(self, name).to_seconds()
            if seconds < 60 or seconds % 60:
                raise ValueError(
                    f"PipelineAlarmsProps.{name} must be a whole number of minutes, got {seconds} s"
                )


class PipelineAlarms(Construct):
    """SNS topic, EventBridge failure rule, CloudWatch alarms and dashboard of one pipeline environment.

    Attributes:
        props: the validated props.
        topic: the alarm topic (KMS-encrypted with ``topic_key``, SSL-only), or the existing topic
            (``existing_topic``, or ``existing_topic_arn`` imported with ``sns.Topic.from_topic_arn``).
        topic_key: the topic's customer-managed key (``None`` with an existing topic). A CMK, not
            the AWS-managed SNS key, because EventBridge and CloudWatch must be allowed to use it.
        job_state_rule: the EventBridge rule that reports failed lister/processor/backfill runs to the topic.
        alarms: the CloudWatch alarms by key (``JobFailures``, ``ListerHeartbeat``, ``ListerDuration``,
            ``DeadLetterRecords``, ``BacklogAge``, ``QuarantinedFiles`` and, with a database,
            ``RdsCpu``, ``RdsFreeableMemory``, ``RdsDiskQueueDepth``, ``RdsFreeStorage``).
        dashboard: the CloudWatch dashboard.
    """

    def __init__(self, scope: Construct, construct_id: str, props: PipelineAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        self.topic_key: kms.Key | None = None
        self.topic: sns.ITopic = props.existing_topic or self._existing_topic_from_arn() or self._create_topic()
        for email in props.alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._alarm_action = cloudwatch_actions.SnsAction(self.topic)
        self.job_state_rule = self._create_job_state_rule()
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._create_pipeline_alarms()
        if props.database_instance is not None:
            self._create_rds_alarms(props.database_instance)
        self.dashboard = self._create_dashboard()

    # ----------------------------------------------------------------------------------------
    # Topic and rule
    # ----------------------------------------------------------------------------------------
    def _existing_topic_from_arn(self) -> sns.ITopic | None:
        arn = self.props.existing_topic_arn
        return None if arn is None else sns.Topic.from_topic_arn(self, "ExistingTopic", arn)

    def _create_topic(self) -> sns.Topic:
        stack = Stack.of(self)
        self.topic_key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the {self.props.environment_name} pipeline alarm topic",
            enable_key_rotation=True,
        )
        # EventBridge's key permissions are added by the SnsTopic rule target; CloudWatch's are not.
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        topic = sns.Topic(
            self,
            "Topic",
            display_name=f"ML data platform ({self.props.environment_name}) alarms",
            master_key=self.topic_key,
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
        return topic

    def _create_job_state_rule(self) -> events.Rule:
        p = self.props
        rule = events.Rule(
            self,
            "JobStateRule",
            description=f"Failed runs of {', '.join(p.job_names)} ({p.environment_name})",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={
                    "jobName": list(p.job_names),
                    "state": list(p.failure_states),
                },
            ),
        )
        message = events.RuleTargetInput.from_text(
            f"[{p.environment_name}] Glue job {events.EventField.from_path('$.detail.jobName')} run "
            f"{events.EventField.from_path('$.detail.jobRunId')} ended in state "
            f"{events.EventField.from_path('$.detail.state')}: "
            f"{events.EventField.from_path('$.detail.message')}"
        )
        rule.add_target(targets.SnsTopic(self.topic, message=message))
        return rule

    # ----------------------------------------------------------------------------------------
    # Alarms
    # ----------------------------------------------------------------------------------------
    def custom_metric(
        self, metric_name: str, statistic: str, period: Duration | None = None
    ) -> cloudwatch.Metric:
        """A custom metric of the runtime (:mod:`platform_constructs.metric_names`) in this environment."""
        if metric_name not in m.ALL_METRICS:
            raise ValueError(f"{metric_name!r} is not a metric of platform_constructs.metric_names")
        return cloudwatch.Metric(
            namespace=self.props.metrics_namespace,
            metric_name=metric_name,
            dimensions_map={m.ENVIRONMENT_DIMENSION: self.props.environment_name},
            statistic=statistic,
            period=period or self.props.period,
        )  # no unit: an alarm with a unit ignores datapoints published with another (or none)

    def _add_alarm(
        self,
        key: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        missing: cloudwatch.TreatMissingData,
        description: str,
        evaluation_periods: int = 1,
        notify_ok: bool = True,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            key,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=missing,
            alarm_description=f"[{self.props.environment_name}] {description}",
        )
        alarm.add_alarm_action(self._alarm_action)
        if notify_ok:
            alarm.add_ok_action(self._alarm_action)
        self.alarms[key] = alarm
        return alarm

    def _create_pipeline_alarms(self) -> None:
        p = self.props
        gte = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        gt = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        miss = cloudwatch.TreatMissingData
        failures = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions_map={"RuleName": self.job_state_rule.rule_name},
            statistic="Sum",
            period=p.period,
        )
        self._add_alarm(
            JOB_FAILURES,
            failures,
            threshold=1,
            comparison=gte,
            missing=miss.NOT_BREACHING,
            notify_ok=False,
            description=f"A run of {' or '.join(p.job_names)} ended in "
            f"{'/'.join(p.failure_states)} (details in the EventBridge notification on this topic)",
        )
        if p.lister_heartbeat_minutes is not None:
            self._add_alarm(
                LISTER_HEARTBEAT,
                self.custom_metric(
                    m.LISTER_DURATION_SECONDS, "SampleCount", Duration.minutes(p.lister_heartbeat_minutes)
                ),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=miss.BREACHING,
                description=f"No {p.lister_job_name} run reported in {p.lister_heartbeat_minutes} minutes: "
                "the schedule or the workflow is stuck",
            )
        self._add_alarm(
            LISTER_DURATION,
            self.custom_metric(m.LISTER_DURATION_SECONDS, "Maximum"),
            threshold=p.lister_duration_seconds,
            comparison=gt,
            missing=miss.NOT_BREACHING,
            description=f"A {p.lister_job_name} run took longer than {p.lister_duration_seconds} s",
        )
        self._add_alarm(
            DEAD_LETTER_RECORDS,
            self.custom_metric(m.RECORDS_DEAD_LETTERED, "Sum"),
            threshold=p.dead_letter_records_threshold,
            comparison=gte,
            missing=miss.NOT_BREACHING,
            notify_ok=False,
            description=f"At least {p.dead_letter_records_threshold} record(s) went to the dead-letter "
            "prefix",
        )
        self._add_alarm(
            BACKLOG_AGE,
            self.custom_metric(m.OLDEST_PENDING_AGE_SECONDS, "Maximum", p.gauge_period),
            threshold=p.backlog_age_seconds,
            comparison=gt,
            missing=miss.IGNORE,
            description=f"The oldest file waiting for processing is older than {p.backlog_age_seconds} s",
        )
        self._add_alarm(
            QUARANTINED_FILES,
            self.custom_metric(m.QUARANTINED_FILES_TOTAL, "Maximum", p.gauge_period),
            threshold=p.quarantined_files_threshold,
            comparison=gte,
            missing=miss.IGNORE,
            description=f"At least {p.quarantined_files_threshold} file(s) are QUARANTINED and wait for an "
            "operator (mldp CLI: inspect, re-queue or release)",
        )

    def _create_rds_alarms(self, instance: rds.IDatabaseInstance) -> None:
        p = self.props
        five_minutes = Duration.minutes(5)
        gt = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        lt = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
        missing = cloudwatch.TreatMissingData.MISSING
        n = p.rds_evaluation_periods
        self._add_alarm(
            RDS_CPU,
            instance.metric_cpu_utilization(period=five_minutes, statistic="Average"),
            threshold=p.rds_cpu_percent,
            comparison=gt,
            missing=missing,
            evaluation_periods=n,
            description=f"Tracking database CPU above {p.rds_cpu_percent} %",
        )
        self._add_alarm(
            RDS_FREEABLE_MEMORY,
            instance.metric_freeable_memory(period=five_minutes, statistic="Average"),
            threshold=p.rds_freeable_memory_bytes,
            comparison=lt,
            missing=missing,
            evaluation_periods=n,
            description=f"Tracking database freeable memory below {p.rds_freeable_memory_bytes} bytes",
        )
        self._add_alarm(
            RDS_DISK_QUEUE_DEPTH,
            instance.metric("DiskQueueDepth", period=five_minutes, statistic="Average"),
            threshold=p.rds_disk_queue_depth,
            comparison=gt,
            missing=missing,
            evaluation_periods=n,
            description=f"Tracking database disk queue depth above {p.rds_disk_queue_depth}",
        )
        self._add_alarm(
            RDS_FREE_STORAGE,
            instance.metric_free_storage_space(period=five_minutes, statistic="Minimum"),
            threshold=p.rds_free_storage_bytes,
            comparison=lt,
            missing=missing,
            description=f"Tracking database free storage below {p.rds_free_storage_bytes} bytes "
            "(storage autoscaling reached max_allocated_storage?)",
        )

    # ----------------------------------------------------------------------------------------
    # Dashboard
    # ----------------------------------------------------------------------------------------
    def _graph(self, title: str, metrics: list[cloudwatch.IMetric], width: int = 8) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(title=title, left=metrics, width=width, height=6)

    def _create_dashboard(self) -> cloudwatch.Dashboard:
        p = self.props

        def metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return self.custom_metric(name, statistic, Duration.minutes(5))

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=p.dashboard_name)
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"# ML data platform - {p.environment_name}\nJobs "
                f"{', '.join(f'`{name}`' for name in p.job_names)}; custom metrics in namespace "
                f"`{p.metrics_namespace}`.",
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                alarms=list(self.alarms.values()), title="Alarms", width=24, height=4
            )
        )
        dashboard.add_widgets(
            self._graph(
                "Files per outcome",
                [metric(m.FILES_SUCCEEDED), metric(m.FILES_FAILED), metric(m.FILES_QUARANTINED)],
            ),
            self._graph("Records", [metric(m.RECORDS_GOOD), metric(m.RECORDS_DEAD_LETTERED)]),
            self._graph("Bytes processed", [metric(m.BYTES_PROCESSED)]),
        )
        dashboard.add_widgets(
            self._graph("Batch duration (s)", [metric(m.BATCH_DURATION_SECONDS, "Maximum")]),
            self._graph("Lister: listed / registered", [metric(m.FILES_LISTED), metric(m.FILES_REGISTERED)]),
            self._graph("Lister duration (s)", [metric(m.LISTER_DURATION_SECONDS, "Maximum")]),
        )
        dashboard.add_widgets(
            self._graph("Backlog files", [metric(m.BACKLOG_FILES, "Maximum")]),
            self._graph("Oldest pending age (s)", [metric(m.OLDEST_PENDING_AGE_SECONDS, "Maximum")]),
            self._graph("Quarantined files", [metric(m.QUARANTINED_FILES_TOTAL, "Maximum")]),
        )
        instance = p.database_instance
        if instance is not None:
            dashboard.add_widgets(
                self._graph("RDS CPU (%)", [instance.metric_cpu_utilization()], width=6),
                self._graph("RDS freeable memory", [instance.metric_freeable_memory()], width=6),
                self._graph("RDS disk queue depth", [instance.metric("DiskQueueDepth")], width=6),
                self._graph("RDS free storage", [instance.metric_free_storage_space()], width=6),
            )
        return dashboard
