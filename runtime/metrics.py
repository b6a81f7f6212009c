"""Run metrics: published to CloudWatch under the namespace and names :mod:`PipelineAlarms` alarms on, with the
environment as the only dimension; written to the log instead when metrics are off or no AWS credentials exist.

Names, units, namespace and dimension are those of :mod:`platform_contract.metrics`, which the alarms import too
(re-exported here for the commands).
"""

from __future__ import annotations

import atexit
import json
import logging
from dataclasses import dataclass, field

from platform_contract.metrics import (
    ARCHIVE_DELETE_FAILURES,
    BACKLOG_FILES,
    BATCH_DURATION_SECONDS,
    BYTES_PROCESSED,
    DEFAULT_NAMESPACE,
    ENVIRONMENT_DIMENSION,
    FILES_FAILED,
    FILES_IGNORED,
    FILES_LISTED,
    FILES_QUARANTINED,
    FILES_REGISTERED,
    FILES_SUCCEEDED,
    ICEBERG_COMMIT_FAILURES,
    LISTER_DURATION_SECONDS,
    OLDEST_PENDING_AGE_SECONDS,
    QUARANTINED_FILES_TOTAL,
    RECORDS_DEAD_LETTERED,
    RECORDS_GOOD,
    RECORDS_WITH_RESCUED_DATA,
    UNITS,
)

log = logging.getLogger("mldp.metrics")

#: PutMetricData accepts up to 1,000 metric data points per call.
MAX_DATA_POINTS_PER_CALL = 1000


@dataclass
class MetricsPublisher:
    """Publish named figures of one run. ``client=None`` with ``enabled=True`` creates a CloudWatch client;
    when that is impossible (no credentials or region) the figures go to the log and the run goes on.

    A failed ``PutMetricData`` never fails the run: it is counted (``failures``) and, once per run (when the
    process ends, or on :meth:`report_failures`), logged as one warning with the count and the first error."""

    environment: str = "local"
    namespace: str = DEFAULT_NAMESPACE
    enabled: bool = True
    client: object | None = None
    calls: int = field(default=0, init=False)
    failures: int = field(default=0, init=False)
    first_failure: str | None = field(default=None, init=False)
    _reported: bool = field(default=False, init=False, repr=False)

    def publish(self, values: dict[str, float]) -> None:
        """Send ``values`` (metric name -> value; the unit comes from :data:`UNITS`) in as few calls as the
        PutMetricData limits allow."""
        unknown = sorted(set(values) - set(UNITS))
        if unknown:
            raise ValueError(f"unknown metric names {unknown}: add them to platform_contract/metrics.py")
        log.info("metrics %s", json.dumps({"namespace": self.namespace, "environment": self.environment,
                                            **{k: values[k] for k in sorted(values)}}))
        if not self.enabled or not values:
            return
        client = self._client()
        if client is None:
            return
        data = [
            {"MetricName": name, "Value": float(value), "Unit": UNITS[name],
             "Dimensions": [{"Name": ENVIRONMENT_DIMENSION, "Value": self.environment}]}
            for name, value in sorted(values.items())
        ]
        for chunk in _chunks(data, MAX_DATA_POINTS_PER_CALL):
            try:
                client.put_metric_data(Namespace=self.namespace, MetricData=chunk)
                self.calls += 1
            except Exception as exc:  # metrics must never fail the run they describe
                self._count_failure(exc)
                return

    def _count_failure(self, exc: Exception) -> None:
        self.failures += 1
        log.debug("could not publish metrics to CloudWatch: %s", exc)
        if self.first_failure is None:
            self.first_failure = f"{type(exc).__name__}: {exc}"
            atexit.register(self.report_failures)

    def report_failures(self) -> None:
        """Log the run's failed publications as one warning (once; nothing when every publication went out)."""
        if self.failures and not self._reported:
            self._reported = True
            log.warning("%d metric publication(s) to CloudWatch failed in this run (first: %s); the figures are "
                        "in the log's 'metrics' lines", self.failures, self.first_failure)

    def _client(self):
        if self.client is None:
            try:
                import boto3

                session = boto3.session.Session()
                if session.get_credentials() is None or session.region_name is None:
                    log.info("no AWS credentials or region: metrics written to the log only")
                    self.enabled = False
                    return None
                self.client = session.client("cloudwatch")
            except Exception as exc:
                log.warning("no CloudWatch client (%s): metrics written to the log only", exc)
                self.enabled = False
                return None
        return self.client


def _chunks(items: list[dict], size: int) -> list[list[dict]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def backlog_gauges(conn) -> dict[str, float]:
    """The backlog gauges both jobs publish at the end of a run."""
    from runtime.db.tracking import TrackingStore

    gauges = TrackingStore(conn).backlog_gauges()
    return {BACKLOG_FILES: gauges.backlog_files, OLDEST_PENDING_AGE_SECONDS: gauges.oldest_pending_age_seconds,
            QUARANTINED_FILES_TOTAL: gauges.quarantined_files}


def publisher_from_args(args) -> MetricsPublisher:
    """The publisher for a command's ``--environment``, ``--metrics-namespace`` and ``--no-metrics`` options."""
    return MetricsPublisher(
        environment=getattr(args, "environment", None) or "local",
        namespace=getattr(args, "metrics_namespace", None) or DEFAULT_NAMESPACE,
        enabled=not getattr(args, "no_metrics", False),
    )


def archive_figures(counts) -> dict[str, float]:
    """Metric values of one processor run's archiving (a :class:`runtime.jobs.archive.ArchiveCounts`)."""
    return {ARCHIVE_DELETE_FAILURES: counts.delete_failures}


def table_figures(counts) -> dict[str, float]:
    """Metric values of one processor run's Iceberg commits (a :class:`runtime.table.commit.CommitCounts`)."""
    return {ICEBERG_COMMIT_FAILURES: counts.failures}


def lister_figures(summary) -> dict[str, float]:
    """Metric values of one lister run (a :class:`runtime.jobs.lister.ListingSummary`)."""
    return {
        FILES_LISTED: summary.counts.listed,
        FILES_REGISTERED: summary.counts.new + summary.counts.changed,
        FILES_IGNORED: summary.ignored_total,
        LISTER_DURATION_SECONDS: summary.seconds,
    }


#: The contract's names this module re-exports (``runtime.metrics.FILES_SUCCEEDED`` ...), and its own API.
__all__ = [
    "ARCHIVE_DELETE_FAILURES", "BACKLOG_FILES", "BATCH_DURATION_SECONDS", "BYTES_PROCESSED", "DEFAULT_NAMESPACE",
    "ENVIRONMENT_DIMENSION", "FILES_FAILED", "FILES_IGNORED", "FILES_LISTED", "FILES_QUARANTINED", "FILES_REGISTERED",
    "FILES_SUCCEEDED", "ICEBERG_COMMIT_FAILURES",
    "LISTER_DURATION_SECONDS", "MAX_DATA_POINTS_PER_CALL", "OLDEST_PENDING_AGE_SECONDS", "QUARANTINED_FILES_TOTAL",
    "RECORDS_DEAD_LETTERED", "RECORDS_GOOD", "RECORDS_WITH_RESCUED_DATA", "UNITS", "MetricsPublisher",
    "archive_figures", "backlog_gauges", "lister_figures", "publisher_from_args", "table_figures",
]
