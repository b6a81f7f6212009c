"""The spec mapping of good records (plus the optional hook) into the curated output frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from runtime.errors import SpecError
from runtime.spark.read import LINEAGE, SOURCE_VERSION
from runtime.spark.rescue import RESCUED
from runtime.spark.validate import output_value, partition_value, unsafe_segment
from runtime.transforms.spec import LINEAGE_COLUMN, RESCUED_DATA_COLUMN, SOURCE_VERSION_COLUMN, TransformSpec


def map_columns(good: DataFrame, spec: TransformSpec) -> DataFrame:
    """Spec columns in spec order, then ``_rescued_data`` (schema policy ``rescue``), ``source_s3_path`` and
    ``source_version``, then the partition columns."""
    column_names = {column.name for column in spec.columns}
    selected = [output_value(column).alias(column.name) for column in spec.columns]
    if spec.writes_rescued_data:
        selected.append(F.col(RESCUED).alias(RESCUED_DATA_COLUMN))
    selected.append(F.col(LINEAGE).alias(LINEAGE_COLUMN))
    selected.append(F.col(SOURCE_VERSION).alias(SOURCE_VERSION_COLUMN))
    selected += [partition_value(spec, item).alias(item.name)
                 for item in spec.partitions if item.name not in column_names]
    return good.select(*selected)


class HookFailed(SpecError):
    """The transform hook raised when called, or broke the output contract, before a record went through it: the
    same for every file (the read schema is fixed), so no file's fault."""


def _spark_job_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed Spark job (data-dependent: the narrowing's to judge), not a planning error."""
    if getattr(exc, "java_exception", None) is None and getattr(exc, "_origin", None) is None:
        return False
    return type(exc).__name__ != "AnalysisException"


def apply_hook(mapped: DataFrame, spec: TransformSpec, hook: Callable[[Any], Any]) -> DataFrame:
    """Run the hook and fail loudly if it broke the output contract.

    A hook that raises when called (other than a Spark job it ran failing), returns something else than a
    DataFrame or drops ``source_s3_path`` or a partition column raises :class:`HookFailed` at once; a null or
    unsafe partition value produced by the hook fails the write (``raise_error``) instead of creating a default
    partition.
    """
    try:
        result = hook(mapped)
    except Exception as exc:
        if _spark_job_failure(exc):
            raise
        raise HookFailed(f"the transform hook {spec.hook} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, DataFrame):
        raise HookFailed(f"the transform hook {spec.hook} returned {type(result).__name__}, not a DataFrame")
    missing = [name for name in (LINEAGE_COLUMN, *spec.partition_names) if name not in result.columns]
    if missing:
        raise HookFailed(f"the transform hook {spec.hook} dropped required column(s) {missing}")
    for item in spec.partitions:
        value = F.col(item.name)
        bad = value.isNull()
        if item.pattern is not None:
            bad = bad | unsafe_segment(value, item.pattern)
        message = f"the transform hook {spec.hook} produced a null or unsafe '{item.name}' partition value"
        result = result.withColumn(item.name, F.when(bad, F.raise_error(F.lit(message))).otherwise(value))
    return result
