"""``PipelineAlarms``: notifications, alarms and a dashboard for the JSON -> Parquet pipeline.

* **Job failures** - an EventBridge rule (``job_state_rule``) matches ``Glue Job State Change`` events of the
  lister, processor and (when given) backfill jobs in state ``FAILED``, ``TIMEOUT`` or ``ERROR`` and sends a
  readable message (job, run id, state, error) to the topic: one e-mail per failed run, with the details an
  operator needs. ``STOPPED`` is left out on purpose: only an operator (or a workflow stop) ends a run that way,
  and a stopped batch is recovered by the next run when its lease expires.
* **Alarms** - one row each in :mod:`.table` (metric, threshold, comparison, missing data,
  evaluation periods, description), which also says why each treats missing data as it does. Every alarm has an
  ``SnsAction`` on the topic (but ``JobFailures``, whose failures the rule reports: one failure, one
  notification); state-like alarms also notify when they return to OK.
* **Heartbeat seed** - :mod:`.heartbeat_seed`: one datapoint of the heartbeat's metric published when the alarm is
  created and when the schedule is paused or resumed, so that a healthy fresh deploy raises no alarm; missing data
  stays breaching afterwards.
* **Dashboard** - :mod:`.dashboard`; every metric comes from one factory
  (:mod:`.metrics`), so a graph shows exactly what its alarm watches, threshold drawn on it.

**Topic** (:mod:`.topic`). By default the construct creates the topic (KMS-encrypted with its
own rotating key, SSL-only, publishable by CloudWatch alarms of this account and by the failure rule) and
subscribes ``alarm_emails``. Alternatively it publishes to an existing topic, e.g. a team's on-call topic that
already pages someone: ``existing_topic`` (an ``sns.ITopic``) or ``existing_topic_arn``. That topic's policy (and
key policy, if encrypted) must let ``cloudwatch.amazonaws.com`` and ``events.amazonaws.com`` publish; the
construct cannot change a topic it does not own.

The props and their rules live in :mod:`.props`.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from platform_constructs._shared.validation import SNS_TOPIC_ARN, sns_topic_arn_problem
from platform_constructs.pipeline_alarms.dashboard import create_dashboard
from platform_constructs.pipeline_alarms.heartbeat_seed import heartbeat_seed
from platform_constructs.pipeline_alarms.metrics import PipelineMetrics
from platform_constructs.pipeline_alarms.props import (
    GIB,
    MIB,
    PipelineAlarmsProps,
    PipelineAlarmsSettings,
)
from platform_constructs.pipeline_alarms.table import (
    BACKLOG_AGE,
    DEAD_LETTER_RECORDS,
    JOB_FAILURES,
    LISTER_DURATION,
    LISTER_HEARTBEAT,
    QUARANTINED_FILES,
    RDS_CPU,
    RDS_DISK_QUEUE_DEPTH,
    RDS_FREE_STORAGE,
    RDS_FREEABLE_MEMORY,
    AlarmRow,
    alarm_rows,
)
from platform_constructs.pipeline_alarms.topic import alarm_topic, job_state_rule

__all__ = [
    "BACKLOG_AGE",
    "DEAD_LETTER_RECORDS",
    "GIB",
    "JOB_FAILURES",
    "LISTER_DURATION",
    "LISTER_HEARTBEAT",
    "MIB",
    "QUARANTINED_FILES",
    "RDS_CPU",
    "RDS_DISK_QUEUE_DEPTH",
    "RDS_FREEABLE_MEMORY",
    "RDS_FREE_STORAGE",
    "SNS_TOPIC_ARN",
    "PipelineAlarms",
    "PipelineAlarmsProps",
    "PipelineAlarmsSettings",
    "sns_topic_arn_problem",
]


class PipelineAlarms(Construct):
    """SNS topic, EventBridge failure rule, CloudWatch alarms and dashboard of one pipeline environment.

    Attributes:
        props: the validated props.
        topic: the alarm topic (KMS-encrypted with ``topic_key``, SSL-only), or the existing topic
            (``existing_topic``, or ``existing_topic_arn`` imported with ``sns.Topic.from_topic_arn``).
        topic_key: the topic's customer-managed key (``None`` with an existing topic). A CMK, not
            the AWS-managed SNS key, because EventBridge and CloudWatch must be allowed to use it.
        job_state_rule: the EventBridge rule that reports failed lister/processor/backfill runs to the topic.
        metrics: every metric of the alarms and the dashboard, each built once (:class:`PipelineMetrics`).
        alarms: the CloudWatch alarms by key (``JobFailures``, ``ListerHeartbeat``, ``ListerDuration``,
            ``DeadLetterRecords``, ``BacklogAge``, ``QuarantinedFiles``, ``ArchiveDeleteFailures``,
            ``IcebergCommitFailures`` (``table_format`` iceberg) and, with a database,
            ``RdsCpu``, ``RdsFreeableMemory``, ``RdsDiskQueueDepth``, ``RdsFreeStorage``).
        heartbeat_seed: the custom resource that publishes the heartbeat's first datapoint (``None`` without a
            heartbeat; :mod:`.heartbeat_seed`).
        dashboard: the CloudWatch dashboard.
    """

    def __init__(self, scope: Construct, construct_id: str, props: PipelineAlarmsProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        self.topic: sns.ITopic
        self.topic_key: kms.Key | None
        self.topic, self.topic_key = alarm_topic(self, props)
        for email in props.alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._alarm_action = cloudwatch_actions.SnsAction(self.topic)
        self.job_state_rule = job_state_rule(self, props, self.topic)
        self.metrics = PipelineMetrics(props, self.job_state_rule)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for row in alarm_rows(props, self.metrics):
            self._add_alarm(row)
        heartbeat = self.alarms.get(LISTER_HEARTBEAT)
        self.heartbeat_seed = None if heartbeat is None else heartbeat_seed(self, props, heartbeat)
        self.dashboard = create_dashboard(self, props, self.metrics, self.alarms)

    def custom_metric(self, metric_name: str, statistic: str, period: Duration | None = None) -> cloudwatch.Metric:
        """A custom metric of the runtime (:mod:`platform_contract.metrics`) in this environment (a new
        metric; the alarms' and the dashboard's are in :attr:`metrics`)."""
        return self.metrics.custom(metric_name, statistic, period)

    def _add_alarm(self, row: AlarmRow) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            row.key,
            metric=row.metric,
            threshold=row.threshold,
            comparison_operator=row.comparison,
            evaluation_periods=row.evaluation_periods,
            datapoints_to_alarm=row.evaluation_periods,
            treat_missing_data=row.missing,
            alarm_description=f"[{self.props.environment_name}] {row.description}",
            # paused schedule: the heartbeat keeps its state and history, but notifies nobody until resumed
            actions_enabled=None if self.props.schedule_enabled or row.key != LISTER_HEARTBEAT else False,
        )
        if row.notify:
            alarm.add_alarm_action(self._alarm_action)
        if row.notify and row.notify_ok:
            alarm.add_ok_action(self._alarm_action)
        self.alarms[row.key] = alarm
        return alarm
