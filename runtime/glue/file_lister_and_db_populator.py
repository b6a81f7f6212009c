"""Glue entry script of ``FileListerAndDbPopulator`` (also runnable locally with the same arguments).

Glue job arguments: ``--store s3://bucket``, ``--db-secret-arn ARN`` (or ``--db URL``), ``--prefixes a/,b/``,
``--environment dev``, ``--metrics-namespace MlDataPlatform``.
"""

from __future__ import annotations

import sys

from runtime.cli import main
from runtime.glue.args import job_cli_argv
from runtime.layout import PREFIX_OPTIONS

OPTIONS = ["store", "db", "db-host", "db-port", "db-name", "db-secret-arn", "db-iam-user",
           "db-ca-bundle",
           "prefixes", "chunk-size", "wait-seconds", "environment", "metrics-namespace",
           "no-metrics", *PREFIX_OPTIONS.values(),
           "parallelism", "listing-processes",  # parallel listing (issue 21)
           "inventory-location", "full-listing-hours",  # discovery_mode inventory and events
           "from-queue", "max-seconds", "poll-seconds", "chunk-messages"]  # the FileEventConsumer job (issue 21)


def cli_argv(argv: list) -> list:
    """The ``mldp list`` command line for this job run (``argv`` is ``sys.argv``: the script path first)."""
    return job_cli_argv("list", argv, OPTIONS, flags=["no-metrics"])


if __name__ == "__main__":
    sys.exit(main(cli_argv(sys.argv)))
