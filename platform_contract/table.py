"""The curated table's format and, for the Iceberg format, where its catalog, warehouse and table are.

Both halves read these: the runtime (``mldp process --table-format``, the processor's job arguments) and the
workflow construct (the Glue database and table it declares, the IAM it grants, the job arguments it passes).
Plain constants, Python 3.9-compatible.
"""

from __future__ import annotations

#: Today's layout: loose Parquet files partitioned by year/month/day/mode under ``CURATED_PREFIX``.
PARQUET = "parquet"
#: An Apache Iceberg table: one atomic commit per batch, replaced versions retracted, pinned snapshots.
ICEBERG = "iceberg"
#: Every table format, the default first.
TABLE_FORMATS = (PARQUET, ICEBERG)
#: The default table format (seed-compatible).
DEFAULT_TABLE_FORMAT = PARQUET

#: The Iceberg warehouse: tables live under ``s3://<bucket>/<ICEBERG_WAREHOUSE_PREFIX>`` (a local folder locally).
ICEBERG_WAREHOUSE_PREFIX = "curated-data-lake/iceberg/"
#: The Iceberg table's name inside its namespace (a Glue database on AWS).
ICEBERG_TABLE_NAME = "json_parsed"
#: The local ``SqlCatalog``'s namespace; on AWS the namespace is the Glue database the workflow construct creates.
ICEBERG_LOCAL_NAMESPACE = "mldp"
#: The PostgreSQL schema that holds the local ``SqlCatalog``'s tables in the embedded tracking database.
ICEBERG_SQL_CATALOG_SCHEMA = "iceberg_catalog"
#: The snapshot-summary property that carries the tracking batch id of the batch a commit published.
BATCH_ID_PROPERTY = "mldp.batch-id"

#: Job arguments of the processor for the table (``--table-format`` and, for Iceberg on Glue, where the table is).
TABLE_FORMAT_ARGUMENT = "--table-format"
ICEBERG_DATABASE_ARGUMENT = "--iceberg-database"
ICEBERG_TABLE_ARGUMENT = "--iceberg-table"
ICEBERG_WAREHOUSE_ARGUMENT = "--iceberg-warehouse"

__all__ = [
    "BATCH_ID_PROPERTY",
    "DEFAULT_TABLE_FORMAT",
    "ICEBERG",
    "ICEBERG_DATABASE_ARGUMENT",
    "ICEBERG_LOCAL_NAMESPACE",
    "ICEBERG_SQL_CATALOG_SCHEMA",
    "ICEBERG_TABLE_ARGUMENT",
    "ICEBERG_TABLE_NAME",
    "ICEBERG_WAREHOUSE_ARGUMENT",
    "ICEBERG_WAREHOUSE_PREFIX",
    "PARQUET",
    "TABLE_FORMATS",
    "TABLE_FORMAT_ARGUMENT",
]
