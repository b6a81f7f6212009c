"""One JSON parse that also tells which records hold a field the schema does not read.

Spark 3.5's ``from_json`` hands each record to Jackson through a character decoder (``spark.read.json`` hands it
the bytes), and the rescue needs to know which records carry a key the spec does not read, which Spark's parser
finds and drops in silence. A small JVM class shipped with the runtime, ``mldp.spark.FlaggedJson``
(``native/src``, built into ``native/mldp-native.jar`` by ``scripts/build-native-jar.sh``), runs Spark's own parser
(the same ``JacksonParser``, ``JSONOptions`` and PERMISSIVE ``FailureSafeParser`` as ``from_json``: the same typed
values, partial results and ``_corrupt_record``) on the record's bytes, and returns one more field, true when the
parser skipped a key: Spark's parser skips a key exactly when its struct lacks it (and after a conversion error,
which makes the record malformed anyway). The flag replaces the colon count of :func:`runtime.spark.rescue.may_rescue`
and costs nothing beyond the parse. The skipped values are not thrown away: the class copies each under its JSON
path, so a well-formed record's rescued data and its sightings come out of the same parse, and no Python pass is
needed for it (Python still rescues malformed records under ``on_type_mismatch: rescue``). Unlike ``from_json``, which
keeps the last value of a name given twice in one object, the class makes such a record malformed (dead-lettered
whole, nothing lost).

The class uses Spark internals (``JacksonParser``, ``FailureSafeParser``, ``StaticInvoke``), so it is used only when
it is on the JVM's classpath (the local session adds it; on Glue the processor's ``--extra-jars`` does) and a
self-check on probe records agrees with ``from_json``, once per SparkContext; otherwise the read falls back to
``from_json`` and the colon count, with one warning (``MLDP_NATIVE_JSON=off``, or the Spark setting
``spark.mldp.nativeJson=false``, e.g. the workflow's ``spark_conf`` on Glue, forces the fallback).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

from runtime.transforms.exact_json import loads
from runtime.transforms.rescue import rescued_fields, rescued_json
from runtime.transforms.spec import CORRUPT_RECORD_COLUMN, INTERNAL_PREFIX

__all__ = ["JAR_NAME", "RESCUED_FIELD", "SIGHTINGS_FIELD", "SKIPPED_FIELD", "array_elements", "available",
           "flagged_from_json", "jar_path", "valid_utf8"]

log = logging.getLogger(__name__)

JAR_NAME = "mldp-native.jar"
#: The field of the parsed struct that is true when the record holds a key the schema does not read.
SKIPPED_FIELD = INTERNAL_PREFIX + "skipped_field"
#: The record's rescued data as the parse found it (``{"path":value,...}``; null: nothing skipped), and its
#: sightings (``array<struct<path,kind,type,example>>``): :mod:`runtime.transforms.rescue`'s, for a well-formed record.
RESCUED_FIELD = INTERNAL_PREFIX + "parse_rescued"
SIGHTINGS_FIELD = INTERNAL_PREFIX + "parse_sightings"
_CLASS = "mldp.spark.FlaggedJson"
#: Set to ``off`` to parse with ``from_json`` and flag with the colon count.
SWITCH = "MLDP_NATIVE_JSON"
#: The same switch as a Spark setting (``false``), which a Glue job takes through its ``spark_conf``.
CONF = "spark.mldp.nativeJson"

_checked: dict[str, bool] = {}

#: An array the self-check splits (:func:`array_elements`), and its elements as the text holds them.
_ARRAY_PROBE = ('[{"a": 1e400, "b": [1.2345678901234567890123]},\n  {"c": "d"}, null, "{s", 2]',
                ['{"a": 1e400, "b": [1.2345678901234567890123]}', '{"c": "d"}', None, "{s", "2"])

#: Probe records of the self-check: (text, expected flag; ``None`` for a malformed record, whose flag means nothing)
#: under :data:`_PROBE_SCHEMA`.
_PROBES: tuple[tuple[str, bool | None], ...] = (
    ('{"a": 1, "s": {"b": 2}}', False),
    ('{"a": 1, "x": [1, {"y": 2}]}', True),
    ('{"s": {"b": 2, "c": "d"}}', True),
    ('{"s": null, "l": [{"n": "p"}, {"n": "q", "m": 1}]}', True),
    ('{"a": "not a number", "z": 1}', None),
    ('{"a": 1', None),
    ('{"t": {"u": [1, 2]}, "A": 3}', True),
    ('{"t": "text", "l": []}', False),
    # a value of the wrong type inside nested objects (partial results, read by the jar's own nested-object reader)
    ('{"a": 1, "s": {"b": "x"}, "l": [{"n": "p"}, {"n": {"o": 1}, "m": 2}]}', None),
    # numbers as their text (a jar that copies them through a double disagrees with the Python rescue)
    ('{"a": 1, "n": [1.2345678901234567890123, 1e400, -0.0, 1E+2, 123456789012345678901234567890], "s": {"m": -1e-7}}',
     True),
)
#: Probe records with a name given twice in one object (top level, in a struct, under an unknown key in a list):
#: ``from_json`` keeps the last value, the class makes each malformed (its ``_corrupt_record`` the text), so a jar
#: that would lose the earlier value (an older build) is not used.
_DUPLICATE_PROBES = ('{"a": 1, "a": 2}', '{"s": {"b": 2, "b": 3}}', '{"a": 1, "x": [{"y": 1}, {"y": 2, "y": 3}]}')
_PROBE_SCHEMA = StructType([
    StructField("a", IntegerType()),
    StructField("s", StructType([StructField("b", IntegerType())])),
    StructField("l", ArrayType(StructType([StructField("n", StringType())]))),
    StructField("t", StringType()),
    StructField(CORRUPT_RECORD_COLUMN, StringType()),
])


def jar_path() -> str | None:
    """The jar's file path when the runtime is a folder on disk (a local run, the tests), else ``None`` (the
    runtime imported from a zip, as on Glue, where ``--extra-jars`` puts the jar on the classpath)."""
    found = resources.files("runtime.spark").joinpath("native", JAR_NAME)
    return str(found) if isinstance(found, Path) and found.is_file() else None


def _native(spark: SparkSession) -> Any:
    """The JVM class (a py4j proxy)."""
    return functools.reduce(getattr, _CLASS.split("."), spark.sparkContext._jvm)


def flagged_from_json(spark: SparkSession, text: Column, schema: StructType, options: Mapping[str, str]) -> Column:
    """``text`` parsed as ``from_json(text, schema, options)`` would, as a struct of ``schema``'s fields and then
    :data:`SKIPPED_FIELD`, :data:`RESCUED_FIELD` and :data:`SIGHTINGS_FIELD`. Only where :func:`available` holds."""
    return Column(_native(spark).column(text._jc, schema.json(), json.dumps(dict(options)),
                                        spark.conf.get("spark.sql.session.timeZone"), SKIPPED_FIELD, RESCUED_FIELD,
                                        SIGHTINGS_FIELD))


def array_elements(spark: SparkSession, text: Column, options: Mapping[str, str]) -> Column:
    """The elements of ``text`` (a JSON array) as ``from_json(text, array<string>, options)`` splits it, but an
    object element as the text holds it (``from_json`` writes it again, its numbers through a double: ``1e400``
    became ``"Infinity"``, digits past the 17th were lost). Only where :func:`available` holds."""
    return Column(_native(spark).elementsColumn(text._jc, json.dumps(dict(options))))


def valid_utf8(spark: SparkSession, text: Column) -> Column:
    """Whether ``text``'s bytes are well-formed UTF-8, in one pass over them (``encode(text) = cast(text as binary)``
    decodes and encodes every text). Only where :func:`available` holds."""
    return Column(_native(spark).utf8Column(text._jc))


def available(spark: SparkSession) -> bool:
    """Whether :func:`flagged_from_json`, :func:`array_elements` and :func:`valid_utf8` can be used in this
    SparkContext: the class loads, they run, an array is split as the probe expects, and the parse agrees with
    ``from_json``, the expected flags and the Python rescue (its JSON text, numbers as their token text) on probe
    records, and makes a record with a name given twice in one object malformed (checked once per SparkContext)."""
    if os.environ.get(SWITCH, "on").lower() == "off" or spark.conf.get(CONF, "true").lower() == "false":
        return False
    key = spark.sparkContext.applicationId
    if key not in _checked:
        _checked[key] = _self_check(spark)
    return _checked[key]


def _self_check(spark: SparkSession) -> bool:
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD_COLUMN}
    all_texts = [text for text, _ in _PROBES] + list(_DUPLICATE_PROBES)
    texts = F.array(*[F.lit(text) for text in all_texts])
    try:
        # from a range, not a local table: the probes are parsed by the executors, in generated code, as a batch is
        # (a projection over a local table is folded on the driver, interpreted, by the optimizer)
        probes = spark.range(len(all_texts), numPartitions=1).select(F.element_at(texts, F.col("id").cast("int") + 1)
                                                                   .alias("text"))
        native = flagged_from_json(spark, F.col("text"), _PROBE_SCHEMA, options)
        names = _PROBE_SCHEMA.fieldNames()
        ours = F.to_json(F.struct(*[native.getField(name).alias(name) for name in names]))
        rows = probes.select(F.to_json(F.from_json("text", _PROBE_SCHEMA, options)).alias("spark"),
                             ours.alias("ours"), native.getField(SKIPPED_FIELD).alias("flag"),
                             native.getField(RESCUED_FIELD).alias("rescued"),
                             valid_utf8(spark, F.col("text")).alias("utf8")).collect()
        array = F.element_at(F.array(F.lit(_ARRAY_PROBE[0])), F.col("id").cast("int") + 1)
        elements = spark.range(1).select(array_elements(spark, array, options)).collect()[0][0]
    except Exception as exc:  # py4j: class not on the classpath, or Spark internals that differ from 3.5's
        log.warning("the native JSON parse (%s) is not usable here, using from_json and the colon count: %s",
                    _CLASS, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return False
    source = StructType([item for item in _PROBE_SCHEMA.fields if item.name != CORRUPT_RECORD_COLUMN])

    def rescued(text: str) -> str | None:
        return rescued_json(rescued_fields(loads(text), source), True)

    wrong = [(text, row) for (text, flag), row in zip(_PROBES, rows[:len(_PROBES)], strict=True)
             if row["spark"] != row["ours"] or row["utf8"] is not True or (flag is not None and (
                 row["flag"] != flag or row["rescued"] != rescued(text)))]
    wrong += [(text, row) for text, row in zip(_DUPLICATE_PROBES, rows[len(_PROBES):], strict=True)
              if json.loads(row["ours"]).get(CORRUPT_RECORD_COLUMN) != text]
    if elements != _ARRAY_PROBE[1]:
        wrong.append((_ARRAY_PROBE[0], elements))
    if wrong:
        log.warning("the native JSON parse (%s) disagrees with from_json or the Python rescue on %d probe records "
                    "(first: %r), using from_json and the colon count", _CLASS, len(wrong), wrong[0])
        return False
    return True
