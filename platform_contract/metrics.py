"""Names of the custom CloudWatch metrics that the runtime publishes and the alarms watch.

This module is the single contract between the Glue jobs (which publish, :mod:`runtime.metrics`) and
:class:`platform_constructs.PipelineAlarms` (which alarms and draws dashboards); both import it.

Every metric is published under one namespace (:data:`DEFAULT_NAMESPACE` unless the
job argument ``--metrics-namespace`` says otherwise) with exactly one dimension,
:data:`ENVIRONMENT_DIMENSION` (``Environment``) set to the environment name
(``dev``, ``prod``, ...).

Processor (``JsonToParquetBatchProcessor``), once per batch:

* :data:`FILES_SUCCEEDED` (Count): raw files whose batch was published and recorded ``SUCCEEDED``.
* :data:`FILES_FAILED` (Count): raw files recorded ``FAILED`` (they will be retried after a backoff).
* :data:`FILES_QUARANTINED` (Count): raw files moved to ``QUARANTINED`` in this batch
  (``max_attempts`` exhausted, or not a single good record could be read).
* :data:`RECORDS_GOOD` (Count): records written to the curated Parquet.
* :data:`RECORDS_DEAD_LETTERED` (Count): records written to the dead-letter prefix.
* :data:`RECORDS_WITH_RESCUED_DATA` (Count): records written whose ``_rescued_data`` is not null (fields the spec
  does not read, values that did not fit their column), counted in every schema policy (issue 20).
* :data:`BYTES_PROCESSED` (Bytes): raw bytes read by the batch.
* :data:`BATCH_DURATION_SECONDS` (Seconds): wall time of the batch, claim to commit.

Processor, once per run (at its end, 0 included, so that the alarm sees every run):

* :data:`ARCHIVE_DELETE_FAILURES` (Count): raw files copied to the processed prefix whose delete from the raw
  prefix failed in this run (a newer upload kept on purpose is not one); the ``ArchiveDeleteFailures`` alarm
  fires on any.

Processor with ``--table-format iceberg``, once per run (at its end, 0 included):

* :data:`ICEBERG_COMMIT_FAILURES` (Count): batch commits to the Iceberg table that still conflicted with another
  writer after every retry in this run (the run then stops with exit status 3, its batch replayable); the
  ``IcebergCommitFailures`` alarm fires on any.

Lister (``FileListerAndDbPopulator``), once per run:

* :data:`FILES_LISTED` (Count): objects seen under the raw prefixes.
* :data:`FILES_REGISTERED` (Count): objects (or new versions) newly inserted as ``PENDING``.
* :data:`FILES_IGNORED` (Count): listed keys not registered (outside the default listing folders, the pipeline's
  own output, a name that is not UTF-8, longer than 1,024 bytes or holding a NUL character); the run's log and
  summary name them by reason.
* :data:`LISTER_DURATION_SECONDS` (Seconds): wall time of the run. Also the lister's heartbeat:
  the ``ListerHeartbeat`` alarm fires when no run reports it.

Both jobs, at the end of every run (gauges of the tracking table):

* :data:`BACKLOG_FILES` (Count): files ``PENDING``, ``PROCESSING`` or ``FAILED`` (not yet done).
* :data:`OLDEST_PENDING_AGE_SECONDS` (Seconds): age of the oldest file still in the backlog
  (0 when the backlog is empty).
* :data:`QUARANTINED_FILES_TOTAL` (Count): files currently ``QUARANTINED`` (waiting for an operator).
"""

from __future__ import annotations

from platform_contract.defaults import METRICS_NAMESPACE as DEFAULT_NAMESPACE

# DEFAULT_NAMESPACE: default CloudWatch namespace of all custom metrics (defined in platform_contract.defaults).

ENVIRONMENT_DIMENSION = "Environment"
"""The single dimension on every custom metric; its value is the environment name."""

# Processor metrics.
FILES_SUCCEEDED = "FilesSucceeded"
"""Count: files of the batch recorded SUCCEEDED."""
FILES_FAILED = "FilesFailed"
"""Count: files of the batch recorded FAILED (retried later)."""
FILES_QUARANTINED = "FilesQuarantined"
"""Count: files of the batch moved to QUARANTINED."""
RECORDS_GOOD = "RecordsGood"
"""Count: records written to the curated Parquet."""
RECORDS_DEAD_LETTERED = "RecordsDeadLettered"
"""Count: records written to the dead-letter prefix."""
RECORDS_WITH_RESCUED_DATA = "RecordsWithRescuedData"
"""Count: records written that carry rescued data (every schema policy counts them)."""
BYTES_PROCESSED = "BytesProcessed"
"""Bytes: raw bytes read by the batch."""
BATCH_DURATION_SECONDS = "BatchDurationSeconds"
"""Seconds: wall time of one batch."""

# Processor, per run.
ARCHIVE_DELETE_FAILURES = "ArchiveDeleteFailures"
"""Count: raw files archived by copy whose delete from the raw prefix failed in one processor run."""

# Processor with the Iceberg table format, per run.
ICEBERG_COMMIT_FAILURES = "IcebergCommitFailures"
"""Count: batch commits to the Iceberg table that failed after every retry in one processor run."""

# Lister metrics.
FILES_LISTED = "FilesListed"
"""Count: objects seen under the raw prefixes in one lister run."""
FILES_REGISTERED = "FilesRegistered"
"""Count: objects (or new object versions) newly registered as PENDING."""
FILES_IGNORED = "FilesIgnored"
"""Count: listed keys the lister did not register (any reason) in one run."""
LISTER_DURATION_SECONDS = "ListerDurationSeconds"
"""Seconds: wall time of one lister run (also its heartbeat)."""

# Backlog gauges, published by both jobs.
BACKLOG_FILES = "BacklogFiles"
"""Count: files not yet done (PENDING, PROCESSING or FAILED)."""
OLDEST_PENDING_AGE_SECONDS = "OldestPendingAgeSeconds"
"""Seconds: age of the oldest file in the backlog (0 when empty)."""
QUARANTINED_FILES_TOTAL = "QuarantinedFilesTotal"
"""Count: files currently QUARANTINED."""

PROCESSOR_METRICS: tuple[str, ...] = (
    FILES_SUCCEEDED,
    FILES_FAILED,
    FILES_QUARANTINED,
    RECORDS_GOOD,
    RECORDS_DEAD_LETTERED,
    RECORDS_WITH_RESCUED_DATA,
    BYTES_PROCESSED,
    BATCH_DURATION_SECONDS,
)
"""Metrics the processor publishes per batch."""

PROCESSOR_RUN_METRICS: tuple[str, ...] = (ARCHIVE_DELETE_FAILURES,)
"""Metrics the processor publishes once per run, at its end."""

ICEBERG_RUN_METRICS: tuple[str, ...] = (ICEBERG_COMMIT_FAILURES,)
"""Metrics the processor publishes once per run, at its end, with ``--table-format iceberg``."""

LISTER_METRICS: tuple[str, ...] = (FILES_LISTED, FILES_REGISTERED, FILES_IGNORED, LISTER_DURATION_SECONDS)
"""Metrics the lister publishes per run."""

BACKLOG_METRICS: tuple[str, ...] = (BACKLOG_FILES, OLDEST_PENDING_AGE_SECONDS, QUARANTINED_FILES_TOTAL)
"""Gauges both jobs publish at the end of a run."""

ALL_METRICS: frozenset[str] = frozenset(PROCESSOR_METRICS + PROCESSOR_RUN_METRICS + ICEBERG_RUN_METRICS
                                        + LISTER_METRICS + BACKLOG_METRICS)
"""Every custom metric name the runtime may publish."""

UNITS: dict[str, str] = {
    FILES_SUCCEEDED: "Count",
    FILES_FAILED: "Count",
    FILES_QUARANTINED: "Count",
    RECORDS_GOOD: "Count",
    RECORDS_DEAD_LETTERED: "Count",
    RECORDS_WITH_RESCUED_DATA: "Count",
    BYTES_PROCESSED: "Bytes",
    BATCH_DURATION_SECONDS: "Seconds",
    ARCHIVE_DELETE_FAILURES: "Count",
    ICEBERG_COMMIT_FAILURES: "Count",
    FILES_LISTED: "Count",
    FILES_REGISTERED: "Count",
    FILES_IGNORED: "Count",
    LISTER_DURATION_SECONDS: "Seconds",
    BACKLOG_FILES: "Count",
    OLDEST_PENDING_AGE_SECONDS: "Seconds",
    QUARANTINED_FILES_TOTAL: "Count",
}
"""CloudWatch unit of each metric (the values are CloudWatch ``StandardUnit`` names)."""

__all__ = [
    "ALL_METRICS",
    "ARCHIVE_DELETE_FAILURES",
    "BACKLOG_FILES",
    "BACKLOG_METRICS",
    "BATCH_DURATION_SECONDS",
    "BYTES_PROCESSED",
    "DEFAULT_NAMESPACE",
    "ENVIRONMENT_DIMENSION",
    "FILES_FAILED",
    "FILES_IGNORED",
    "FILES_LISTED",
    "FILES_QUARANTINED",
    "FILES_REGISTERED",
    "FILES_SUCCEEDED",
    "ICEBERG_COMMIT_FAILURES",
    "ICEBERG_RUN_METRICS",
    "LISTER_DURATION_SECONDS",
    "LISTER_METRICS",
    "OLDEST_PENDING_AGE_SECONDS",
    "PROCESSOR_METRICS",
    "PROCESSOR_RUN_METRICS",
    "QUARANTINED_FILES_TOTAL",
    "RECORDS_DEAD_LETTERED",
    "RECORDS_GOOD",
    "RECORDS_WITH_RESCUED_DATA",
    "UNITS",
]
