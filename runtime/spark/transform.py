"""The spec mapping of good records (plus the optional hook) into the curated output frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from runtime.spark.read import LINEAGE, SOURCE_VERSION
from runtime.spark.validate import output_value, partition_value, unsafe_segment
from runtime.transforms.spec import LINEAGE_COLUMN, SOURCE_VERSION_COLUMN, TransformSpec


def map_columns(good: DataFrame, spec: TransformSpec) -> DataFrame:
    """Spec columns in spec order, then ``source_s3_path`` and ``source_version``, then the partition columns."""
    column_names = {column.name for column in spec.columns}
    selected = [output_value(column).alias(column.name) for column in spec.columns]
    selected.append(F.col(LINEAGE).alias(LINEAGE_COLUMN))
    selected.append(F.col(SOURCE_VERSION).alias(SOURCE_VERSION_COLUMN))
    selected += [partition_value(spec, item).alias(item.name)
                 for item in spec.partitions if item.name not in column_names]
    return good.select(*selected)


def apply_hook(mapped: DataFrame, spec: TransformSpec, hook: Callable[[Any], Any]) -> DataFrame:
    """Run the hook and fail loudly if it broke the output contract.

    Missing ``source_s3_path`` or partition columns raise ``ValueError`` at once; a null or unsafe partition
    value produced by the hook fails the write (``raise_error``) instead of creating a default partition.
    """
    result = hook(mapped)
    if not isinstance(result, DataFrame):
        raise TypeError(f"the transform hook {spec.hook} returned {type(result).__name__}, not a DataFrame")
    missing = [name for name in (LINEAGE_COLUMN, *spec.partition_names) if name not in result.columns]
    if missing:
        raise ValueError(f"the transform hook {spec.hook} dropped required column(s) {missing}")
    for item in spec.partitions:
        value = F.col(item.name)
        bad = value.isNull()
        if item.pattern is not None:
            bad = bad | unsafe_segment(value, item.pattern)
        message = f"the transform hook {spec.hook} produced a null or unsafe '{item.name}' partition value"
        result = result.withColumn(item.name, F.when(bad, F.raise_error(F.lit(message))).otherwise(value))
    return result
