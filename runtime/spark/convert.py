"""Convert one claimed batch of raw JSON files: read, validate, transform, write to a staging location.

Spark work per batch: one aggregation (the counts per file and what was rescued in them; it also fills the cache of
the batch parsed once, :func:`read_and_rescue`: the only full read of the input) and, only when some rows need
Python's rescue, a second one over them (which fills their cache after their one pass through Python,
:func:`rescue_in_python`), one write of the good records (a shuffle by the partition columns, then
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
    rescued_in_the_parse,
    with_rescue,
)
from runtime.spark.transform import HookFailed, apply_hook, map_columns
from runtime.spark.validate import BAD, computed_name, is_computed, reason_text, validate
from runtime.spark.write import dead_letter_frame, rows_by_source, write_curated, write_dead_letters
from runtime.transforms.rescue import WHOLE_RECORD
from runtime.transforms.spec import INTERNAL_PREFIX, TransformSpec

__all__ = ["ConversionResult", "FileCounts", "HookFailed", "SourceFile", "convert_batch", "read_and_rescue",
           "rescue_in_python"]


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
        """The paths of the fields the spec does not read, sorted (what ``schema_policy: fail`` stops a file for). A
        record only Spark could read (a leniency Python lacks, in the fallback parse) is kept whole under
        :data:`~runtime.transforms.rescue.WHOLE_RECORD`: no field a spec could add (see :attr:`unchecked`)."""
        return sorted({item[0] for item in self.rescued_fields if item[1] == "unknown" and item[0] != WHOLE_RECORD})

    @property
    def unchecked(self) -> int:
        """Records kept whole (:data:`~runtime.transforms.rescue.WHOLE_RECORD`): whether they hold a field the spec
        does not read is not known, so ``schema_policy: fail`` stops the file for them, with its own message."""
        return sum(item[3] for item in self.rescued_fields if item[0] == WHOLE_RECORD)

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
    base = read_and_rescue(spark, readable, spec)
    asked: DataFrame | None = None
    try:
        ask = F.col(_ASK)
        plain = base if RESCUED in base.columns else base.withColumns(
            {RESCUED: F.lit(None).cast("string"), SIGHTINGS: no_sightings()})  # what the rows Python does not see hold
        totals, fields = _summary(plain, ~ask)  # fills the cache of the batch
        if any(values[4] for values in totals.values()):
            asked = rescue_in_python(base, spec)
            validated = plain.where(~ask).unionByName(asked)
            asked_totals, asked_fields = _summary(asked, F.lit(True))  # fills the cache of the rows Python rescued
            for file_id, values in asked_totals.items():
                totals[file_id] = [a + b for a, b in zip(totals.get(file_id, [0] * 5), values, strict=True)]
            _merge_fields(fields, asked_fields)
        else:  # no record for Python: the rescue frame is never built (its Python workers took 0.4-1.4 s of task
            # time a batch, with no row to look at, and building the frame about 0.2 s of the driver's)
            validated = plain
        if None in totals:
            raise RuntimeError(f"{totals[None][0] + totals[None][1]} records could not be traced back to a file "
                               "of the batch (input_file_name() matched no file)")
        for file_id, (good, bad, rescued, _, _) in totals.items():
            found = tuple(sorted((path, kind, json_type, records, example)
                                 for (path, kind, json_type), (records, example) in fields.get(file_id, {}).items()))
            counts[file_id] = FileCounts(good, bad, records_rescued=rescued, rescued_fields=found)
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
        if asked is not None:
            asked.unpersist()
        base.unpersist()


_ASK = INTERNAL_PREFIX + "ask_python"
_KEPT = INTERNAL_PREFIX + "kept"
_HAS_RESCUED = INTERNAL_PREFIX + "has_rescued"
_SIGHTING = INTERNAL_PREFIX + "sighting"
_SIGHTING_INDEX = INTERNAL_PREFIX + "sighting_index"
_SIGHTING_KINDS = INTERNAL_PREFIX + "sighting_kinds"
_SIGHTINGS_KEPT = INTERNAL_PREFIX + "sightings_kept"

#: What was rescued in one file's records: (general path, kind, JSON type) -> [records that hold it, the least
#: example value as JSON].
FieldsSeen = dict[tuple[str, str, str], list]


def _summary(frame: DataFrame, keep: Column) -> tuple[dict[int | None, list[int]], dict[int | None, FieldsSeen]]:
    """One aggregation over ``frame`` (with :data:`RESCUED` and :data:`SIGHTINGS`), collected: by file id, among the
    rows where ``keep`` holds, the records good, bad, good with rescued data, and any with rescued data, then the rows
    where it does not (those :func:`read_and_rescue` sends to Python, on its batch frame); and by file id what was
    rescued in the kept rows (:data:`FieldsSeen`: each record's :data:`SIGHTINGS`, good and bad).

    Each record becomes one row per sighting (one row with none when it has none); its counts are taken on its
    first row only. So the counts and the fields seen come out of the same pass over the cache (as two aggregations
    they were two more Spark jobs a batch, and about 0.3 s)."""
    rescued = F.col(RESCUED).isNotNull()
    rows = frame.select(FILE_ID, keep.alias(_KEPT), F.col(BAD), rescued.alias(_HAS_RESCUED),
                        F.when(keep & rescued, F.col(SIGHTINGS)).alias(_SIGHTINGS_KEPT))
    rows = rows.select(FILE_ID, _KEPT, BAD, _HAS_RESCUED,
                       F.expr(f"transform(`{_SIGHTINGS_KEPT}`, s -> {_sighting_kind('s')})").alias(_SIGHTING_KINDS),
                       F.posexplode_outer(_SIGHTINGS_KEPT).alias(_SIGHTING_INDEX, _SIGHTING))
    first = F.coalesce(F.col(_SIGHTING_INDEX) == 0, F.lit(True))  # each record counted once, on its first row
    kept, bad, has_rescued, sighting = first & F.col(_KEPT), F.col(BAD), F.col(_HAS_RESCUED), F.col(_SIGHTING)
    # a record counts once for a path, kind and type however often it holds them (two list elements with a `tag`)
    new_kind = F.expr(f"array_position(`{_SIGHTING_KINDS}`, {_sighting_kind(f'`{_SIGHTING}`')}) "
                      f"= `{_SIGHTING_INDEX}` + 1")
    keys = [FILE_ID, *[sighting.getField(name).alias(name) for name in ("path", "kind", "type")]]
    # by example first: counts alone hash-aggregate, a min() of a string sorts every row (measured: 0.3 s more);
    # the min of the examples is then taken over the distinct ones
    summed = ["good", "bad", "rescued_good", "rescued", "python", "records"]
    by_example = rows.groupBy(*keys, sighting.getField("example").alias("example")).agg(
        F.count(F.when(kept & ~bad, 1)).alias("good"), F.count(F.when(kept & bad, 1)).alias("bad"),
        F.count(F.when(kept & ~bad & has_rescued, 1)).alias("rescued_good"),
        F.count(F.when(kept & has_rescued, 1)).alias("rescued"),
        F.count(F.when(first & ~F.col(_KEPT), 1)).alias("python"), F.count(F.when(new_kind, 1)).alias("records"))
    found = by_example.groupBy(FILE_ID, "path", "kind", "type").agg(
        *[F.sum(name) for name in summed], F.min("example")).collect()
    totals: dict[int | None, list[int]] = {}
    fields: dict[int | None, FieldsSeen] = {}
    for file_id, path, kind, json_type, *counts, records, example in found:
        sums = totals.setdefault(file_id, [0] * 5)
        totals[file_id] = [a + int(b) for a, b in zip(sums, counts, strict=True)]
        if records:
            fields.setdefault(file_id, {})[(path, kind, json_type)] = [int(records), example]
    return totals, fields


def _sighting_kind(sighting: str) -> str:
    """SQL: what the sighting ``sighting`` (a SQL reference) is of: its general path, kind and JSON type (not its
    example)."""
    return "named_struct(" + ", ".join(f"'{name}', {sighting}.{name}" for name in ("path", "kind", "type")) + ")"


def _merge_fields(into: dict[int | None, FieldsSeen], more: dict[int | None, FieldsSeen]) -> None:
    """Add the fields seen in ``more`` to ``into``: records summed, the least example kept (as Spark's ``min``: UTF-8
    bytes order as code points do)."""
    for file_id, seen in more.items():
        target = into.setdefault(file_id, {})
        for key, (records, example) in seen.items():
            if key in target:
                target[key] = [target[key][0] + records, min(target[key][1], example)]
            else:
                target[key] = [records, example]


def read_and_rescue(spark: SparkSession, files: Sequence[SourceFile], spec: TransformSpec) -> DataFrame:
    """The batch parsed once and validated, cached, with :data:`_ASK` (:func:`needs_rescue`, or what the one parse
    could not rescue: :func:`rescued_in_the_parse`). The raw text is kept for the bad records (the dead letters) and
    the rows Python must read (:func:`rescue_in_python`)."""
    frame = read_batch(spark, files, spec.read_schema(), spec.json_reader_options())
    if RESCUED_FIELD in frame.columns:  # the one parse rescued the well-formed records already
        frame = rescued_in_the_parse(frame, spec, _ASK)
    else:
        frame = frame.withColumn(_ASK, needs_rescue(spec))
    base = validate(frame, spec)
    return base.withColumn(RAW_RECORD, F.when(F.col(BAD) | F.col(_ASK), F.col(RAW_RECORD))).cache()


def rescue_in_python(base: DataFrame, spec: TransformSpec) -> DataFrame:
    """The rows of ``base`` (from :func:`read_and_rescue`) that need Python, rescued and validated again (a rescued
    type mismatch is no longer malformed), cached. Only those rows go through the Python worker: a UDF in the
    projection of the whole batch would ship every row there and back."""
    computed = [computed_name(column) for column in spec.columns if is_computed(column)]
    rescued = with_rescue(base.where(F.col(_ASK)).drop(*computed, BAD), spec, ask=F.lit(True))
    asked = validate(rescued, spec)
    return asked.withColumn(RAW_RECORD, F.when(F.col(BAD), F.col(RAW_RECORD))).cache()
