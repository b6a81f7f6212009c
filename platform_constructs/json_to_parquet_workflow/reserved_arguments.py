"""The Glue job arguments the workflow sets itself, and the rules of the escape hatch that adds others.

``extra_lister_arguments`` / ``extra_processor_arguments`` add ``DefaultArguments`` and ``spark_conf`` becomes
Glue's ``--conf``. An argument the construct sets itself (:data:`LISTER_RESERVED`, :data:`PROCESSOR_RESERVED`) is
refused with the prop that sets it, so an override can never silently break the runtime contract or the bundling.
The props apply these rules (:meth:`JsonToParquetWorkflowSettings.validate`) and :mod:`.job_arguments`, which
builds the argument maps from the props, re-exports the tables: the props import this module, the argument
builder imports the props, and no import cycle is left.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from platform_constructs._shared.validation import PropsError, check_string_map

#: Arguments both jobs get, and the prop that sets each.
COMMON_RESERVED: dict[str, str] = {
    "--store": "bucket",
    "--db-secret-arn": "database (the lister's only, with IAM authentication)",
    "--db-host": "database",
    "--db-port": "database",
    "--db-name": "the database's TrackingDatabaseProps.database_name",
    "--db-iam-user": "the database's TrackingDatabaseProps.iam_authentication",
    "--db-ca-bundle": "database_ca_bundle",
    "--environment": "environment_name",
    "--metrics-namespace": "metrics_namespace",
    "--job-language": "the construct (Python jobs)",
    "--raw-prefix": "the bucket's TrackedRawBucketProps.raw_prefix",
    "--processed-prefix": "the bucket's TrackedRawBucketProps.processed_prefix",
    "--curated-prefix": "the bucket's TrackedRawBucketProps.curated_prefix",
    "--staging-prefix": "the bucket's TrackedRawBucketProps.staging_prefix",
    "--dead-letter-prefix": "the bucket's TrackedRawBucketProps.dead_letter_prefix",
    # set by Glue itself
    "--JOB_NAME": "Glue",
    "--JOB_ID": "Glue",
    "--JOB_RUN_ID": "Glue",
    "--debug": "Glue",
    "--mode": "Glue",
}
#: Arguments of the lister job, and the prop that sets each.
LISTER_RESERVED: dict[str, str] = {
    **COMMON_RESERVED,
    "--extra-py-files": "runtime_dir and wheels_dir (the bundled runtime wheel and dependencies)",
    "library-set": "the construct (Python shell analytics libraries)",
    "--prefixes": "listing_prefixes",
    "--inventory-location": "discovery_mode (inventory, events: the raw prefix's S3 Inventory reports)",
    "--full-listing-hours": "full_listing_hours",
}
#: Arguments of the processor and backfill jobs, and the prop that sets each.
PROCESSOR_RESERVED: dict[str, str] = {
    **COMMON_RESERVED,
    "--batch-size": "batch_size",
    "--max-attempts": "max_attempts",
    "--lease-seconds": "lease_seconds",
    "--max-minutes": "drain_minutes / backfill_drain_minutes",
    "--drain": "the construct (the triggers drain, a bare start-job-run of the processor does not)",
    "--extra-py-files": "runtime_dir (the bundled runtime.zip)",
    "--extra-jars": "runtime_dir (the bundled one-parse JSON reader, runtime/spark/native)",
    "--additional-python-modules": "wheels_dir (the bundled dependency wheels)",
    "--python-modules-installer-option": "the construct (offline installation of the bundled wheels)",
    "--TempDir": "the bucket's staging prefix",
    "--job-bookmark-option": "the construct (the tracking table, not bookmarks, says what is done)",
    "--enable-metrics": "the construct (Glue job metrics)",
    "--enable-observability-metrics": "the construct (Glue observability metrics)",
    "--enable-continuous-cloudwatch-log": "the construct (continuous logging)",
    "--enable-auto-scaling": "the construct (processor_number_of_workers is the maximum)",
    "--transform-spec": "transform_spec_uri",
    "--conf": "spark_conf",
    "--table-format": "table_format",
    "--iceberg-database": "catalog_database_name (the Iceberg table lives in the catalog database)",
    "--iceberg-table": "the construct (platform_contract.table.ICEBERG_TABLE_NAME)",
    "--iceberg-warehouse": "the bucket (its Iceberg warehouse prefix, platform_contract.table)",
}
_SPARK_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


# ------------------------------------------------------------------------------------------------------------
# Rules of the escape hatch (applied by JsonToParquetWorkflowSettings.validate)
# ------------------------------------------------------------------------------------------------------------
def check_extra_arguments(owner: str, field: str, arguments: Mapping[str, str], *, job: str) -> None:
    """``arguments`` must be ``--name: value`` strings that the construct does not set itself for ``job``."""
    check_string_map(owner, field, arguments)
    reserved = LISTER_RESERVED if job == "lister" else PROCESSOR_RESERVED
    for key in arguments:
        if key in reserved:
            raise PropsError(
                owner, field,
                f"sets {key!r}, which the construct sets itself from {reserved[key]}: change that instead",
            )
        if not key.startswith("--") or len(key) < 3 or any(c.isspace() for c in key):
            raise PropsError(owner, field, f"key {key!r} must be a Glue job argument like '--enable-job-insights'")


def check_spark_conf(owner: str, field: str, conf: Mapping[str, str]) -> None:
    """``conf`` must map Spark property names (``spark.sql.shuffle.partitions``) to values without ``--conf``."""
    check_string_map(owner, field, conf)
    for key, value in conf.items():
        if not _SPARK_KEY.match(key):
            raise PropsError(
                owner, field, f"key {key!r} must be a Spark property name like 'spark.sql.adaptive.enabled'"
            )
        if not value or "--conf" in value:
            raise PropsError(owner, field, f"value of {key!r} must be non-empty and must not contain '--conf'")
