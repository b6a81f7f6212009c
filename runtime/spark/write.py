"""Writing one batch: curated Parquet (one file per partition) and dead-letter JSON Lines (per source file)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from runtime.spark.read import FILE_ID, LINEAGE, RAW_RECORD
from runtime.transforms.names import PARTITION_HELPER_PREFIX
from runtime.transforms.spec import CORRUPT_RECORD_COLUMN, LINEAGE_COLUMN

#: Fields of a dead-letter record. ``file_id`` is not in the JSON lines themselves: it is the partition
#: directory (``file_id=<id>/``), so the caller can publish the dead letters of each source file on its own.
DEAD_LETTER_COLUMNS = ("source_s3_path", "file_id", "reason", "line", "raw_record")


def write_curated(curated: DataFrame, partition_names: Sequence[str], path: str | None,
                  keep_partition_columns: bool = False) -> int:
    """Overwrite ``path`` with ``curated`` as Parquet partitioned by ``partition_names``; returns rows written.

    Repartitioning by the partition columns first sends each partition to one task, so the batch writes at
    most one file per partition directory. ``path=None`` is a dry run: every row is computed (the hook, the
    partition checks) and nothing is written (Spark's ``noop`` sink). ``keep_partition_columns`` (an Iceberg
    table, whose ``add_files`` reads each file's partition from its column statistics): the files keep the
    partition columns, each file holding one partition, by partitioning on copies of them named
    :data:`PARTITION_HELPER_PREFIX` + name (the same one shuffle; the copies are not in the files).
    """
    observation = Observation(f"curated_{uuid.uuid4().hex}")  # unique: batches may share a session
    observed = curated.observe(observation, F.count(F.lit(1)).alias("rows"))
    if keep_partition_columns and partition_names:
        observed = observed.select("*", *[F.col(name).alias(PARTITION_HELPER_PREFIX + name)
                                          for name in partition_names])
        partition_names = [PARTITION_HELPER_PREFIX + name for name in partition_names]
    shuffled = observed.repartition(*partition_names) if partition_names else observed.coalesce(1)
    if path is None:
        shuffled.write.format("noop").mode("overwrite").save()
    else:
        (shuffled.write.mode("overwrite").option("partitionOverwriteMode", "static")
         .partitionBy(*partition_names).parquet(path))
    return int(observation.get["rows"])


def rows_by_source(spark: SparkSession, path: str) -> dict[str, int]:
    """Rows of the curated Parquet at ``path`` by ``source_s3_path``: what was written, read back (one column)."""
    frame = spark.read.parquet(path).groupBy(LINEAGE_COLUMN).count()
    return {row[LINEAGE_COLUMN]: int(row["count"]) for row in frame.collect()}


def dead_letter_frame(bad: DataFrame, reason: Column) -> DataFrame:
    """Dead-letter records: lineage, file id, reason, line (null: unknown) and the raw record.

    ``raw_record`` is the record's whole raw text (:data:`~runtime.spark.read.RAW_RECORD`: the line, the file, or
    an array element), fields the spec does not read included.
    """
    return bad.select(
        F.col(LINEAGE).alias(LINEAGE_COLUMN),
        F.col(FILE_ID).alias("file_id"),
        reason.alias("reason"),
        F.lit(None).cast("long").alias("line"),
        F.coalesce(F.col(RAW_RECORD), F.col(CORRUPT_RECORD_COLUMN)).alias("raw_record"),
    )


def write_dead_letters(dead_letters: DataFrame, path: str | None) -> None:
    """Overwrite ``path`` with JSON Lines partitioned by ``file_id`` (one file per source file); ``path=None``: a
    dry run (computed, not written)."""
    if path is None:
        dead_letters.write.format("noop").mode("overwrite").save()
        return
    (dead_letters.repartition("file_id").write.mode("overwrite").option("partitionOverwriteMode", "static")
     .option("ignoreNullFields", "false").partitionBy("file_id").json(path))


def probe_output(spark: SparkSession, path: str) -> None:
    """Write an empty frame as Parquet to ``path``: a conversion that needs no file, to tell a failure of Spark
    or of the staging location (unwritable, no permission) from a failure caused by a file."""
    spark.createDataFrame([], "probe string").write.mode("overwrite").parquet(path)
