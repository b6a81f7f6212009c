"""Reading one batch of raw JSON files with an explicit schema, each row tagged with its source file and holding its
raw text.

The files are read as text (a line of a JSON Lines file, the whole of an ``array`` file) and parsed once with
``from_json`` and the spec's schema (or its bytes-fed twin that also flags skipped keys,
:mod:`runtime.spark.native_json`), which is Spark's JSON reader (the same parser, options and PERMISSIVE mode as
``spark.read.json``): the raw text of every record stays at hand for the rescue of the fields the spec does not read
(:mod:`runtime.spark.rescue`) and for the dead letters. A text that starts with ``[`` (a line that is an array, an
``array`` file) is first split into its elements' texts (as ``from_json`` as ``array<string>`` splits it; an element
as the text holds it where the one parse is used, else as Spark re-serialises it), each one record, as
``spark.read.json`` reads such an array; an array with an element that is not an object, or that does not parse, is
one record (malformed) with its whole text. What follows the first value of a text is ignored, as Spark does; blank
lines hold no record; a UTF-8 byte-order mark at the start of a file is skipped."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, DataFrameReader, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, LongType, StringType, StructField, StructType

from runtime.spark import native_json
from runtime.spark.failures import root_cause
from runtime.spark.names import GLOB_CHARS, hadoop_codec_suffix
from runtime.transforms.spec import CORRUPT_RECORD_COLUMN, INTERNAL_PREFIX

FILE_ID = INTERNAL_PREFIX + "file_id"
LINEAGE = INTERNAL_PREFIX + "lineage"
#: The tracking table's version of the raw file (1, then +1 for each new ETag), written as ``source_version``.
SOURCE_VERSION = INTERNAL_PREFIX + "source_version"
_INPUT_FILE = INTERNAL_PREFIX + "input_file"
#: True for a record holding a key the schema does not read (present only where the native parse is used:
#: :mod:`runtime.spark.native_json`).
SKIPPED_FIELD = native_json.SKIPPED_FIELD
#: The raw text of each record (a line, a whole ``array`` file, or an element of an array: see the module docstring).
RAW_RECORD = INTERNAL_PREFIX + "raw_record"
_PARSED = INTERNAL_PREFIX + "parsed"
#: True for a record whose bytes are not UTF-8 (malformed whatever a second look at its decoded text finds).
NOT_UTF8 = INTERNAL_PREFIX + "not_utf8"
_BOM = "\ufeff"

LAYOUTS = ("lines", "array")
# Hadoop collapses repeated '/' in paths (but not the '//' after 'scheme:').
_REPEATED_SLASHES = re.compile(r"(?<!:)/{2,}")


@dataclass(frozen=True)
class SourceFile:
    """One raw file of the batch."""

    file_id: int  # tracking-table id
    key: str  # object key in the store
    spark_path: str  # what Spark reads (local absolute path or s3://...)
    lineage_path: str  # value written in source_s3_path, e.g. s3://bucket/key
    json_layout: str  # "lines" (JSON Lines) or "array" (one JSON document, usually an array)
    source_version: int = 1  # tracking-table version of the object (a new ETag is a new version)


def escape_glob(path: str) -> str:
    """Escape Hadoop glob characters (``{}[]*?\\``) so Spark reads ``path`` literally."""
    return GLOB_CHARS.sub(r"\\\1", path)


def codec_unavailable(spark: SparkSession, paths: Sequence[str]) -> dict[str, str]:
    """Why Spark cannot decompress each of ``paths`` here (by path; absent: it can): Hadoop picks the codec by
    the name, and a codec whose decompressor cannot be made in this JVM (``.zst`` needs a libhadoop built with
    zstd, which the pip-installed Spark lacks) would fail the read of every file of the batch."""
    suffixes = {suffix for path in paths if (suffix := hadoop_codec_suffix(path))}
    if not suffixes:
        return {}
    jvm = spark.sparkContext._jvm
    factory = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(spark.sparkContext._jsc.hadoopConfiguration())
    missing: dict[str, str] = {}
    for suffix in sorted(suffixes):
        try:
            codec = factory.getCodec(jvm.org.apache.hadoop.fs.Path("probe" + suffix))
            if codec is None:
                raise LookupError(f"no Hadoop codec is registered for {suffix}")
            codec.createDecompressor()
        except Exception as exc:
            missing[suffix] = (f"unsupported compression codec {suffix}: this Spark cannot decompress it "
                               f"({root_cause(exc)})")
    return {path: missing[suffix] for path in paths if (suffix := hadoop_codec_suffix(path)) in missing}


def normalise_path(path: str) -> str:
    """A comparable form of a path as given to Spark (never percent-encoded, as Hadoop reads it literally):
    without a ``file:`` scheme, repeated slashes collapsed."""
    if path.startswith("file:"):
        path = "/" + path[len("file:"):].lstrip("/")
    return _REPEATED_SLASHES.sub("/", path)


def uri_to_path(uri: str) -> str:
    """The :func:`normalise_path` form of a file URI returned by Spark (``file:///a%20b.json``,
    ``s3://bucket/k%5B1%5D``): percent-decoded as UTF-8; a literal ``+`` stays ``+``."""
    return normalise_path(unquote(uri))


#: Spark's JSON reader options that make it accept more than RFC 8259; all off unless a spec allows one (two of
#: them, single quotes and NaN/Infinity tokens, are *on* in Spark by default).
STRICT_JSON_OPTIONS: dict[str, str] = {
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
    "allowComments": "false",
    "allowUnquotedFieldNames": "false",
    "allowNumericLeadingZeros": "false",
}


def json_parse_options(json_options: Mapping[str, str] | None = None) -> dict[str, str]:
    """The options of every JSON parse of a batch: PERMISSIVE, ``_corrupt_record``, strict JSON
    (:data:`STRICT_JSON_OPTIONS`) unless ``json_options`` (a spec's leniencies) say otherwise."""
    return {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD_COLUMN,
            **STRICT_JSON_OPTIONS, **(json_options or {})}


def _reader(spark: SparkSession, whole_text: bool) -> DataFrameReader:
    return spark.read.format("text").option("wholetext", "true" if whole_text else "false")


def record_texts(text: Column, options: Mapping[str, str], native: SparkSession | None = None) -> Column:
    """The record texts of one line or file (``array<string>``; empty for an empty array). A text that starts with
    ``{`` (nearly every record) is one record, decided by one byte test before anything else: the array split
    below costs even when its branch is not taken (measured: about half the read path's time without the gate).
    With ``native`` (a session where the one parse is usable) an element is its text as the array holds it
    (:func:`runtime.spark.native_json.array_elements`), else as ``from_json`` writes it again."""
    plain = F.array(text)
    starts_object = text.startswith("{")
    text = F.when(text.startswith(_BOM), text.substr(F.lit(2), F.length(text))).otherwise(text)
    first = F.substring(text, 1, 1)
    opens_array = F.when(first == "[", F.lit(True)).when(first.isin(" ", "\t", "\r", "\n"),
                                                           text.rlike(r"^[\t\r\n ]*\["))
    elements = native_json.array_elements(native, text, options) if native is not None \
        else F.from_json(text, ArrayType(StringType()), options)
    whole = F.array(text)
    usable = elements.isNotNull() & F.forall(elements, lambda item: item.isNotNull() & item.startswith("{"))
    split = F.when(F.coalesce(opens_array, F.lit(False)), F.when(usable, elements).otherwise(whole)).otherwise(whole)
    return F.when(starts_object, plain).otherwise(split)


def lookup_frame(spark: SparkSession, rows: Sequence[Sequence[str | int]], schema: StructType) -> DataFrame:
    """A small table of driver-side ``rows`` (strings and integers) as an inline ``VALUES`` table: a local relation,
    so broadcasting it runs no Python job (``createDataFrame`` of a list ships the rows through a Python worker:
    measured 0.3-0.6 s a batch). Strings are given as hex UTF-8 (no quoting to get wrong)."""
    def literal(value: str | int, data_type: object) -> str:
        if isinstance(value, str):
            return f"CAST(X'{value.encode('utf-8').hex()}' AS STRING)"
        return f"CAST({int(value)} AS {data_type.simpleString()})"  # type: ignore[attr-defined]

    types = [item.dataType for item in schema.fields]
    values = ", ".join("(" + ", ".join(literal(value, data_type) for value, data_type in zip(row, types, strict=True))
                       + ")" for row in rows)
    names = ", ".join(f"`{name}`" for name in schema.fieldNames())
    return spark.sql(f"VALUES {values} AS t({names})")


def _check(files: Sequence[SourceFile]) -> dict[str, SourceFile]:
    if not files:
        raise ValueError("read_batch needs at least one file")
    unknown = sorted({item.json_layout for item in files} - set(LAYOUTS))
    if unknown:
        raise ValueError(f"unknown json_layout {unknown}; expected one of {LAYOUTS}")
    by_path = {normalise_path(item.spark_path): item for item in files}
    if len(by_path) != len(files):
        raise ValueError("a batch lists the same file twice")
    return by_path


def read_batch(spark: SparkSession, files: Sequence[SourceFile], schema: StructType,
               json_options: Mapping[str, str] | None = None) -> DataFrame:
    """All records of ``files`` parsed with ``schema`` and strict JSON (:data:`STRICT_JSON_OPTIONS`, overridden by
    ``json_options``: a spec's opt-in leniencies) (PERMISSIVE: unparseable records keep their raw text in
    ``_corrupt_record``), each row tagged with :data:`FILE_ID` (see :func:`attach_lineage` for the rest of its
    lineage), holding its raw text in :data:`RAW_RECORD` (see the module docstring) and :data:`NOT_UTF8`. Where
    the native parse is usable (:func:`runtime.spark.native_json.available`) the records are parsed by it, with the
    same result, and the frame also has :data:`SKIPPED_FIELD` and the rescued data the parse found
    (:data:`runtime.spark.native_json.RESCUED_FIELD`, :data:`~runtime.spark.native_json.SIGHTINGS_FIELD`).

    ``lines`` files are read line by line, ``array`` files whole (one document per file: a broken element makes
    the whole document one corrupt record). The file names Spark resolved (``inputFiles()``, the same URIs
    ``input_file_name()`` returns) are matched to ``files`` here, on the driver, so each row only needs an
    exact-string broadcast join; a name that matches no file raises ``ValueError`` before any data is read.
    """
    by_path = _check(files)
    options = json_parse_options(json_options)
    frames: list[DataFrame] = []
    mapping: list[tuple[str, int]] = []
    for layout in LAYOUTS:
        paths = [escape_glob(item.spark_path) for item in files if item.json_layout == layout]
        if not paths:
            continue
        frame = _reader(spark, layout == "array").load(paths)
        for uri in frame.inputFiles():
            item = by_path.get(uri_to_path(uri))
            if item is None:
                raise ValueError(f"Spark resolved {uri!r}, which matches no file of the batch")
            mapping.append((uri, item.file_id))
        frames.append(frame)
    raw = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    mapping_schema = StructType([
        StructField(_INPUT_FILE, StringType(), False),
        StructField(FILE_ID, LongType(), False),
    ])
    lookup = F.broadcast(lookup_frame(spark, mapping, mapping_schema))
    tagged = raw.withColumn(_INPUT_FILE, F.input_file_name()).join(lookup, on=_INPUT_FILE, how="left")
    text = F.col("value")
    native = native_json.available(spark)  # the same parse, on the bytes, rescuing skipped keys
    # decoded with replacement characters, a text that is not UTF-8 differs from its bytes
    not_utf8 = ~native_json.valid_utf8(spark, text) if native else F.encode(text, "UTF-8") != text.cast("binary")
    # the check is a column before the explode: given in the select of the explode, it was computed twice per line
    # (once inside the Generate, once in the projection after it)
    records = tagged.select(FILE_ID, "value", not_utf8.alias(NOT_UTF8)).select(FILE_ID, NOT_UTF8, F.explode(
        F.when(F.col(NOT_UTF8), F.array(text)).otherwise(record_texts(text, options, spark if native else None)))
        .alias(RAW_RECORD))
    raw_record = F.col(RAW_RECORD)
    # from_json gives null exactly for a blank text (no JSON token): those are dropped BEFORE the parse, as a filter
    # on the parsed value would be pushed below the projection and parse every record twice
    blank = F.when(raw_record.startswith("{"), F.lit(False)).otherwise(
        F.expr(f"trim(BOTH ' \\t\\r\\n' FROM `{RAW_RECORD}`) = ''"))
    parse = native_json.flagged_from_json(spark, raw_record, schema, options) if native \
        else F.from_json(raw_record, schema, options)
    parsed = records.where(~blank).select(FILE_ID, RAW_RECORD, NOT_UTF8, parse.alias(_PARSED))
    fields = [F.col(_PARSED).getField(name).alias(name) for name in schema.fieldNames()]
    if CORRUPT_RECORD_COLUMN in schema.fieldNames():  # bytes that are not UTF-8 make the record malformed, as in
        fields = [F.when(F.col(NOT_UTF8), F.col(RAW_RECORD)).otherwise(field).alias(CORRUPT_RECORD_COLUMN)
                  if name == CORRUPT_RECORD_COLUMN else field  # Spark's own reader of JSON files
                  for name, field in zip(schema.fieldNames(), fields, strict=True)]
    flag = [F.col(_PARSED).getField(name).alias(name) for name in (SKIPPED_FIELD, native_json.RESCUED_FIELD,
                                                                     native_json.SIGHTINGS_FIELD)] if native else []
    return parsed.select(*fields, FILE_ID, RAW_RECORD, NOT_UTF8, *flag)


def attach_lineage(frame: DataFrame, spark: SparkSession, files: Sequence[SourceFile]) -> DataFrame:
    """Add :data:`LINEAGE` and :data:`SOURCE_VERSION` to rows by :data:`FILE_ID` (a broadcast join). Done after the
    batch is cached, not before, so the cache does not hold a long path string for every record."""
    lookup_schema = StructType([
        StructField(FILE_ID, LongType(), False),
        StructField(LINEAGE, StringType(), False),
        StructField(SOURCE_VERSION, IntegerType(), False),
    ])
    rows = [(item.file_id, item.lineage_path, item.source_version) for item in files]
    return frame.join(F.broadcast(lookup_frame(spark, rows, lookup_schema)), on=FILE_ID, how="left")
