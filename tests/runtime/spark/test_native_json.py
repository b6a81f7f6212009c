"""The one-parse JSON reader (``runtime.spark.native_json``): its parse is ``from_json``'s, value for value, on
well-formed, malformed and hostile records; its flag is exactly "holds a key the schema does not read" on a
well-formed record; without the class the read falls back to ``from_json``; the shipped jar is built from the
shipped sources."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import shutil
import subprocess
import zipfile
from importlib import resources
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import functions as F

from runtime.spark import native_json
from runtime.spark.read import SKIPPED_FIELD, SourceFile, json_parse_options, read_batch
from runtime.transforms.exact_json import loads
from runtime.transforms.rescue import (
    DuplicateKey,
    parse_record,
    rescued_fields,
    rescued_json,
    sightings,
)
from runtime.transforms.spec import CORRUPT_RECORD_COLUMN, load_spec, spec_from_dict
from tests.support.drifting_records import drifting_record, lines

pytestmark = pytest.mark.spark

NATIVE = Path(resources.files("runtime.spark").joinpath("native"))  # type: ignore[arg-type]

#: Texts on which the two parses must agree: well-formed, lenient-only, malformed, mistyped, hostile bytes.
HOSTILE_TEXTS = [
    '{"id": "a", "DATE": "2024-01-02", "MODE": "train", "some_nested_struct": {"field1": "x", "z": [1]}}',
    '{"id": 1, "some_list_of_structs": [{"name": "n", "value": "text"}, {"name": "m", "value": 2}]}',
    '{"id": "b", "some_list_of_structs": "text"}',
    '{"id": "c", "some_nested_struct": 3}',
    '{"id": "d", "some_nested_struct": {"field1": {"an": "object"}}}',
    '{"id": "e"',
    '{"id": "f", "x": NaN}',
    "{'id': 'g'}",
    '{"id": "h"} trailing text',
    '  \t{"id": "i"}',
    '{"id": "j", "id": "k"}',
    '{"id": "\\u0000\\u003a\\ud83d\\ude00"}',
    '\ufeff{"id": "bom-inside"}',
    '\x00{"id": "nul"}',
    '{"id": "deep", "x": ' + "[" * 1200 + "]" * 1200 + "}",
    "[1, 2]",
    '"just a string"',
    "123",
    "null",
    '{"id": "l", "some_list_of_structs": [null, {"name": null}, {}]}',
    '{"id": "m", "MODE": 10000000000000000000000000}',
    # numbers a double cannot hold, in a typed column and beside it: the typed value is Spark's, as before
    '{"id": "n", "some_list_of_structs": [{"name": "a", "value": 1.2345678901234567890123},'
    ' {"name": "b", "value": 1e400}, {"name": "c", "value": 123456789012345678901234567890}], "x": 1e400, "y": -0.0}',
]


def _gives_a_name_twice(text: str) -> bool:
    """Whether Python reads ``text`` as JSON with an object that gives a name twice."""
    try:
        parse_record(text, unique_keys=True)
    except DuplicateKey:
        return True
    except ValueError:
        return False
    return False


def _both_parses(spark, schema, texts: list[str]):
    """For strict options, then every leniency: rows of each text (``value``) with ``from_json``'s result
    (``spark``) and the native parse's (``ours``), each as ``to_json`` writes it."""
    values = ", ".join(f"(CAST(X'{text.encode('utf-8').hex()}' AS STRING))" for text in texts)
    frame = spark.sql(f"VALUES {values} AS t(value)")
    lenient = {key: "true" for key in ("allowSingleQuotes", "allowNonNumericNumbers", "allowComments",
                                       "allowUnquotedFieldNames", "allowNumericLeadingZeros")}
    assert native_json.available(spark)
    for options in (json_parse_options(), json_parse_options(lenient)):
        native = native_json.flagged_from_json(spark, F.col("value"), schema, options)
        ours = F.to_json(F.struct(*[native.getField(name).alias(name) for name in schema.fieldNames()]))
        yield frame.select("value", F.to_json(F.from_json("value", schema, options)).alias("spark"),
                           ours.alias("ours")).collect()


def test_the_native_parse_is_from_json_value_for_value(spark):
    """Under strict options and under every leniency, the native parse gives ``from_json``'s values (partial
    results of a mistyped record and ``_corrupt_record`` included), as ``to_json`` writes them; but a record with a
    name given twice in one object is malformed (``from_json`` keeps the last value)."""
    texts = HOSTILE_TEXTS + [json.dumps(drifting_record(random.Random(3), n, drift=0.5, mismatches=True))
                             for n in range(200)]
    for rows in _both_parses(spark, load_spec(None).read_schema(), texts):
        assert len(rows) == len(texts)
        twice = [row for row in rows if _gives_a_name_twice(row["value"])]
        assert [row["value"] for row in rows if row["spark"] != row["ours"] and row not in twice] == []
        assert len(twice) == 1 and [json.loads(row["ours"]) for row in twice] == [
            {CORRUPT_RECORD_COLUMN: '{"id": "j", "id": "k"}'}]
        assert sum(CORRUPT_RECORD_COLUMN in (row["ours"] or "") for row in rows) >= 8  # the malformed ones


#: A read schema with objects nested three deep, in lists, lists of lists and map values (the native parse reads
#: nested objects itself: ``NestedObjects.java``), and records that put every kind of token where they are.
_NESTED_SCHEMA = ("a int, s struct<b:int, t:struct<c:array<struct<d:bigint,e:string,f:decimal(5,2)>>>, g:boolean>, "
                  "m map<string,struct<h:double>>, l array<array<struct<i:int>>>, _corrupt_record string")
_NESTED_TEXTS = [
    '{"a": 1, "s": {"b": 2, "t": {"c": [{"d": 3, "e": "x", "f": 1.25}, {"d": null}, {}]}, "g": true}}',
    '{"a": 1, "s": {"b": "two", "t": {"c": [{"d": 3}]}, "g": false}}',
    '{"a": 1, "s": {"b": 2, "t": {"c": [{"d": "three", "e": "x"}, {"d": 4}]}}}',
    '{"s": {"t": {"c": [{"d": 1, "f": 123456.7}]}}, "a": "x"}',
    '{"s": {"t": {"c": [{"e": {"an": ["object", 1]}, "zz": {"q": 1}}]}, "unknown": 1}, "a": 2}',
    '{"s": [1, 2], "a": 3}', '{"s": "text", "a": 3}', '{"s": 7}', '{"s": true}', '{"s": null, "m": null}',
    '{"s": {"t": []}}', '{"s": {"t": {"c": {"d": 1}}}}', '{"s": {"t": {"c": [1, "x", null, []]}}}',
    '{"m": {"k": {"h": 1.5, "o": 2}, "j": {"h": "no"}, "n": null}}', '{"m": {"k": 3}}',
    '{"l": [[{"i": 1}, {"i": "x"}], [], null, [{"z": 1}]]}', '{"l": [{"i": 1}]}',
    '{"s": {"b": 1, "t": {"c": [{"d": 1}', '{"s": {"b": 1}} trailing', '{"s": {"g": tru}}',
    '{"s": {"b": 1.5, "t": {"c": [{"d": 1e400, "f": "1.5"}]}}}', "{'s': {'b': 1}}", '{s: {b: 1}, "a": 01}',
]


def test_nested_objects_are_read_as_from_json_reads_them(spark):
    """Objects at every depth (in structs, lists, lists of lists, map values), with values of the wrong type at each
    depth (partial results), unknown keys, tokens that are not objects where an object is read, truncated and
    lenient-only records: the native parse gives ``from_json``'s values, under strict options and every leniency."""
    from pyspark.sql.types import _parse_datatype_string

    for rows in _both_parses(spark, _parse_datatype_string(_NESTED_SCHEMA), _NESTED_TEXTS):
        assert [(row["value"], row["ours"]) for row in rows if row["spark"] != row["ours"]] == []
        partial = next(json.loads(row["ours"]) for row in rows if row["value"] == _NESTED_TEXTS[2])
        assert partial["s"]["t"]["c"][1] == {"d": 4} and CORRUPT_RECORD_COLUMN in partial  # a partial result


def test_the_flag_is_exactly_the_records_holding_a_key_the_spec_does_not_read(spark, tmp_path):
    """On every well-formed record the flag equals "the rescue finds an unknown field" (both ways: it never misses
    one, and never asks Python for nothing), wrong-case names, keys holding ':' and escaped colons included."""
    rng = random.Random(17)
    records = [drifting_record(rng, index, drift=0.3) for index in range(400)]
    records += [{"id": "case", "Id": 1}, {"id": "colon", "some_nested_struct": {"field1": "a:b"}},
                {"id": "key-colon", "some_nested_struct": {"x:y": 1}},
                {"id": "empty", "some_nested_struct": {}, "some_list_of_structs": [{}]},
                {"id": "null-unknown", "extra": None}]
    path = tmp_path / "in.jsonl"
    path.write_bytes(lines(records).replace(b'"a:b"', b'"a\\u003ab"'))
    spec = load_spec(None)
    frame = read_batch(spark, [SourceFile(1, "k", str(path), str(path), "lines")], spec.read_schema())
    flags = {row["id"]: row[SKIPPED_FIELD] for row in frame.where(F.col(CORRUPT_RECORD_COLUMN).isNull())
             .select("id", SKIPPED_FIELD).collect()}
    schema = spec.source_schema()
    expected = {item["id"]: bool(rescued_fields(item, schema)) for item in records}
    assert flags == expected
    assert 50 < sum(expected.values()) < len(records) - 50
    assert flags["null-unknown"] and flags["case"] and flags["key-colon"] and not flags["colon"]


def test_without_the_class_the_read_falls_back_to_from_json(spark, tmp_path, monkeypatch, caplog):
    """A JVM without the class (a Glue job without ``--extra-jars``, or a Spark whose internals differ) fails the
    self-check once, with a warning, and the batch is parsed by ``from_json`` with the colon count."""
    monkeypatch.setattr(native_json, "_CLASS", "mldp.spark.NoSuchClass")
    monkeypatch.setattr(native_json, "_checked", {})
    with caplog.at_level(logging.WARNING, logger=native_json.__name__):
        assert native_json.available(spark) is False
    assert "not usable here" in caplog.text
    path = tmp_path / "in.jsonl"
    path.write_bytes(lines([{"id": "a", "device": 1}]))
    frame = read_batch(spark, [SourceFile(1, "k", str(path), str(path), "lines")], load_spec(None).read_schema())
    assert SKIPPED_FIELD not in frame.columns
    assert "from_json(StructField(" in frame._jdf.queryExecution().executedPlan().toString()
    assert [row["id"] for row in frame.collect()] == ["a"]


def test_a_map_column_reads_every_key_so_nothing_is_flagged_in_it(spark, tmp_path):
    spec = spec_from_dict({"columns": [{"name": "id", "source": "id", "type": "string"},
                                       {"name": "m", "source": "m", "type": "map<string,bigint>"}]})
    path = tmp_path / "in.jsonl"
    path.write_bytes(lines([{"id": "a", "m": {"x:y": 1, "z": 2}}, {"id": "b", "m": {"x": 1}, "n": 1}]))
    frame = read_batch(spark, [SourceFile(1, "k", str(path), str(path), "lines")], spec.read_schema())
    assert {row["id"]: row[SKIPPED_FIELD] for row in frame.collect()} == {"a": False, "b": True}


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(NATIVE.joinpath("src").rglob("*.java")):
        digest.update(path.relative_to(NATIVE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_the_shipped_jar_is_built_from_the_shipped_sources(tmp_path):
    """The provenance names the sources' digest and the jar's; the sources compile against the pinned Spark into
    exactly the jar's classes (byte for byte with the javac that built it; scripts/build-native-jar.sh rebuilds)."""
    provenance = json.loads(NATIVE.joinpath("mldp-native.provenance.json").read_text())
    jar = NATIVE.joinpath(native_json.JAR_NAME).read_bytes()
    assert provenance["sources_sha256"] == _sources_digest(), "sources changed: run scripts/build-native-jar.sh"
    assert provenance["jar_sha256"] == hashlib.sha256(jar).hexdigest()
    javac = shutil.which("javac")
    assert javac, "javac (a JDK 17) is needed to check the shipped jar against its sources"
    jars = Path(pyspark.__file__).parent / "jars"
    assert re.fullmatch(r"spark-catalyst_2\.12-3\.5\.\d+\.jar", provenance["compiled_against"][0])
    subprocess.run([javac, "--release", "17", "-nowarn", "-cp", f"{jars}/*", "-d", str(tmp_path),
                    *map(str, sorted(NATIVE.joinpath("src").rglob("*.java")))], check=True, capture_output=True)
    built = {path.relative_to(tmp_path).as_posix(): path.read_bytes() for path in tmp_path.rglob("*.class")}
    with zipfile.ZipFile(NATIVE.joinpath(native_json.JAR_NAME)) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist() if name.endswith(".class")}
    assert sorted(built) == sorted(shipped)
    version = subprocess.run([javac, "-version"], capture_output=True, text=True, check=True)
    if (version.stdout or version.stderr).strip() == provenance["javac"]:
        assert built == shipped


def test_the_parse_rescues_what_python_rescues(spark, tmp_path):
    """On every well-formed record the parse's rescued data is what :mod:`runtime.transforms.rescue` writes (the same
    JSON text: numbers as the record wrote them, strings escaped as Python escapes them), and its sightings are
    Python's: the same general paths, kinds, JSON types and examples."""
    rng = random.Random(23)
    records = [drifting_record(rng, index, drift=0.6) for index in range(300)]
    texts = [json.dumps(item) for item in records] + [
        '{"id": "numbers-unknown", "y": [1e3, 1e20, -0.0, 12345678901234567890], "x": {"b": null}}',
        '{"id": "names", "x.y": 1, "": 2, "$ref": 3, "quote\\"d": 4, "naïve": "ü\\u2028\\u001f", "a[0]": []}',
        '{"id": "deep", "some_list_of_structs": [{"name": "n", "value": 1, "more": {"k": [{"z": 1}]}}, {"k2": 2}],'
        ' "some_nested_struct": {"field1": "v", "inner": {"a": {"b": {"c": "d"}}}}}',
        '{"id": "long", "blob": "' + "é" * 300 + '"}',
        '{"id": "numbers", "n": [1.2345678901234567890123, 1e400, -1e-400, -0.0, 1E+2, 0.1, 1.0E20, -0, '
        '123456789012345678901234567890123], "some_nested_struct": {"m": -98765432109876543210.000000000000000000001}}',
        '{"id": "controls", "c": "\\u0000\\u001f\\u007f\\b\\f\\n\\r\\t\\"\\\\/", "\\u0001k": 1}',
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    spec = load_spec(None)
    frame = read_batch(spark, [SourceFile(1, "k", str(path), str(path), "lines")], spec.read_schema())
    found = {row["id"]: row for row in frame.where(F.col(CORRUPT_RECORD_COLUMN).isNull()).collect()}
    assert len(found) == len(texts)
    schema = spec.source_schema()
    for text in texts:
        record = loads(text)
        expected = rescued_json(rescued_fields(record, schema), True)
        row = found[record["id"]]
        assert row[native_json.RESCUED_FIELD] == expected, text
        mine = [tuple(item) for item in row[native_json.SIGHTINGS_FIELD] or []]
        assert mine == list(sightings(expected, schema)), text
    assert found["numbers-unknown"][native_json.RESCUED_FIELD] == (
        '{"y":[1e3,1e20,-0.0,12345678901234567890],"x":{"b":null}}')
    assert found["numbers"][native_json.RESCUED_FIELD] == (
        '{"n":[1.2345678901234567890123,1e400,-1e-400,-0.0,1E+2,0.1,1.0E20,0,123456789012345678901234567890123],'
        '"some_nested_struct.m":-98765432109876543210.000000000000000000001}')
    assert found["controls"][native_json.RESCUED_FIELD] == (
        '{"c":"\\u0000\\u001f\x7f\\b\\f\\n\\r\\t\\"\\\\/","\\u0001k":1}')


def _array_text(rng: random.Random) -> str:
    """A JSON array (mostly), compact or pretty, of objects, scalars, nulls, strings (some starting with ``{``) and
    arrays; sometimes with text after it, sometimes cut short or with a byte changed."""
    def scalar() -> object:
        return rng.choice([None, 1, -2.5e3, 0.1, True, "", "{s", "a\"]}[{\\", "é\u2028", 10**20])

    def element(depth: int = 0) -> object:
        roll = rng.random()
        if depth > 3 or roll < 0.3:
            return scalar()
        if roll < 0.45:
            return [element(depth + 1) for _ in range(rng.randrange(0, 3))]
        return {f"k{i}": element(depth + 1) for i in range(rng.randrange(0, 4))}

    items = [element() if rng.random() < 0.3 else {"id": "x", "v": element(1)} for _ in range(rng.randrange(0, 4))]
    text = rng.choice(["", " ", "\n\t"]) + json.dumps(items, indent=rng.choice([None, 2]),
                                                      ensure_ascii=rng.random() < 0.5)
    text += rng.choice(["", "", " trailing", "\n[1]", "]"])
    if rng.random() < 0.2:
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice(["", '"', "\\", "]", "{", "}", ",", " "]) + text[at + 1:]
    return text[:rng.randrange(1, len(text) + 1)] if rng.random() < 0.1 else text


def test_an_array_is_split_as_from_json_splits_it_each_element_as_the_text_holds_it(spark):
    """The one parse's array split (``array_elements``) finds what ``from_json(text, array<string>)`` finds on random
    arrays (broken ones included): null for the same texts, the same elements, a string element its value, a null
    null; but every other element is its text as the array holds it (``from_json`` writes it again, its numbers
    through a double), so the record parsed from an element keeps its numbers."""
    rng = random.Random(77)
    texts = [_array_text(rng) for _ in range(600)] + [
        '[{"id": "a", "x": 1.2345678901234567890123, "y": [1e400, -0.0, 1E+2]},\n {"id": "b"}]']
    values = ", ".join(f"(CAST(X'{text.encode('utf-8').hex()}' AS STRING))" for text in texts)
    frame = spark.sql(f"VALUES {values} AS t(value)")
    options = json_parse_options()
    assert native_json.available(spark)
    rows = frame.select(F.from_json("value", "array<string>", options).alias("spark"),
                        native_json.array_elements(spark, F.col("value"), options).alias("ours")).collect()
    for text, row in zip(texts[:-1], rows[:-1], strict=True):
        spark_elements, ours = row["spark"], row["ours"]
        assert (ours is None) == (spark_elements is None), text
        if ours is None:
            continue
        assert len(ours) == len(spark_elements), text
        for mine, theirs in zip(ours, spark_elements, strict=True):
            assert mine == theirs or (mine in text and json.loads(mine) == json.loads(theirs)), text
            assert (mine or "").startswith("{") == (theirs or "").startswith("{"), text  # one record, or the whole
    assert 100 < sum(row["ours"] is None for row in rows) < len(rows) - 300
    assert rows[-1]["ours"] == ['{"id": "a", "x": 1.2345678901234567890123, "y": [1e400, -0.0, 1E+2]}', '{"id": "b"}']
    assert rows[-1]["spark"][0] == '{"id":"a","x":1.2345678901234567,"y":["Infinity",-0.0,100.0]}'


def test_the_utf8_check_is_strict_utf8_as_python_decodes_it(spark):
    """The one-pass check agrees with a strict UTF-8 decoder on edge sequences and on random bytes: stray
    continuation bytes, truncated, overlong and surrogate sequences, code points past U+10FFFF, 4-byte characters."""
    rng = random.Random(41)
    edge = [b"", b"plain", "é日😀".encode(), b"\x80", b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xc2\x80", b"\xe0\x9f\xbf",
            b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xed\xa0\x80", b"\xef\xbf\xbf", b"\xf0\x8f\xbf\xbf",
            b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff",
            b"a\xe2\x82", b"\xe2\x82\xacz"]
    alphabet = [b"a", b"\x00", b"\x7f", b"\x80", b"\xbf", b"\xc2", b"\xdf", b"\xe0", b"\xed", b"\xef", b"\xf0", b"\xf4",
                b"\xf8", b"\xa0", b"\x90", b"\x8f"]
    samples = edge + [b"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 6))) for _ in range(3000)]

    def strict(data: bytes) -> bool:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    values = ", ".join(f"(CAST(X'{data.hex()}' AS STRING))" for data in samples)
    frame = spark.sql(f"VALUES {values} AS t(value)")
    ours = [row[0] for row in frame.select(native_json.valid_utf8(spark, F.col("value"))).collect()]
    assert ours == [strict(data) for data in samples]
    assert 100 < sum(ours) < len(samples) - 100


@pytest.mark.parametrize("text", [
    '{"id": "a", "some_nested_struct": {"field1": "x", "extra": 1}, "some_nested_struct": {"field1": "y"}}',
    '{"id": "b", "some_nested_struct": {"field1": "x", "extra": 1}, "some_nested_struct": null}',
    '{"id": "c", "x": 1, "y": [1e3], "x": {"b": null}}',
    '{"id": "d", "some_list_of_structs": [{"name": "n", "value": 1, "more": {"k": 1, "k": 2}}]}',
    '{"id": "e", "some_nested_struct": {"field1": {"k": [{"z": 1, "z": 2}]}}}',
    '{"id": "f", "x": [{"y": {}}, {"y": {"a": 1, "b": 2, "c": 3, "a": 4}}]}',
])
def test_a_name_given_twice_in_one_object_makes_the_record_malformed(spark, tmp_path, text):
    """Spark keeps the last value of a name given twice, so the earlier one would be lost without a trace (found by
    the review of 2026-12-06): the one parse makes such a record malformed, its text in ``_corrupt_record``, whether
    the name is read or skipped, at the top level, in a struct or list element, inside an unknown value or inside a
    value a string column holds as its JSON text."""
    path = tmp_path / "in.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    spec = load_spec(None)
    assert native_json.available(spark)
    row = read_batch(spark, [SourceFile(1, "k", str(path), str(path), "lines")], spec.read_schema()).collect()[0]
    assert row[CORRUPT_RECORD_COLUMN] == text
    assert _gives_a_name_twice(text)


def test_a_long_unknown_string_does_not_make_the_record_malformed(spark, tmp_path):
    """``from_json`` skips an unknown value without reading it; the one parse copies it, and a string past Jackson's
    20,000,000-character limit cannot be copied: the skip is finished, the record stays well-formed, flagged with no
    rescued data, for Python (found by the review: it was made malformed)."""
    text = '{"id": "long", "blob": "' + "a" * 20_000_001 + '"}'
    frame = spark.createDataFrame([(text,)], "value string")
    schema = load_spec(None).read_schema()
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD_COLUMN}
    native = native_json.flagged_from_json(spark, F.col("value"), schema, options)
    row = frame.select(F.from_json("value", schema, options).getField(CORRUPT_RECORD_COLUMN).isNull().alias("spark"),
                       native.getField(CORRUPT_RECORD_COLUMN).isNull().alias("ours")).collect()[0]
    assert row["spark"] is True  # from_json: well-formed
    assert row["ours"] is True, "the one parse made a well-formed record malformed"
    flagged = frame.select(native.getField(SKIPPED_FIELD), native.getField(native_json.RESCUED_FIELD)).collect()[0]
    assert tuple(flagged) == (True, None)  # flagged with no rescued data: Python rescues it (rescued_in_the_parse)
