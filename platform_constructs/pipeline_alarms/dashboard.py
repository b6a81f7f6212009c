"""The CloudWatch dashboard of :class:`platform_constructs.pipeline_alarms.PipelineAlarms`.

Rows: a title, the state of every alarm, the processor's throughput, the lister and batch timings, the backlog
gauges, the alarmed events (failed job runs, lister heartbeat) and, with a database, RDS. Every graph draws the
metric objects of :class:`~platform_constructs.pipeline_alarms.metrics.PipelineMetrics` - for an alarmed metric,
the very object its alarm watches - and each alarm's threshold as a horizontal annotation on its graph
(``Alarm.to_annotation``), as cdk-monitoring-constructs does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from platform_constructs.pipeline_alarms import table as t
from platform_constructs.pipeline_alarms.metrics import PipelineMetrics
from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps


def create_dashboard(
    scope: Construct, p: PipelineAlarmsProps, m: PipelineMetrics, alarms: Mapping[str, cloudwatch.Alarm]
) -> cloudwatch.Dashboard:
    """The dashboard (construct id ``Dashboard`` in ``scope``) of the metrics ``m`` and the ``alarms`` by key."""

    def graph(
        title: str, metrics: Sequence[cloudwatch.IMetric | None], alarm_keys: Sequence[str] = (), width: int = 8
    ) -> cloudwatch.GraphWidget:
        annotations = [alarms[key].to_annotation() for key in alarm_keys if key in alarms]
        return cloudwatch.GraphWidget(
            title=title,
            left=[metric for metric in metrics if metric is not None],
            left_annotations=annotations or None,
            width=width,
            height=6,
        )

    dashboard = cloudwatch.Dashboard(scope, "Dashboard", dashboard_name=p.dashboard_name)
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
        cloudwatch.AlarmStatusWidget(alarms=list(alarms.values()), title="Alarms", width=24, height=4)
    )
    dashboard.add_widgets(
        graph("Files per outcome", [m.files_succeeded, m.files_failed, m.files_quarantined], width=6),
        graph("Records", [m.records_good, m.dead_letter_records, m.records_rescued], width=6),
        graph("Dead-lettered (% of records)", [m.dead_letter_percent], [t.DEAD_LETTER_RECORDS], width=6),
        graph("Bytes processed", [m.bytes_processed], width=6),
    )
    dashboard.add_widgets(
        graph("Batch duration (s)", [m.batch_duration]),
        graph("Lister: listed / registered / ignored", [m.files_listed, m.files_registered, m.files_ignored]),
        graph("Lister duration (s)", [m.lister_duration], [t.LISTER_DURATION]),
    )
    dashboard.add_widgets(
        graph("Backlog files", [m.backlog_files]),
        graph("Oldest pending age (s)", [m.backlog_age], [t.BACKLOG_AGE]),
        graph("Quarantined files", [m.quarantined_files], [t.QUARANTINED_FILES]),
    )
    events = [graph("Failed job runs", [m.job_failures], [t.JOB_FAILURES], width=12)]
    if m.lister_heartbeat is not None:
        events.append(graph("Lister runs (heartbeat)", [m.lister_heartbeat], [t.LISTER_HEARTBEAT], width=12))
    dashboard.add_widgets(*events)
    dashboard.add_widgets(
        graph("Archive: raw files not deleted", [m.archive_delete_failures], [t.ARCHIVE_DELETE_FAILURES], width=12),
        *([graph("Iceberg: failed commits", [m.iceberg_commit_failures], [t.ICEBERG_COMMIT_FAILURES], width=12)]
          if m.iceberg_commit_failures is not None else []),
    )
    if p.database_instance is not None:
        dashboard.add_widgets(
            graph("RDS CPU (%)", [m.rds_cpu], [t.RDS_CPU], width=6),
            graph("RDS freeable memory", [m.rds_freeable_memory], [t.RDS_FREEABLE_MEMORY], width=6),
            graph("RDS disk queue depth", [m.rds_disk_queue_depth], [t.RDS_DISK_QUEUE_DEPTH], width=6),
            graph("RDS free storage", [m.rds_free_storage], [t.RDS_FREE_STORAGE], width=6),
        )
    return dashboard
