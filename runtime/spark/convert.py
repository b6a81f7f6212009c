"""Convert one claimed batch of raw JSON files: read, validate, transform, write to a staging location.

Spark work per batch: one aggregation (which also fills the cache of the batch parsed once, :func:`read_and_rescue`;
the only full read of the input) and, only when some rows need the rescue, a second one over them (which fills their
cache after their one pass through Python), one write of the good records (a shuffle by the partition columns, then
Parquet), and, only when there are bad records, one write of the dead letters. With a hook, the written rows are
counted per file from the staged Parquet (one column read back): the hook may drop or add rows, and the counts
recorded are what was written.

A dry run (no output paths) computes everything, the hook and the partition checks included, and writes nothing:
the narrowing of a failed batch (:mod:`runtime.jobs.narrowing`) uses it to find the file that fails it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from runtime.spark.names import unreadable_reason
from runtime.spark.native_json import RESCUED_FIELD
from runtime.spark.read import (
    FILE_ID,
    RAW_RECORD,
    SourceFile,
    attach_lineage,
    codec_unavailable,
    read_batch,
)
from runtime.spark.rescue import (
    RESCUED,
    SIGHTINGS,
    needs_rescue,
    no_sightings,
    rescued_fields_by_file,
    rescued_in_the_parse,
    with_rescue,
)
from runtime.spark.transform import HookFailed, apply_hook, map_columns
from runtime.spark.validate import BAD, computed_name, is_computed, reason_text, validate
from runtime.spark.write import dead_letter_frame, rows_by_source, write_curated, write_dead_letters
from runtime.transforms.spec import INTERNAL_PREFIX, TransformSpec

__all__ = ["ConversionResult", "FileCounts", "HookFailed", "SourceFile", "convert_batch", "read_and_rescue"]


@dataclass(frozen=True)
class FileCounts:
    """Records of one source file that passed validation (good) and that were dead-lettered (bad); with a hook,
    also the rows written for it after the hook (``None``: no hook ran, every good record was written)."""

    records_good: int
    records_bad: int
    records_written: int | None = None
    #: good records that carry rescued data (fields the spec does not read, or values that do not fit their column)
    records_rescued: int = 0
    #: what was rescued in the file's records (good and bad): (general path, ``unknown`` | ``mismatch``, JSON type,
    #: records, an example value as JSON), one per path and type
    rescued_fields: tuple[tuple[str, str, str, int, str], ...] = ()

    @property
    def new_fields(self) -> list[str]:
        """The paths of the fields the spec does not read, sorted (what ``schema_policy: fail`` stops a file for)."""
        return sorted({item[0] for item in self.rescued_fields if item[1] == "unknown"})

    @property
    def written(self) -> int:
        """Rows of this file in the curated output."""
        return self.records_good if self.records_written is None else self.records_written


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
    curated_path: str | None,
    dead_letter_path: str | None,
    keep_partition_columns: bool = False,
) -> ConversionResult:
    """Read ``files``, validate and transform them with ``spec``, and write the batch.

    Good records go to ``curated_path`` as Parquet partitioned by the spec's partition columns (at most one
    file per partition); bad records (unparseable or failing validation) go to ``dead_letter_path`` as JSON
    Lines partitioned by ``file_id``. Both paths are overwritten and belong to this batch; nothing is written
    to a path that would be empty. A file Spark cannot open by its path (see ``unreadable_reason``) is not
    read: it is listed in ``unreadable`` with zero counts; so is a file whose codec this Spark cannot decompress.
    Both paths ``None``: a dry run (nothing written). ``keep_partition_columns``: the curated files keep their
    partition columns (an Iceberg table's, :func:`~runtime.spark.write.write_curated`).
    Raises if a read row cannot be traced back to its file;
    :class:`HookFailed` (a :class:`~runtime.errors.SpecError`) when the hook cannot be loaded or breaks its
    contract before any record goes through it.
    """
    counts = {item.file_id: FileCounts(0, 0) for item in files}
    unreadable = {item.file_id: reason for item in files if (reason := unreadable_reason(item.spark_path))}
    if any(item.file_id not in unreadable for item in files):
        by_path = codec_unavailable(spark, [item.spark_path for item in files if item.file_id not in unreadable])
        unreadable.update({item.file_id: by_path[item.spark_path] for item in files if item.spark_path in by_path})
    readable = [item for item in files if item.file_id not in unreadable]
    if not readable:
        return ConversionResult(counts, 0, 0, unreadable)
    try:
        hook = spec.resolve_hook()
    except Exception as exc:
        raise HookFailed(f"the transform hook {spec.hook} cannot be loaded: {exc}") from exc
    base, asked = read_and_rescue(spark, readable, spec)
    try:
        ask = F.col(_ASK)
        totals = _totals(base, ~ask)  # fills the cache of the batch
        plain = base if RESCUED in base.columns else base.withColumn(RESCUED, F.lit(None).cast("string")) \
            .withColumn(SIGHTINGS, no_sightings())  # what the rows Python does not see hold
        if any(values[4] for values in totals.values()):
            validated = plain.where(~ask).unionByName(asked)
            for file_id, values in _totals(asked, F.lit(True)).items():
                totals[file_id] = [a + b for a, b in zip(totals.get(file_id, [0] * 5), values, strict=True)]
        else:  # no record for Python: the rescue frame is never computed (its Python workers took 0.4-1.4 s of
            # task time a batch, with no row to look at)
            validated = plain
        if None in totals:
            raise RuntimeError(f"{totals[None][0] + totals[None][1]} records could not be traced back to a file "
                               "of the batch (input_file_name() matched no file)")
        for file_id, (good, bad, rescued, _, _) in totals.items():
            counts[file_id] = FileCounts(good, bad, records_rescued=rescued)
        if any(values[3] for values in totals.values()):
            for file_id, fields in rescued_fields_by_file(validated, spec).items():
                counts[file_id] = replace(counts[file_id], rescued_fields=fields)
        good_total = sum(item.records_good for item in counts.values())
        bad_total = sum(item.records_bad for item in counts.values())
        curated_rows = 0
        if good_total:
            curated = map_columns(attach_lineage(validated.filter(~F.col(BAD)), spark, readable), spec)
            if hook is not None:
                curated = apply_hook(curated, spec, hook)
            curated_rows = write_curated(curated, spec.partition_names, curated_path, keep_partition_columns)
            if hook is not None and curated_path is not None:
                written = rows_by_source(spark, curated_path) if curated_rows else {}
                for item in readable:
                    counts[item.file_id] = replace(counts[item.file_id],
                                                   records_written=written.get(item.lineage_path, 0))
        if bad_total:
            dead_letters = dead_letter_frame(attach_lineage(validated.filter(F.col(BAD)), spark, readable),
                                             reason_text(spec))
            write_dead_letters(dead_letters, dead_letter_path)
        return ConversionResult(counts, curated_rows, bad_total, unreadable)
    finally:
        asked.unpersist()
        base.unpersist()


_ASK = INTERNAL_PREFIX + "ask_python"


def _totals(frame: DataFrame, keep: Column) -> dict[int | None, list[int]]:
    """By file id, among the rows where ``keep`` holds: good, bad, good with rescued data, any with rescued data;
    and the rows where it does not (those :func:`read_and_rescue` sends to Python, on its batch frame)."""
    bad = F.col(BAD)
    has_rescue = F.col(RESCUED).isNotNull() if RESCUED in frame.columns else F.lit(False)
    rows = frame.groupBy(FILE_ID).agg(
        F.count(F.when(keep & ~bad, 1)), F.count(F.when(keep & bad, 1)), F.count(F.when(keep & ~bad & has_rescue, 1)),
        F.count(F.when(keep & has_rescue, 1)), F.count(F.when(~keep, 1))).collect()
    return {row[0]: [int(value) for value in row[1:]] for row in rows}


def read_and_rescue(spark: SparkSession, files: Sequence[SourceFile], spec: TransformSpec) -> tuple[DataFrame,
                                                                                                       DataFrame]:
    """The batch parsed once and validated, cached, with :data:`_ASK` (:func:`needs_rescue`); and, cached too, its
    rows that need Python, rescued and validated again (a rescued type mismatch is no longer malformed). Only those
    rows go through the Python worker: a UDF in the projection of the whole batch would ship every row there and
    back. The raw text is kept for the bad records (the dead letters) and the rows Python reads."""
    frame = read_batch(spark, files, spec.read_schema(), spec.json_reader_options())
    if RESCUED_FIELD in frame.columns:  # the one parse rescued the well-formed records already
        frame = rescued_in_the_parse(frame, spec, _ASK)
    else:
        frame = frame.withColumn(_ASK, needs_rescue(spec))
    base = validate(frame, spec)
    base = base.withColumn(RAW_RECORD, F.when(F.col(BAD) | F.col(_ASK), F.col(RAW_RECORD))).cache()
    computed = [computed_name(column) for column in spec.columns if is_computed(column)]
    rescued = with_rescue(base.where(F.col(_ASK)).drop(*computed, BAD), spec, ask=F.lit(True))
    asked = validate(rescued, spec)
    return base, asked.withColumn(RAW_RECORD, F.when(F.col(BAD), F.col(RAW_RECORD))).cache()
