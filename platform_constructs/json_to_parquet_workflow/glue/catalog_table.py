"""``CuratedCatalogTable``: a Glue Data Catalog database and table over the curated Parquet.

The table uses partition projection, so Athena (and anything else that honours it) can query new partitions
as soon as the processor publishes them: no crawler, no ``MSCK REPAIR TABLE``, no ``BatchCreatePartition``.
The partition layout is the processor's Hive-style ``year=YYYY/month=M/day=D/mode=X`` (Spark writes integers
without zero padding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from constructs import Construct

from platform_constructs._shared.validation import check_prefix

#: Data columns of the runtime's default transform (``runtime/transforms/default_spec.json``, the reference
#: mapping), then ``_rescued_data`` (a JSON string, null when nothing was rescued; absent from the files of a
#: ``schema_policy: ignore`` spec, where it reads null) and the ``source_s3_path`` / ``source_version`` lineage
#: columns, in the order the processor writes them; a test keeps the two in line. A spec change reaches the table by
#: a deploy with the new columns (docs/rescued-data.md, "Readers and the catalog").
DEFAULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "string"),
    ("event_date", "date"),
    ("event_mode", "string"),
    ("nested_field1", "string"),
    ("original_complex_list", "array<struct<name:string,value:double>>"),
    ("_rescued_data", "string"),
    ("source_s3_path", "string"),
    ("source_version", "int"),
)
#: Partition columns, in path order.
DEFAULT_PARTITION_KEYS: tuple[tuple[str, str], ...] = (
    ("year", "int"),
    ("month", "int"),
    ("day", "int"),
    ("mode", "string"),
)
_GLUE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")


@dataclass(frozen=True)
class CuratedCatalogTableProps:
    """Props of :class:`CuratedCatalogTable`; see each field's comment."""

    #: Required. The data bucket (may be a token).
    bucket_name: str
    #: The Parquet prefix.
    curated_prefix: str = "curated-data-lake/json_parsed_parquet/"
    #: Glue database name (lowercase letters, digits, ``_``).
    database_name: str = "ml_data_platform"
    #: Glue table name.
    table_name: str = "json_parsed_parquet"
    #: ``(name, Hive type)`` data columns; keep them in line with the processor's transform spec.
    columns: tuple[tuple[str, str], ...] = DEFAULT_COLUMNS
    #: First and last year that partition projection enumerates.
    year_range: tuple[int, int] = (2000, 2099)
    #: The ``mode`` partition values when they are a known, small set (projection type ``enum``: ``SELECT *``
    #: works); ``None`` uses projection type ``injected``, where every query must filter on ``mode`` with ``=`` or
    #: ``IN``.
    mode_values: tuple[str, ...] | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field to fix."""
        for field_name, value in (("database_name", self.database_name), ("table_name", self.table_name)):
            if not _GLUE_NAME.match(value):
                raise ValueError(
                    f"CuratedCatalogTableProps.{field_name} {value!r} must use lowercase letters, digits and '_' "
                    "only (Athena-compatible Glue names)"
                )
        check_prefix(type(self).__name__, "curated_prefix", self.curated_prefix)
        first, last = self.year_range
        if not 1900 <= first <= last <= 9999:
            raise ValueError(
                f"CuratedCatalogTableProps.year_range {self.year_range} must be (first, last) with "
                "1900 <= first <= last"
            )
        if not self.columns:
            raise ValueError("CuratedCatalogTableProps.columns is empty: list the Parquet data columns")
        names = [name for name, _ in self.columns]
        clash = sorted(set(names) & {name for name, _ in DEFAULT_PARTITION_KEYS})
        if clash or len(set(names)) != len(names):
            raise ValueError(
                f"CuratedCatalogTableProps.columns must have unique names that are not partition keys (got {names})"
            )
        if self.mode_values is not None and (not self.mode_values or any("," in v for v in self.mode_values)):
            raise ValueError(
                "CuratedCatalogTableProps.mode_values must be None (injected projection) or non-empty values "
                "without commas"
            )


class CuratedCatalogTable(Construct):
    """Glue database + partition-projected Parquet table over the curated prefix.

    Attributes:
        database: the ``glue.CfnDatabase``.
        table: the ``glue.CfnTable``.
        database_name / table_name: their names.
        location: ``s3://bucket/<curated prefix>``.
    """

    def __init__(self, scope: Construct, construct_id: str, props: CuratedCatalogTableProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        account = Stack.of(self).account
        self.database_name = props.database_name
        self.table_name = props.table_name
        self.location = f"s3://{props.bucket_name}/{props.curated_prefix}"
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=props.database_name,
                description="Curated ML training data (Parquet) of the tracked JSON -> Parquet pipeline",
            ),
        )
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=account,
            database_name=props.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=props.table_name,
                description="Parquet written by JsonToParquetBatchProcessor; partitions found by projection",
                table_type="EXTERNAL_TABLE",
                parameters=self._parameters(),
                partition_keys=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in DEFAULT_PARTITION_KEYS],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=self.location,
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in props.columns],
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                        parameters={"serialization.format": "1"},
                    ),
                    compressed=True,
                    stored_as_sub_directories=False,
                ),
            ),
        )
        self.table.add_resource_dependency(self.database)

    def _parameters(self) -> dict[str, str]:
        p = self.props
        first, last = p.year_range
        parameters = {
            "classification": "parquet",
            "EXTERNAL": "TRUE",
            "parquet.compression": "SNAPPY",
            "projection.enabled": "true",
            "projection.year.type": "integer",
            "projection.year.range": f"{first},{last}",
            "projection.month.type": "integer",
            "projection.month.range": "1,12",
            "projection.day.type": "integer",
            "projection.day.range": "1,31",
            "storage.location.template": self.location + "year=${year}/month=${month}/day=${day}/mode=${mode}",
        }
        if p.mode_values is None:
            parameters["projection.mode.type"] = "injected"
        else:
            parameters["projection.mode.type"] = "enum"
            parameters["projection.mode.values"] = ",".join(p.mode_values)
        return parameters
