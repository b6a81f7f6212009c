"""The Glue job arguments of :class:`platform_constructs.json_to_parquet_workflow.JsonToParquetWorkflow`.

Which job gets which argument, built from the props as plain dicts (the jobs and triggers only pass them on):

* both jobs: the runtime contract (``--store``, the database's ``--db-*`` of :mod:`.database_access`,
  ``--environment``, ``--metrics-namespace``)
  and the bucket's layout (``--raw-prefix`` ... ``--dead-letter-prefix``), so a bucket with its own prefixes is
  processed where IAM lets the jobs act;
* the lister: ``--db-secret-arn`` (it alone migrates, as the owner), its bundled code (``--extra-py-files``:
  runtime wheel and cp39 wheels) and ``--prefixes``;
* the processor: the claim settings (``--batch-size``, ``--max-attempts``, ``--lease-seconds``), a *non-draining*
  default (``--drain false``; the workflow's trigger passes :func:`drain_arguments`), its bundled code, Glue's
  scratch ``--TempDir`` under the staging prefix, and the Glue features it relies on;
* with ``table_format`` iceberg, the processor also gets the table's arguments (:func:`table_arguments`);
* the backfill job: the processor's arguments, draining with the backfill budget by default.

**Escape hatch.** ``extra_lister_arguments`` / ``extra_processor_arguments`` add ``DefaultArguments`` and
``spark_conf`` becomes Glue's ``--conf`` (``k1=v1 --conf k2=v2``), after the processor's own Spark setting (the
runtime jar's row cache, :data:`platform_contract.spark.NATIVE_SPARK_CONF`), which it may override. An argument the
construct sets itself (:data:`LISTER_RESERVED`, :data:`PROCESSOR_RESERVED`) is refused with the prop that sets it,
so an override can never silently break the runtime contract or the bundling; those tables and rules are in
:mod:`.reserved_arguments` (which the props apply), re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping

from platform_constructs.json_to_parquet_workflow.database_access import database_arguments
from platform_constructs.json_to_parquet_workflow.glue.assets import GlueCodeAssets
from platform_constructs.json_to_parquet_workflow.props import JsonToParquetWorkflowProps
from platform_constructs.json_to_parquet_workflow.reserved_arguments import (
    COMMON_RESERVED,
    LISTER_RESERVED,
    PROCESSOR_RESERVED,
)
from platform_contract.spark import NATIVE_SPARK_CONF
from platform_contract.table import (
    ICEBERG,
    ICEBERG_DATABASE_ARGUMENT,
    ICEBERG_TABLE_ARGUMENT,
    ICEBERG_TABLE_NAME,
    ICEBERG_WAREHOUSE_ARGUMENT,
    ICEBERG_WAREHOUSE_PREFIX,
    TABLE_FORMAT_ARGUMENT,
)


def spark_conf_argument(conf: Mapping[str, str]) -> str:
    """Glue's ``--conf`` value for ``conf``: ``k1=v1 --conf k2=v2`` (in ``conf``'s order)."""
    return " --conf ".join(f"{key}={value}" for key, value in conf.items())


# ------------------------------------------------------------------------------------------------------------
# Argument maps
# ------------------------------------------------------------------------------------------------------------
def drain_arguments(max_minutes: int) -> dict[str, str]:
    """Drain the backlog within ``max_minutes`` (the triggers' arguments, and the backfill job's defaults)."""
    return {"--drain": "true", "--max-minutes": str(max_minutes)}


def common_arguments(p: JsonToParquetWorkflowProps, *, migrates: bool = False) -> dict[str, str]:
    """The runtime contract and the bucket's layout, for both jobs (``migrates``: the lister, the only job that
    gets the database secret; see :mod:`.database_access`)."""
    layout = p.bucket.props
    return {
        "--store": p.bucket.uri,
        **database_arguments(p, migrates=migrates),
        "--environment": p.environment_name,
        "--metrics-namespace": p.metrics_namespace,
        "--job-language": "python",
        # the bucket's layout, so a bucket with its own prefixes is processed where IAM lets the jobs act
        "--raw-prefix": layout.raw_prefix,
        "--processed-prefix": layout.processed_prefix,
        "--curated-prefix": layout.curated_prefix,
        "--staging-prefix": layout.staging_prefix,
        "--dead-letter-prefix": layout.dead_letter_prefix,
    }


def lister_arguments(p: JsonToParquetWorkflowProps, code: GlueCodeAssets, *, migrates: bool = True) -> dict[str, str]:
    """``DefaultArguments`` of the Python-shell lister (``migrates``: the lister itself; the event consumer, which
    runs the same script, gets the endpoint and no secret, like the processor)."""
    arguments = {
        **common_arguments(p, migrates=migrates),
        "--extra-py-files": ",".join(f.s3_url for f in (code.runtime_wheel, *code.python_shell_wheels)),
        "library-set": "analytics",
    }
    if p.listing_prefixes:
        arguments["--prefixes"] = ",".join(p.listing_prefixes)
    return {**arguments, **p.extra_lister_arguments}


def table_arguments(p: JsonToParquetWorkflowProps) -> dict[str, str]:
    """The curated table's arguments of the processor: none for Parquet (the runtime's default, so the Parquet
    jobs keep their arguments), the format and where the table is for Iceberg (:mod:`platform_contract.table`)."""
    if p.table_format != ICEBERG:
        return {}
    return {
        TABLE_FORMAT_ARGUMENT: ICEBERG,
        ICEBERG_DATABASE_ARGUMENT: p.catalog_database,
        ICEBERG_TABLE_ARGUMENT: ICEBERG_TABLE_NAME,
        ICEBERG_WAREHOUSE_ARGUMENT: p.bucket.uri_for(ICEBERG_WAREHOUSE_PREFIX),
    }


def processor_arguments(p: JsonToParquetWorkflowProps, code: GlueCodeAssets) -> dict[str, str]:
    """``DefaultArguments`` of the scheduled Spark processor (no drain: the workflow's trigger passes it)."""
    arguments = {
        **common_arguments(p),
        "--batch-size": str(p.batch_size),
        "--max-attempts": str(p.max_attempts),
        "--lease-seconds": str(p.lease_seconds),
        "--max-minutes": str(p.drain_minutes),
        "--drain": "false",
        "--extra-py-files": code.runtime_zip.s3_url,
        "--extra-jars": code.native_jar.s3_url,
        "--additional-python-modules": ",".join(f.s3_url for f in code.spark_wheels),
        "--python-modules-installer-option": "--no-index",
        "--TempDir": p.bucket.uri_for(p.bucket.props.glue_temp_prefix),
        "--job-bookmark-option": "job-bookmark-disable",
        "--enable-metrics": "true",
        "--enable-observability-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
        "--enable-auto-scaling": "true",
    }
    if p.transform_spec_uri is not None:
        arguments["--transform-spec"] = p.transform_spec_uri
    arguments.update(table_arguments(p))
    # the runtime jar's cache of binary rows (platform_contract.spark), then the props' Spark properties (which may
    # set the same key: theirs wins)
    arguments["--conf"] = spark_conf_argument({**NATIVE_SPARK_CONF, **p.spark_conf})
    return {**arguments, **p.extra_processor_arguments}


def backfill_arguments(p: JsonToParquetWorkflowProps, code: GlueCodeAssets) -> dict[str, str]:
    """The processor's arguments, except that a bare ``start-job-run`` drains with the backfill budget (the
    backfill trigger passes the same two values explicitly)."""
    return {**processor_arguments(p, code), **drain_arguments(p.backfill_drain_minutes)}


__all__ = [
    "COMMON_RESERVED",
    "LISTER_RESERVED",
    "PROCESSOR_RESERVED",
    "backfill_arguments",
    "common_arguments",
    "drain_arguments",
    "lister_arguments",
    "processor_arguments",
    "spark_conf_argument",
    "table_arguments",
]
