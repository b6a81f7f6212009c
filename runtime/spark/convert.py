"""Convert one claimed batch of raw JSON files: read, validate, transform, write to a staging location.

Spark work per batch: one aggregation (which also fills the cache: the only full read of the input), one
write of the good records (a shuffle by the partition columns, then Parquet), and, only when there are
bad records, one write of the dead letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from runtime.spark.read import FILE_ID, SourceFile, attach_lineage, read_batch, unreadable_reason
from runtime.spark.transform import apply_hook, map_columns
from runtime.spark.validate import BAD, reason_text, validate
from runtime.spark.write import dead_letter_frame, write_curated, write_dead_letters
from runtime.transforms.spec import CORRUPT_RECORD_COLUMN, TransformSpec

__all__ = ["ConversionResult", "FileCounts", "SourceFile", "convert_batch"]


@dataclass(frozen=True)
class FileCounts:
    """Records of one source file that passed validation (good) and that were dead-lettered (bad)."""

    records_good: int
    records_bad: int


@dataclass(frozen=True)
class ConversionResult:
    """What one batch produced."""

    counts: dict[int, FileCounts]  # by file_id, one entry for EVERY input file (zeros if nothing read)
    curated_rows: int  # rows written to the curated staging path (after the hook, if any)
    dead_letter_rows: int  # rows written to the dead-letter path
    #: file_id -> reason, for files Spark cannot open by path at all (not read; their counts are zeros)
    unreadable: dict[int, str] = field(default_factory=dict)


def convert_batch(
    spark: SparkSession,
    files: Sequence[SourceFile],
    spec: TransformSpec,
    curated_path: str,
    dead_letter_path: str,
) -> ConversionResult:
    """Read ``files``, validate and transform them with ``spec``, and write the batch.

    Good records go to ``curated_path`` as Parquet partitioned by the spec's partition columns (at most one
    file per partition); bad records (unparseable or failing validation) go to ``dead_letter_path`` as JSON
    Lines partitioned by ``file_id``. Both paths are overwritten and belong to this batch; nothing is written
    to a path that would be empty. A file Spark cannot open by its path (see ``unreadable_reason``) is not
    read: it is listed in ``unreadable`` with zero counts. Raises if a read row cannot be traced back to its
    file.
    """
    counts = {item.file_id: FileCounts(0, 0) for item in files}
    unreadable = {item.file_id: reason for item in files if (reason := unreadable_reason(item.spark_path))}
    readable = [item for item in files if item.file_id not in unreadable]
    if not readable:
        return ConversionResult(counts, 0, 0, unreadable)
    hook = spec.resolve_hook()
    schema = spec.read_schema()
    validated = validate(read_batch(spark, readable, schema, spec.json_reader_options()), spec).cache()
    try:
        totals = (
            validated.groupBy(FILE_ID)
            .agg(F.count(F.when(~F.col(BAD), 1)).alias("good"), F.count(F.when(F.col(BAD), 1)).alias("bad"))
            .collect()
        )
        for row in totals:
            if row[FILE_ID] is None:
                raise RuntimeError(f"{row['good'] + row['bad']} records could not be traced back to a file "
                                   "of the batch (input_file_name() matched no file)")
            counts[row[FILE_ID]] = FileCounts(int(row["good"]), int(row["bad"]))
        good_total = sum(item.records_good for item in counts.values())
        bad_total = sum(item.records_bad for item in counts.values())
        curated_rows = 0
        if good_total:
            curated = map_columns(attach_lineage(validated.filter(~F.col(BAD)), spark, readable), spec)
            if hook is not None:
                curated = apply_hook(curated, spec, hook)
            curated_rows = write_curated(curated, spec.partition_names, curated_path)
        if bad_total:
            read_fields = [name for name in schema.fieldNames() if name != CORRUPT_RECORD_COLUMN]
            dead_letters = dead_letter_frame(attach_lineage(validated.filter(F.col(BAD)), spark, readable),
                                             read_fields, reason_text(spec))
            write_dead_letters(dead_letters, dead_letter_path)
        return ConversionResult(counts, curated_rows, bad_total, unreadable)
    finally:
        validated.unpersist()
