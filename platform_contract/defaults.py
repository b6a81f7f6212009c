"""Every default both halves share, in one place.

``mldp`` options, :class:`runtime.jobs.settings.ProcessorSettings`, the retry policy and the lister read them
from here, and the constructs' props (``JsonToParquetWorkflowProps``, ``PipelineAlarmsProps``) default to the same
names, never to literals: the job arguments a deployed workflow passes are the values ``mldp`` would use without
them. Plain constants: Python 3.9-compatible, importable on Glue and without ``aws_cdk``.
"""

from __future__ import annotations

#: CloudWatch namespace of the runtime's custom metrics (``--metrics-namespace``, the alarms' metrics and the
#: jobs' ``cloudwatch:namespace`` IAM condition).
METRICS_NAMESPACE = "MlDataPlatform"
#: Files claimed per batch (``--batch-size``).
BATCH_SIZE = 1000
#: Attempts before a failing file is quarantined (``--max-attempts``).
MAX_ATTEMPTS = 3
#: The largest ``--max-attempts`` accepted (a file failing this often needs a person, not another retry).
MAX_ATTEMPTS_LIMIT = 100
#: How long a claimed batch is owned before another run may recover it (``--lease-seconds``). The run's heartbeat
#: renews it every fifth of it (60 s) from the claim to the clean-up, so a live run never loses it, and a run that
#: died without a trace is recovered within this time (one whose process or Glue job run has ended: at once).
LEASE_SECONDS = 300
#: The shortest ``--lease-seconds`` accepted. The heartbeat renews a lease every fifth of it on a connection of its
#: own (every 6 s at 30 s), and a renewal that must first reconnect (up to the 10 s connect timeout) still lands
#: before a 30 s lease lapses; a shorter lease could lapse under a live run, and another run would take its batch.
MIN_LEASE_SECONDS = 30
#: First retry delay of a failed file; doubled per attempt up to :data:`BACKOFF_MAX_SECONDS`.
BACKOFF_BASE_SECONDS = 60
#: Longest retry delay of a failed file.
BACKOFF_MAX_SECONDS = 6 * 3600
#: Parallel S3/file operations per batch (pre-check, publish, archive).
IO_WORKERS = 16
#: Time budget of a scheduled processor run (``--max-minutes`` with ``--drain true``); below the schedule interval.
DRAIN_MINUTES = 12
#: Time budget of a backfill run (``--max-minutes`` of the backfill job and trigger).
BACKFILL_DRAIN_MINUTES = 480
#: Keys the lister registers per transaction (``--chunk-size``).
LISTER_CHUNK_SIZE = 20_000
#: Threads listing disjoint key ranges at once (``mldp list --parallelism``; 1: one paginator per prefix). S3 answers
#: a page in 30-100 ms, so one paginator tops out near 10-30k keys/s; 16 threads stay within one boto3 connection
#: pool (32) and the Glue Python shell's single DPU.
LISTER_PARALLELISM = 16
#: Listing threads per listing process (``mldp list --listing-processes``; :mod:`runtime.jobs.listing_processes`):
#: by default a listing runs ``min(usable CPUs, parallelism // 8)`` processes, one process being threads only. One
#: interpreter's GIL carries about 8 threads of listing at 30-100 ms a page before its CPU is the ceiling.
LISTER_THREADS_PER_PROCESS = 8
#: Value of the ``Environment`` metric dimension of a local run (``--environment``).
LOCAL_ENVIRONMENT = "local"

__all__ = [
    "BACKFILL_DRAIN_MINUTES",
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_MAX_SECONDS",
    "BATCH_SIZE",
    "DRAIN_MINUTES",
    "IO_WORKERS",
    "LEASE_SECONDS",
    "LISTER_CHUNK_SIZE",
    "LISTER_PARALLELISM",
    "LISTER_THREADS_PER_PROCESS",
    "LOCAL_ENVIRONMENT",
    "MAX_ATTEMPTS",
    "MAX_ATTEMPTS_LIMIT",
    "METRICS_NAMESPACE",
    "MIN_LEASE_SECONDS",
]
