"""Glue entry script of ``JsonToParquetBatchProcessor`` (also runnable locally with the same arguments).

Glue job arguments: ``--store s3://bucket``, ``--db-host H --db-port P --db-name D --db-iam-user U`` (IAM
authentication, no secret; or ``--db URL``), ``--batch-size N``,
``--max-attempts N``, ``--lease-seconds S``, ``--drain true|false``, ``--max-minutes M``,
``--transform-spec s3://.../spec.json``, ``--environment dev``, ``--metrics-namespace MlDataPlatform``.
"""

from __future__ import annotations

import sys

from runtime.cli import main
from runtime.glue.args import job_cli_argv
from runtime.layout import PREFIX_OPTIONS

OPTIONS = ["store", "db", "db-host", "db-port", "db-name", "db-secret-arn", "db-iam-user",
           "db-ca-bundle",
           "batch-size", "max-attempts", "lease-seconds", "drain", "max-minutes",
           "transform-spec", "environment", "metrics-namespace", "no-metrics", *PREFIX_OPTIONS.values()]


def cli_argv(argv: list) -> list:
    """The ``mldp process`` command line for this job run (``argv`` is ``sys.argv``: the script path first)."""
    return job_cli_argv("process", argv, OPTIONS, flags=["drain", "no-metrics"])


if __name__ == "__main__":
    sys.exit(main(cli_argv(sys.argv)))
