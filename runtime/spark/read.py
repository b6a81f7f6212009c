"""Reading one batch of raw JSON files with an explicit schema, each row tagged with its source file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from runtime.transforms.spec import CORRUPT_RECORD_COLUMN, INTERNAL_PREFIX

FILE_ID = INTERNAL_PREFIX + "file_id"
LINEAGE = INTERNAL_PREFIX + "lineage"
_MATCH_KEY = INTERNAL_PREFIX + "match_key"

LAYOUTS = ("lines", "array")
_GLOB_CHARS = re.compile(r"([\\{}\[\]*?])")
# Hadoop collapses repeated '/' in paths; so does the match key (but not the '//' after 'scheme:').
_REPEATED_SLASHES = r"(?<!:)/{2,}"


@dataclass(frozen=True)
class SourceFile:
    """One raw file of the batch."""

    file_id: int  # tracking-table id
    key: str  # object key in the store
    spark_path: str  # what Spark reads (local absolute path or s3://...)
    lineage_path: str  # value written in source_s3_path, e.g. s3://bucket/key
    json_layout: str  # "lines" (JSON Lines) or "array" (one JSON document, usually an array)


def escape_glob(path: str) -> str:
    """Escape Hadoop glob characters (``{}[]*?\\``) so Spark reads ``path`` literally."""
    return _GLOB_CHARS.sub(r"\\\1", path)


def match_key(spark_path: str) -> str:
    """Normalise a path the way :func:`_match_key_column` normalises Spark's ``input_file_name()``."""
    key = spark_path
    if key.startswith("file:"):
        key = "/" + key[len("file:"):].lstrip("/")
    return re.sub(_REPEATED_SLASHES, "/", key)


def _match_key_column() -> Column:
    """``input_file_name()`` decoded back to the path Spark was given.

    Spark returns the file as a URI string (``file:///a%20b.json``, ``s3://bucket/k%5B1%5D``): percent-decode
    it, keeping a literal ``+`` (``url_decode`` would turn it into a space), and drop the ``file:`` scheme.
    """
    decoded = F.url_decode(F.replace(F.input_file_name(), F.lit("+"), F.lit("%2B")))
    local = F.regexp_replace(decoded, r"^file:/*", "/")
    return F.regexp_replace(local, _REPEATED_SLASHES, "/")


def _mapping(spark: SparkSession, files: Sequence[SourceFile]) -> DataFrame:
    schema = StructType([
        StructField(_MATCH_KEY, StringType(), False),
        StructField(FILE_ID, LongType(), False),
        StructField(LINEAGE, StringType(), False),
    ])
    rows = [(match_key(item.spark_path), item.file_id, item.lineage_path) for item in files]
    return spark.createDataFrame(rows, schema)


def _reader(spark: SparkSession, schema: StructType, multi_line: bool):  # -> DataFrameReader
    return (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_RECORD_COLUMN)
        .option("multiLine", "true" if multi_line else "false")
    )


def read_batch(spark: SparkSession, files: Sequence[SourceFile], schema: StructType) -> DataFrame:
    """All records of ``files`` with ``schema`` (PERMISSIVE; unparseable records land in ``_corrupt_record``).

    ``lines`` files are read as JSON Lines, ``array`` files with ``multiLine`` (a broken element makes the
    whole document one corrupt record). Every row carries :data:`FILE_ID` and :data:`LINEAGE`; a row that
    cannot be mapped back to its file has a null :data:`FILE_ID` (the caller treats that as a bug).
    """
    if not files:
        raise ValueError("read_batch needs at least one file")
    unknown = sorted({item.json_layout for item in files} - set(LAYOUTS))
    if unknown:
        raise ValueError(f"unknown json_layout {unknown}; expected one of {LAYOUTS}")
    keys = [match_key(item.spark_path) for item in files]
    if len(set(keys)) != len(keys):
        raise ValueError("a batch lists the same file twice")
    frames = []
    for layout in LAYOUTS:
        paths = [escape_glob(item.spark_path) for item in files if item.json_layout == layout]
        if paths:
            frames.append(_reader(spark, schema, layout == "array").json(paths))
    raw = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    tagged = raw.withColumn(_MATCH_KEY, _match_key_column())
    joined = tagged.join(F.broadcast(_mapping(spark, files)), on=_MATCH_KEY, how="left")
    return joined.select(*schema.fieldNames(), FILE_ID, LINEAGE)


def unmatched_paths(spark: SparkSession, files: Sequence[SourceFile], schema: StructType,
                    limit: int = 5) -> list[str]:
    """Diagnostics only (re-reads the batch): normalised input paths that match no :class:`SourceFile`."""
    frames = []
    for layout in LAYOUTS:
        paths = [escape_glob(item.spark_path) for item in files if item.json_layout == layout]
        if paths:
            frames.append(_reader(spark, schema, layout == "array").json(paths).select(
                _match_key_column().alias(_MATCH_KEY)))
    found = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    missing = found.distinct().join(_mapping(spark, files), on=_MATCH_KEY, how="left_anti")
    return [row[0] for row in missing.limit(limit).collect()]
