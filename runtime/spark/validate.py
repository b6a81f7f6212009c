"""Record-level validation: the computed values (parsed dates, casts), a bad-record flag, and the reasons.

A record is bad when Spark could not parse it or a check fails. Reasons start with a stable code, then a human
explanation: ``malformed_json``, ``missing_required``, ``invalid_date``, ``invalid_cast``,
``invalid_partition``; several failures of one record are joined with ``"; "``.
"""

from __future__ import annotations

import functools
import operator

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from runtime.spark.dates import parse_date
from runtime.transforms.spec import (
    CORRUPT_RECORD_COLUMN,
    HIVE_DEFAULT_PARTITION,
    INTERNAL_PREFIX,
    ColumnSpec,
    PartitionSpec,
    TransformSpec,
)

BAD = INTERNAL_PREFIX + "bad"
MALFORMED_REASON = ("malformed_json: the record is not valid JSON, or a value does not fit the read schema "
                    "(e.g. text where an object or list is expected, or nesting deeper than 1000 levels), or an "
                    "object gives a name twice")
_SHOWN_CHARS = 100  # how much of an offending value a reason quotes


def source_column(column: ColumnSpec) -> Column:
    """The (possibly nested) source field of ``column`` in the raw frame."""
    first, *rest = column.source_path
    value = F.col(f"`{first}`")
    for segment in rest:
        value = value.getField(segment)
    return value


def _source_sql(column: ColumnSpec) -> str:
    return ".".join(f"`{segment}`" for segment in column.source_path)


def computed_name(column: ColumnSpec) -> str:
    """Name of the internal column holding a computed (parsed or cast) value."""
    return f"{INTERNAL_PREFIX}out_{column.name}"


def is_computed(column: ColumnSpec) -> bool:
    """Whether the output value differs from the source value (a date or a cast column)."""
    return column.is_date or column.cast is not None


def output_value(column: ColumnSpec) -> Column:
    """The value written for ``column``, valid on the frame returned by :func:`validate`."""
    return F.col(computed_name(column)) if is_computed(column) else source_column(column)


def _computed_value(column: ColumnSpec) -> Column:
    if column.is_date:
        return parse_date(_source_sql(column), column)
    return F.expr(f"try_cast({_source_sql(column)} AS {column.cast})")


def _quoted(value: Column) -> Column:
    text = value.cast("string")
    ellipsis = F.when(F.length(text) > _SHOWN_CHARS, F.lit("...")).otherwise(F.lit(""))
    return F.concat(F.lit("'"), F.substring(text, 1, _SHOWN_CHARS), ellipsis, F.lit("'"))


def unsafe_segment(value: Column, pattern: str) -> Column:
    """True where a non-null partition value does not fully match ``pattern`` or is not a safe path segment
    anyway (empty, ``.``, ``..``, the Hive default-partition marker, or holding ``/`` or ``\\``)."""
    text = value.cast("string")
    return (
        ~text.rlike(f"^(?:{pattern})$")
        | text.isin("", ".", "..", HIVE_DEFAULT_PARTITION)
        | text.contains("/")
        | text.contains("\\")
    )


def partition_value(spec: TransformSpec, partition: PartitionSpec) -> Column:
    """The partition value (an int for date parts, a string otherwise) on the :func:`validate` frame."""
    value = output_value(spec.column(partition.source_column))
    if partition.part == "year":
        return F.year(value)
    if partition.part == "month":
        return F.month(value)
    if partition.part == "day":
        return F.dayofmonth(value)
    return value.cast("string")


def _column_checks(spec: TransformSpec, column: ColumnSpec) -> list[tuple[Column, Column]]:
    value = source_column(column)
    checks: list[tuple[Column, Column]] = []
    if spec.effectively_required(column):
        checks.append((value.isNull(), F.lit(f"missing_required: '{column.source}' is missing or null")))
    if column.is_date:
        checks.append((
            value.isNotNull() & F.col(computed_name(column)).isNull(),
            F.concat(F.lit(f"invalid_date: '{column.source}' value "), _quoted(value),
                     F.lit(f" is not a valid date in any accepted format ({column.accepted_formats_text()})")),
        ))
    elif column.cast is not None:
        checks.append((
            value.isNotNull() & F.col(computed_name(column)).isNull(),
            F.concat(F.lit(f"invalid_cast: '{column.source}' value "), _quoted(value),
                     F.lit(f" is not a valid {column.cast}")),
        ))
    return checks


def _partition_check(spec: TransformSpec, partition: PartitionSpec) -> tuple[Column, Column]:
    assert partition.pattern is not None
    value = partition_value(spec, partition)
    source = spec.column(partition.source_column).source
    return (
        value.isNotNull() & unsafe_segment(value, partition.pattern),
        F.concat(F.lit(f"invalid_partition: '{partition.name}' from '{source}' value "), _quoted(value),
                 F.lit(f" is not a safe path segment (it must match {partition.pattern} and not be "
                       "'.', '..' or empty)")),
    )


def _checks(spec: TransformSpec) -> list[tuple[Column, Column]]:
    checks = [check for column in spec.columns for check in _column_checks(spec, column)]
    return checks + [_partition_check(spec, item) for item in spec.partitions if not item.is_date_part]


def validate(raw: DataFrame, spec: TransformSpec) -> DataFrame:
    """``raw`` plus one computed column per date/cast column and the boolean :data:`BAD`.

    Only the cheap yes/no test runs for every record; the reason text (:func:`reason`) is built later, for the
    bad records alone. Keeping the per-record code small matters: Spark fuses it into one generated method, and
    the JVM never JIT-compiles a method over 8,000 bytes of bytecode.
    """
    computed = [_computed_value(column).alias(computed_name(column))
                for column in spec.columns if is_computed(column)]
    conditions = [F.col(CORRUPT_RECORD_COLUMN).isNotNull(), *(condition for condition, _ in _checks(spec))]
    return raw.select("*", *computed).withColumn(BAD, functools.reduce(operator.or_, conditions))


def reason_text(spec: TransformSpec) -> Column:
    """Why a record is bad: ``malformed_json``, or every failed check joined with ``"; "``. Valid on the
    :func:`validate` frame; meant for its bad records."""
    checks = _checks(spec)
    problems = F.concat_ws("; ", *[F.when(condition, text) for condition, text in checks]) if checks else None
    malformed = F.when(F.col(CORRUPT_RECORD_COLUMN).isNotNull(), F.lit(MALFORMED_REASON))
    return malformed if problems is None else malformed.otherwise(problems)
