"""Glue entry script of ``JsonToParquetBatchProcessor`` (also runnable locally with the same arguments).

Glue job arguments: ``--store s3://bucket``, ``--db-host H --db-port P --db-name D --db-iam-user U`` (IAM
authentication, no secret; or ``--db URL``), ``--batch-size N``,
``--max-attempts N``, ``--lease-seconds S``, ``--drain true|false``, ``--max-minutes M``,
``--transform-spec s3://.../spec.json``, ``--environment dev``, ``--metrics-namespace MlDataPlatform``, and for the
Iceberg table format (:mod:`platform_contract.table`) ``--table-format iceberg``, ``--iceberg-database``,
``--iceberg-table``, ``--iceberg-warehouse``.
"""

from __future__ import annotations

import sys

from platform_contract.table import (
    ICEBERG_DATABASE_ARGUMENT,
    ICEBERG_TABLE_ARGUMENT,
    ICEBERG_WAREHOUSE_ARGUMENT,
    TABLE_FORMAT_ARGUMENT,
)
from runtime.cli import main
from runtime.glue.args import job_cli_argv
from runtime.layout import PREFIX_OPTIONS

#: The table's job arguments (``--table-format`` ...), without their dashes.
TABLE_OPTIONS = [argument[2:] for argument in (TABLE_FORMAT_ARGUMENT, ICEBERG_DATABASE_ARGUMENT,
                                               ICEBERG_TABLE_ARGUMENT, ICEBERG_WAREHOUSE_ARGUMENT)]

OPTIONS = ["store", "db", "db-host", "db-port", "db-name", "db-secret-arn", "db-iam-user",
           "db-ca-bundle",
           "batch-size", "max-attempts", "lease-seconds", "drain", "max-minutes",
           "transform-spec", "environment", "metrics-namespace", "no-metrics", *PREFIX_OPTIONS.values(),
           *TABLE_OPTIONS]


def cli_argv(argv: list) -> list:
    """The ``mldp process`` command line for this job run (``argv`` is ``sys.argv``: the script path first)."""
    return job_cli_argv("process", argv, OPTIONS, flags=["drain", "no-metrics"])


if __name__ == "__main__":
    sys.exit(main(cli_argv(sys.argv)))
