"""Every CloudWatch metric of :class:`platform_constructs.pipeline_alarms.PipelineAlarms`, each built once.

:class:`PipelineMetrics` builds each metric one time, with the statistic and period it is judged by; the alarm
table (:mod:`.table`) and the dashboard (:mod:`.dashboard`) use the *same
objects*, so a graph always shows what its alarm watches (e.g. the Minimum of free storage, not its Average), and
the alarm's threshold is drawn on that graph.

Custom metrics carry no unit: an alarm with a unit ignores datapoints published with another unit (or none).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events

from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps
from platform_contract import metrics as m
from platform_contract.table import ICEBERG

#: Period of the RDS metrics and of the dashboard-only custom metrics.
FIVE_MINUTES = Duration.minutes(5)


class PipelineMetrics:
    """The metrics of one pipeline environment (see the module docstring).

    Attributes watched by alarms: ``job_failures`` (EventBridge matches of the failure rule), ``lister_heartbeat``
    (``None`` without a heartbeat), ``lister_duration``, ``dead_letter_percent`` (metric math over
    ``dead_letter_records`` and the good records), ``backlog_age``, ``quarantined_files``,
    ``archive_delete_failures``, ``iceberg_commit_failures`` (``None`` unless Iceberg)
    and, with a database, ``rds_cpu``, ``rds_freeable_memory``, ``rds_disk_queue_depth``,
    ``rds_free_storage`` (else ``None``).

    Dashboard-only attributes (5-minute sums or maxima): ``files_succeeded``, ``files_failed``,
    ``files_quarantined``, ``records_good``, ``records_rescued``, ``bytes_processed``, ``batch_duration``,
    ``files_listed``, ``files_registered``, ``files_ignored``, ``backlog_files``.
    """

    def __init__(self, props: PipelineAlarmsProps, job_state_rule: events.Rule) -> None:
        p = self.props = props
        self.job_failures = cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="TriggeredRules",
            dimensions_map={"RuleName": job_state_rule.rule_name},
            statistic="Sum",
            period=p.period,
        )
        window = p.heartbeat_minutes
        self.lister_heartbeat = (
            None if window is None else self.custom(m.LISTER_DURATION_SECONDS, "SampleCount", Duration.minutes(window))
        )
        self.lister_duration = self.custom(m.LISTER_DURATION_SECONDS, "Maximum")
        self.dead_letter_records = self.custom(m.RECORDS_DEAD_LETTERED, "Sum")
        #: Share (%) of the period's records that were dead-lettered, counted only from
        #: ``dead_letter_records_threshold`` dead-lettered records on (0 below, and in periods without records).
        self.dead_letter_percent = cloudwatch.MathExpression(
            expression=f"IF(FILL(dead, 0) >= {p.dead_letter_records_threshold}, "
            "100 * FILL(dead, 0) / (FILL(dead, 0) + FILL(good, 0)), 0)",
            using_metrics={"dead": self.dead_letter_records, "good": self.custom(m.RECORDS_GOOD, "Sum")},
            label="Dead-lettered records (% of records)",
            period=p.period,
        )
        self.backlog_age = self.custom(m.OLDEST_PENDING_AGE_SECONDS, "Maximum", p.gauge_period)
        self.quarantined_files = self.custom(m.QUARANTINED_FILES_TOTAL, "Maximum", p.gauge_period)
        self.archive_delete_failures = self.custom(m.ARCHIVE_DELETE_FAILURES, "Sum")
        #: Iceberg commits that failed after their retries (``None`` unless the table format is Iceberg).
        self.iceberg_commit_failures = (
            self.custom(m.ICEBERG_COMMIT_FAILURES, "Sum") if p.table_format == ICEBERG else None
        )

        self.files_succeeded = self.custom(m.FILES_SUCCEEDED, "Sum", FIVE_MINUTES)
        self.files_failed = self.custom(m.FILES_FAILED, "Sum", FIVE_MINUTES)
        self.files_quarantined = self.custom(m.FILES_QUARANTINED, "Sum", FIVE_MINUTES)
        self.records_good = self.custom(m.RECORDS_GOOD, "Sum", FIVE_MINUTES)
        self.records_rescued = self.custom(m.RECORDS_WITH_RESCUED_DATA, "Sum", FIVE_MINUTES)
        self.bytes_processed = self.custom(m.BYTES_PROCESSED, "Sum", FIVE_MINUTES)
        self.batch_duration = self.custom(m.BATCH_DURATION_SECONDS, "Maximum", FIVE_MINUTES)
        self.files_listed = self.custom(m.FILES_LISTED, "Sum", FIVE_MINUTES)
        self.files_registered = self.custom(m.FILES_REGISTERED, "Sum", FIVE_MINUTES)
        self.files_ignored = self.custom(m.FILES_IGNORED, "Sum", FIVE_MINUTES)
        self.backlog_files = self.custom(m.BACKLOG_FILES, "Maximum", FIVE_MINUTES)

        instance = p.database_instance
        self.rds_cpu: cloudwatch.Metric | None = None
        self.rds_freeable_memory: cloudwatch.Metric | None = None
        self.rds_disk_queue_depth: cloudwatch.Metric | None = None
        self.rds_free_storage: cloudwatch.Metric | None = None
        if instance is not None:
            self.rds_cpu = instance.metric_cpu_utilization(period=FIVE_MINUTES, statistic="Average")
            self.rds_freeable_memory = instance.metric_freeable_memory(period=FIVE_MINUTES, statistic="Average")
            self.rds_disk_queue_depth = instance.metric("DiskQueueDepth", period=FIVE_MINUTES, statistic="Average")
            self.rds_free_storage = instance.metric_free_storage_space(period=FIVE_MINUTES, statistic="Minimum")

    def custom(self, metric_name: str, statistic: str, period: Duration | None = None) -> cloudwatch.Metric:
        """A custom metric of the runtime (:mod:`platform_contract.metrics`) in this environment; ``period``
        defaults to the props' ``period``."""
        if metric_name not in m.ALL_METRICS:
            raise ValueError(f"{metric_name!r} is not a metric of platform_contract.metrics")
        return cloudwatch.Metric(
            namespace=self.props.metrics_namespace,
            metric_name=metric_name,
            dimensions_map={m.ENVIRONMENT_DIMENSION: self.props.environment_name},
            statistic=statistic,
            period=period or self.props.period,
        )  # no unit: an alarm with a unit ignores datapoints published with another (or none)
