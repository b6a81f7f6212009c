"""The processor's Glue entry passes the Iceberg table's job arguments (:mod:`platform_contract.table`, the names
the workflow construct sets) on to ``mldp process``, and ``mldp process`` accepts them."""

from __future__ import annotations

from platform_contract.table import (
    ICEBERG,
    ICEBERG_DATABASE_ARGUMENT,
    ICEBERG_TABLE_ARGUMENT,
    ICEBERG_WAREHOUSE_ARGUMENT,
    TABLE_FORMAT_ARGUMENT,
)
from runtime.cli import build_parser
from runtime.glue import json_to_parquet_batch_processor as processor_entry
from tests.runtime.glue.test_args import SCRIPT, _pairs, resolver  # noqa: F401  (the fixture)

TABLE_ARGUMENTS = {TABLE_FORMAT_ARGUMENT: ICEBERG, ICEBERG_DATABASE_ARGUMENT: "mldp_dev",
                   ICEBERG_TABLE_ARGUMENT: "json_parsed", ICEBERG_WAREHOUSE_ARGUMENT: "s3://b/curated-data-lake/iceberg"}


def test_the_table_job_arguments_reach_mldp_process(resolver):  # noqa: F811
    argv = [SCRIPT, "--store", "s3://b", "--JOB_RUN_ID", "jr_1"]
    for name, value in TABLE_ARGUMENTS.items():
        argv += [name, value]
    cli = processor_entry.cli_argv(argv)
    options, _flags = _pairs(cli)
    assert {k: options[k] for k in TABLE_ARGUMENTS} == TABLE_ARGUMENTS
    parsed = build_parser().parse_args(cli)
    assert (parsed.table_format, parsed.iceberg_database, parsed.iceberg_table, parsed.iceberg_warehouse) == (
        ICEBERG, "mldp_dev", "json_parsed", "s3://b/curated-data-lake/iceberg")
