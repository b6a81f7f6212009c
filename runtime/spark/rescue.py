"""The ``_rescued_data`` of each record (:mod:`runtime.transforms.rescue`), computed by one Python UDF on the few
records that may carry something to rescue, found without a second parse of the others.

**Which records.** The native parse (:mod:`runtime.spark.native_json`) flags them in the parse itself. Without it:
every key of a JSON object is followed by one ``:`` outside strings, so the colons of a raw
record are its keys plus the colons inside its strings. Spark's reading of the record (one parse, with the spec's
schema) gives the keys the spec reads, and the colons of the strings it reads; when the two counts agree, the record
holds no key the spec does not read and every value the spec reads was converted: nothing to rescue, and Python is
not asked. The count errs only one way: a string whose colon Spark decodes from an escape (``\\u003a``) is sent to
Python whatever the counts say, and a known field that is null or a colon in an unknown value only sends a record to
Python for nothing. A name given twice in one object adds a colon Spark's reading (the last value) does not count, so
Python sees the record, and makes it malformed (as the one parse does); but not inside a value a string column holds
as its JSON text (Spark's text keeps both, and counts both). Counting is two byte passes over the text, no parse.

**Type mismatches** (``on_type_mismatch: rescue``): Spark makes a record with a value that does not fit its column
malformed, and keeps what it could convert (partial results); Python parses the record, and a value Spark read as
null although it is not is kept under its path, and the record is no longer malformed (a required column left null
dead-letters it as missing). A record Python cannot parse either stays malformed, dead-lettered whole.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from runtime.spark.native_json import RESCUED_FIELD, SIGHTINGS_FIELD
from runtime.spark.read import NOT_UTF8, RAW_RECORD, SKIPPED_FIELD
from runtime.transforms.rescue import field_sightings, rescue_record, rescued_json
from runtime.transforms.spec import CORRUPT_RECORD_COLUMN, INTERNAL_PREFIX, TransformSpec

#: The rescued data of a record (JSON text, null when nothing is rescued).
RESCUED = INTERNAL_PREFIX + "rescued"
_RESULT = INTERNAL_PREFIX + "rescue_result"
#: What was rescued of a record, one entry per field (:func:`runtime.transforms.rescue.sightings`), computed in the
#: same Python pass as :data:`RESCUED` (a second UDF over the rescued records cost as much as the rescue itself).
SIGHTINGS = INTERNAL_PREFIX + "sightings"
_SIGHTING = StructType([StructField("path", StringType()), StructField("kind", StringType()),
                        StructField("type", StringType()), StructField("example", StringType())])
_RESULT_TYPE = StructType([StructField("rescued", StringType()), StructField("parsed", BooleanType()),
                           StructField("sightings", ArrayType(_SIGHTING))])


def colons(text: Column) -> Column:
    """The ``:`` characters of ``text`` (bytes, not characters: two byte passes, no decoding)."""
    return F.octet_length(text) - F.octet_length(F.replace(text, F.lit(":"), F.lit("")))


def _name_colons(name: str) -> int:
    return name.count(":")


def known_keys(value: Column, data_type: DataType) -> Column:
    """For a non-null ``value`` read as ``data_type``: the keys Spark took inside it plus the colons of its strings
    (null members and null elements count nothing)."""
    if isinstance(data_type, StructType):
        total: Column = F.lit(0)
        for item in data_type.fields:
            child = value.getField(item.name)
            total = total + F.when(child.isNotNull(), 1 + _name_colons(item.name) + known_keys(child, item.dataType)) \
                .otherwise(0)
        return total
    if isinstance(data_type, ArrayType):
        return _elements_known_keys(value, data_type.elementType)
    if isinstance(data_type, MapType):
        inner = data_type.valueType
        return F.aggregate(F.map_entries(value), F.lit(0), lambda acc, e: acc + 1 + colons(e["key"])
                           + F.coalesce(known_keys(e["value"], inner), F.lit(0)))
    if isinstance(data_type, StringType):
        return colons(value)
    return F.lit(0)


def _elements_known_keys(elements: Column, data_type: DataType) -> Column:
    """:func:`known_keys` summed over ``elements`` (an array of ``data_type``; a null element counts nothing), with no
    ``aggregate`` where the type allows: its lambda, holding every nested count, is evaluated interpreted per
    element (measured: the ``aggregate`` over the list column cost as much as all the other counts of the flag
    together; with the counts below, the read of 40 MB and its known-key counts took 0.96 s of executor CPU instead
    of 1.22 s). A struct's fields are taken across the elements at once (``elements.field``: an array, its nulls
    dropped by ``array_compact``), a string array is joined once (``concat_ws`` skips nulls)."""
    if isinstance(data_type, StringType):
        return colons(F.concat_ws("", elements))
    if isinstance(data_type, StructType):
        total: Column = F.lit(0)
        for item in data_type.fields:
            children = F.array_compact(elements.getField(item.name))
            total = total + F.size(children) * (1 + _name_colons(item.name)) \
                + _elements_known_keys(children, item.dataType)
        return total
    if isinstance(data_type, ArrayType):
        return _elements_known_keys(F.flatten(F.array_compact(elements)), data_type.elementType)
    if isinstance(data_type, MapType):
        return F.aggregate(F.array_compact(elements), F.lit(0), lambda acc, x: acc + known_keys(x, data_type))
    return F.lit(0)


def may_rescue(spec: TransformSpec) -> Column:
    """True for a record that may carry something to rescue (see the module docstring); on a :func:`read_batch`
    frame of the fallback parse (the one parse flags and rescues by itself: :func:`rescued_in_the_parse`)."""
    schema = spec.source_schema()
    root = F.lit(0)
    for item in schema.fields:
        child = F.col(f"`{item.name}`")
        root = root + F.when(child.isNotNull(), 1 + _name_colons(item.name) + known_keys(child, item.dataType)) \
            .otherwise(0)
    raw = F.col(RAW_RECORD)
    return (colons(raw) != root) | raw.contains("\\u003")


def needs_rescue(spec: TransformSpec) -> Column:
    """True for a record Python must look at (on a :func:`read_batch` frame of the fallback parse): a well-formed
    one that :func:`may_rescue`, and with ``on_type_mismatch: rescue`` every malformed one (but those whose bytes are
    not UTF-8)."""
    corrupt = F.col(CORRUPT_RECORD_COLUMN).isNotNull()
    ask = ~corrupt & may_rescue(spec)
    return ask | _mistyped(corrupt) if spec.on_type_mismatch == "rescue" else ask


def _mistyped(corrupt: Column) -> Column:
    """The malformed records Python looks at under ``on_type_mismatch: rescue``: all but those whose bytes are not
    UTF-8 (decoded with replacement characters, Python would read them, and write them as good)."""
    return corrupt & ~F.col(NOT_UTF8)


def rescued_in_the_parse(frame: DataFrame, spec: TransformSpec, ask_column: str) -> DataFrame:
    """``frame`` (from :func:`read_batch`) with :data:`RESCUED` and :data:`SIGHTINGS` as the one parse found them
    (:mod:`runtime.spark.native_json`: a well-formed record's rescued data is complete there), the parse's own
    columns dropped, and ``ask_column`` true for the records Python must still look at: the malformed ones under
    ``on_type_mismatch: rescue`` (their values that do not fit; not those whose bytes are not UTF-8), and a record
    whose skipped value the parse could not copy. Only for a frame of the one parse (it has :data:`RESCUED_FIELD`)."""
    corrupt = F.col(CORRUPT_RECORD_COLUMN).isNotNull()
    # a skipped value the parse could not copy (a string longer than Jackson reads) leaves the record flagged with no
    # rescued data: Python rescues it
    incomplete = ~corrupt & F.col(SKIPPED_FIELD) & F.col(RESCUED_FIELD).isNull()
    ask = incomplete | _mistyped(corrupt) if spec.on_type_mismatch == "rescue" else incomplete
    rescued = frame.withColumns({ask_column: ask, RESCUED: F.when(~corrupt, F.col(RESCUED_FIELD)),
                                 SIGHTINGS: F.when(~corrupt, F.col(SIGHTINGS_FIELD))})
    return rescued.drop(SKIPPED_FIELD, RESCUED_FIELD, SIGHTINGS_FIELD)


def with_rescue(frame: DataFrame, spec: TransformSpec, ask: Column | None = None) -> DataFrame:
    """``frame`` (from :func:`runtime.spark.read.read_batch`) with :data:`RESCUED` and :data:`SIGHTINGS`; with
    ``on_type_mismatch: rescue``, a record malformed only by its types is no longer malformed (its
    ``_corrupt_record`` null); a record with a name given twice in one object is malformed (its raw text there).
    Python looks at the records where ``ask`` holds (default: :func:`needs_rescue`), but Spark ships EVERY row of
    ``frame`` to the Python worker and back (about 1 µs a row): give it only the rows that need it
    (:func:`runtime.spark.convert.convert_batch` splits the cached batch on :func:`needs_rescue`)."""
    schema = spec.source_schema()
    allow_nan = "non_numeric_numbers" in spec.json_allow
    mismatches = spec.on_type_mismatch == "rescue"

    paths: dict[str, tuple[str, str]] = {}  # general path and kind of each path seen (per Python worker)

    def rescue(text: str | None, parsed: str | None) -> tuple[str | None, bool, list] | None:
        found = rescue_record(text, schema, parsed, allow_nan)
        if found is None:
            return None
        fields, ok = found
        return rescued_json(fields, ok), ok, list(field_sightings(fields, schema, paths))

    udf = F.udf(rescue, _RESULT_TYPE)
    corrupt = F.col(CORRUPT_RECORD_COLUMN).isNotNull()
    ask = needs_rescue(spec) if ask is None else ask
    parsed_text = F.lit(None).cast("string")
    if mismatches:
        parsed_text = F.when(corrupt, F.to_json(F.struct(*[F.col(f"`{name}`") for name in schema.fieldNames()])))
    result = frame.withColumn(_RESULT, udf(F.when(ask, F.col(RAW_RECORD)), parsed_text))
    rescued = result.withColumn(RESCUED, F.col(_RESULT).getField("rescued")) \
        .withColumn(SIGHTINGS, F.col(_RESULT).getField("sightings"))
    if mismatches:
        rescued = rescued.withColumn(CORRUPT_RECORD_COLUMN, F.when(
            corrupt & F.coalesce(F.col(_RESULT).getField("parsed"), F.lit(False)), F.lit(None).cast("string"))
            .otherwise(F.col(CORRUPT_RECORD_COLUMN)))
    # nothing rescued from a record Python could not parse: a name given twice in one object, malformed
    malformed = ~F.col(_RESULT).getField("parsed") & F.col(_RESULT).getField("rescued").isNull()
    rescued = rescued.withColumn(CORRUPT_RECORD_COLUMN, F.when(~corrupt & malformed, F.col(RAW_RECORD))
                                 .otherwise(F.col(CORRUPT_RECORD_COLUMN)))
    return rescued.drop(_RESULT)


def no_sightings() -> Column:
    """A null :data:`SIGHTINGS` (for rows Python did not look at)."""
    return F.lit(None).cast(ArrayType(_SIGHTING))
