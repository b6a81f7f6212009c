"""The constructs' defaults that the runtime must share, each defined once on this side.

The constructs never import the ``runtime`` package (Glue has no CDK, and the constructs are reusable without
the runtime's dependencies), so the values the jobs and the props must agree on are restated here, once, and
``tests/infra/test_defaults.py`` proves that they equal ``runtime/defaults.py``: the job arguments a deployed
workflow passes are the values ``mldp`` would use without them. Props fields default to these names, never to
literals. Plain constants: importable without ``aws_cdk`` (``platform_constructs.metric_names`` re-exports the
namespace for the runtime's tests).
"""

from __future__ import annotations

#: CloudWatch namespace of the runtime's custom metrics (``--metrics-namespace``, the alarms' metrics and the
#: jobs' ``cloudwatch:namespace`` IAM condition).
METRICS_NAMESPACE = "MlDataPlatform"
#: Files claimed per batch (``--batch-size``).
BATCH_SIZE = 1000
#: Attempts before a failing file is quarantined (``--max-attempts``).
MAX_ATTEMPTS = 3
#: How long a claimed batch is owned before another run may recover it (``--lease-seconds``); the run renews it
#: every fifth of it while it lives, so a crashed run's batch is back within minutes.
LEASE_SECONDS = 300
#: Time budget of a scheduled processor run (``--max-minutes`` with ``--drain true``); below the schedule interval.
DRAIN_MINUTES = 12
#: Time budget of a backfill run (``--max-minutes`` of the backfill job and trigger).
BACKFILL_DRAIN_MINUTES = 480
#: What an environment name may be (stack suffix, ``--environment``, the ``Environment`` metric dimension).
ENVIRONMENT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,19}$"

__all__ = [
    "BACKFILL_DRAIN_MINUTES",
    "BATCH_SIZE",
    "DRAIN_MINUTES",
    "ENVIRONMENT_NAME_PATTERN",
    "LEASE_SECONDS",
    "MAX_ATTEMPTS",
    "METRICS_NAMESPACE",
]
