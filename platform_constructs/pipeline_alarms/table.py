"""The alarms of :class:`platform_constructs.pipeline_alarms.PipelineAlarms`, as data: one row per alarm.

What is watched, and why each alarm treats missing data the way it does:

* **Job failures** - the EventBridge failure rule's matches (``AWS/Events TriggeredRules``), so that failures
  also show as an alarm state on the dashboard; missing data is *not breaching* (no event = no failure). It has
  no SNS action: the rule itself already sends one readable message per failed run to the topic, and the alarm's
  own action made every failure notify twice.
* **Lister heartbeat** - a stuck pipeline publishes nothing, so silence is itself a failure. The lister publishes
  ``ListerDurationSeconds`` on every run; the alarm fires when no run reported it within the heartbeat window and
  treats missing data as *breaching*. A seed datapoint published at create (:mod:`.heartbeat_seed`) keeps a
  healthy fresh deploy from paging before the first scheduled run. (The processor has no heartbeat of its own:
  with an empty backlog it rightly does nothing. When it stops running while files wait, the lister's backlog
  gauges trip ``BacklogAge``.)
* **Lister duration** - per-run values, missing data *not breaching*.
* **Dead-letter records** - a rate, not a count: the share of dead-lettered records among all records of a
  period (metric math), above ``dead_letter_percent`` for ``dead_letter_evaluation_periods`` consecutive periods,
  and only from ``dead_letter_records_threshold`` records on; a backfill that meets one bad file no longer flips
  the alarm every period. Missing data *not breaching*.
* **RDS freeable memory** - the threshold is a share of the instance class's memory (:mod:`.instance_memory`).
* **Archive delete failures** - raw files the processor copied to the processed prefix but could not delete
  (``ArchiveDeleteFailures``, published at the end of every processor run, 0 included); missing data *not
  breaching* (no run, nothing archived); event-like, no "OK" mail. Any is an alarm: each run retries the kept
  files, and one that keeps failing stays in the raw prefix forever.
* **Iceberg commit failures** (Iceberg table format only) - batches whose commit to the Iceberg table failed after
  the runtime's bounded retries (``IcebergCommitFailures``, published at the end of every processor run, 0
  included); missing data *not breaching*; event-like. Any is an alarm: one is retried, but a table that keeps
  refusing commits (permissions, a catalog outage, an optimizer that always wins) stops publishing.
* **Backlog age**, **quarantined files** - gauges published at the end of every run; missing data is *ignored*
  (the alarm keeps its state between runs; the heartbeat covers silence).
* **RDS** CPU, freeable memory, disk queue depth, free storage (with a database) - basic RDS metrics, missing
  data *missing* (an instance being modified or rebooted yields gaps).

State-like alarms (heartbeat, duration, backlog, quarantine, RDS) also notify when they return to OK; event-like
ones (job failures, dead-letter records) do not: they return to OK on their own one period later, and an "OK"
mail would carry no information.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_cloudwatch as cloudwatch

from platform_constructs.pipeline_alarms.metrics import PipelineMetrics
from platform_constructs.pipeline_alarms.props import PipelineAlarmsProps
from platform_constructs.pipeline_alarms.rescued_data import rescued_data_rows

# Alarm keys (the keys of ``PipelineAlarms.alarms`` and the alarms' construct ids).
JOB_FAILURES = "JobFailures"
LISTER_HEARTBEAT = "ListerHeartbeat"
LISTER_DURATION = "ListerDuration"
DEAD_LETTER_RECORDS = "DeadLetterRecords"
BACKLOG_AGE = "BacklogAge"
QUARANTINED_FILES = "QuarantinedFiles"
ARCHIVE_DELETE_FAILURES = "ArchiveDeleteFailures"
ICEBERG_COMMIT_FAILURES = "IcebergCommitFailures"
RDS_CPU = "RdsCpu"
RDS_FREEABLE_MEMORY = "RdsFreeableMemory"
RDS_DISK_QUEUE_DEPTH = "RdsDiskQueueDepth"
RDS_FREE_STORAGE = "RdsFreeStorage"

_GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
_GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_LT = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
_NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING
_BREACHING = cloudwatch.TreatMissingData.BREACHING
_IGNORE = cloudwatch.TreatMissingData.IGNORE
_MISSING = cloudwatch.TreatMissingData.MISSING


@dataclass(frozen=True)
class AlarmRow:
    """One alarm: what it watches, when it fires, and what it says (prefixed ``[<environment>]``)."""

    key: str
    metric: cloudwatch.IMetric
    threshold: float
    comparison: cloudwatch.ComparisonOperator
    missing: cloudwatch.TreatMissingData
    evaluation_periods: int
    notify_ok: bool
    description: str
    #: Whether the alarm notifies the topic at all (``JobFailures`` does not: the failure rule does).
    notify: bool = True


def alarm_rows(p: PipelineAlarmsProps, m: PipelineMetrics) -> list[AlarmRow]:
    """The alarms of one environment, in creation order (the heartbeat only with ``lister_heartbeat``, the
    RDS rows only with a database)."""
    jobs, n = p.job_names, p.rds_evaluation_periods
    rows = [
        # key, metric, threshold, comparison, missing data, evaluation periods, notify OK, description
        AlarmRow(JOB_FAILURES, m.job_failures, 1, _GTE, _NOT_BREACHING, 1, False,
                 f"A run of {' or '.join(jobs)} ended in {'/'.join(p.failure_states)} (details in the EventBridge "
                 "notification on this topic, which is the one notification of a failure)", notify=False),
    ]
    if m.lister_heartbeat is not None:
        rows.append(
            AlarmRow(LISTER_HEARTBEAT, m.lister_heartbeat, 1, _LT, _BREACHING, 1, True,
                     f"No {p.lister_job_name} run reported in {p.heartbeat_minutes} minutes: the schedule or "
                     "the workflow is stuck")
        )
    rows += [
        AlarmRow(LISTER_DURATION, m.lister_duration, p.lister_duration_seconds, _GT, _NOT_BREACHING, 1, True,
                 f"A {p.lister_job_name} run took longer than {p.lister_duration_seconds} s"),
        AlarmRow(DEAD_LETTER_RECORDS, m.dead_letter_percent, p.dead_letter_percent, _GT, _NOT_BREACHING,
                 p.dead_letter_evaluation_periods, False,
                 f"More than {p.dead_letter_percent} % of the records went to the dead-letter prefix for "
                 f"{p.dead_letter_evaluation_periods} periods in a row (from {p.dead_letter_records_threshold} "
                 "record(s) a period)"),
        AlarmRow(BACKLOG_AGE, m.backlog_age, p.backlog_age_seconds, _GT, _IGNORE, 1, True,
                 f"The oldest file waiting for processing is older than {p.backlog_age_seconds} s"),
        AlarmRow(QUARANTINED_FILES, m.quarantined_files, p.quarantined_files_threshold, _GTE, _IGNORE, 1, True,
                 f"At least {p.quarantined_files_threshold} file(s) are QUARANTINED and wait for an operator "
                 "(mldp CLI: inspect, re-queue or release)"),
        AlarmRow(ARCHIVE_DELETE_FAILURES, m.archive_delete_failures, 1, _GTE, _NOT_BREACHING, 1, False,
                 f"A {p.processor_job_name} run archived raw file(s) but could not delete them from the raw prefix "
                 "(the run's log names them and the reason; an SDK too old for conditional deletes fails the run)"),
    ]
    if m.iceberg_commit_failures is not None:
        rows.append(
            AlarmRow(ICEBERG_COMMIT_FAILURES, m.iceberg_commit_failures, 1, _GTE, _NOT_BREACHING, 1, False,
                     f"A {p.processor_job_name} run could not commit a batch to the Iceberg table after its retries "
                     "(a conflict with another writer such as the Glue compaction optimizer, or a catalog error); "
                     "the batch charged no file and is retried by the next run")
        )
    rows += [AlarmRow(*fields) for fields in rescued_data_rows(p, m)]
    if m.rds_cpu and m.rds_freeable_memory and m.rds_disk_queue_depth and m.rds_free_storage:
        rows += [
            AlarmRow(RDS_CPU, m.rds_cpu, p.rds_cpu_percent, _GT, _MISSING, n, True,
                     f"Tracking database CPU above {p.rds_cpu_percent} %"),
            AlarmRow(RDS_FREEABLE_MEMORY, m.rds_freeable_memory, p.freeable_memory_threshold_bytes or 0, _LT,
                     _MISSING, n, True,
                     f"Tracking database freeable memory below {p.freeable_memory_threshold_bytes} bytes"),
            AlarmRow(RDS_DISK_QUEUE_DEPTH, m.rds_disk_queue_depth, p.rds_disk_queue_depth, _GT, _MISSING, n, True,
                     f"Tracking database disk queue depth above {p.rds_disk_queue_depth}"),
            AlarmRow(RDS_FREE_STORAGE, m.rds_free_storage, p.rds_free_storage_bytes, _LT, _MISSING, 1, True,
                     f"Tracking database free storage below {p.rds_free_storage_bytes} bytes (storage autoscaling "
                     "reached max_allocated_storage?)"),
        ]
    return rows
