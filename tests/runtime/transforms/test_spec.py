"""The transform spec: loading (default, JSON, YAML), validation messages, read-schema derivation, hooks."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql.types import (
    ArrayType,
    DecimalType,
    DoubleType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from runtime.errors import MldpError, SpecError, UsageError
from runtime.transforms import dates, loader, model, names, sql_types
from runtime.transforms import spec as spec_module
from runtime.transforms.spec import (
    SAFE_SEGMENT_PATTERN,
    compile_date_format,
    load_spec,
    parse_type,
    spec_from_dict,
)

DEFAULT_FILE = Path(__file__).resolve().parents[3] / "runtime" / "transforms" / "default_spec.json"


def minimal(**changes: Any) -> dict[str, Any]:
    """A small valid spec document; ``changes`` replace top-level keys."""
    document: dict[str, Any] = {
        "columns": [
            {"name": "id", "source": "id", "type": "string", "required": True},
            {"name": "event_date", "source": "DATE", "type": "date"},
            {"name": "kind", "source": "meta.kind", "type": "string"},
        ],
        "partitions": [{"name": "year", "from": "event_date", "part": "year"},
                       {"name": "k", "from": "kind", "part": "value"}],
    }
    document.update(changes)
    return document


# ------------------------------------------------------------------------------------------ default spec
def test_default_spec_is_the_reference_mapping() -> None:
    spec = load_spec(None)
    assert [(c.name, c.source, c.type, c.required) for c in spec.columns] == [
        ("id", "id", "string", True),
        ("event_date", "DATE", "date", False),
        ("event_mode", "MODE", "string", True),
        ("nested_field1", "some_nested_struct.field1", "string", False),
        ("original_complex_list", "some_list_of_structs", "array<struct<name:string,value:double>>", False),
    ]
    assert [f.pattern for f in spec.column("event_date").formats] == ["yyyy-MM-dd", "yyyy/MM/dd"]
    assert spec.column("event_date").iso_timestamps
    assert spec.partition_names == ("year", "month", "day", "mode")
    assert [(p.source_column, p.part) for p in spec.partitions] == [
        ("event_date", "year"), ("event_date", "month"), ("event_date", "day"), ("event_mode", "value")]
    assert spec.partitions[-1].pattern == SAFE_SEGMENT_PATTERN
    assert spec.hook is None
    # a partition source is required even when the column does not say so
    assert spec.effectively_required(spec.column("event_date"))
    assert not spec.effectively_required(spec.column("nested_field1"))


def test_default_read_schema_is_explicit_and_nested() -> None:
    assert load_spec(None).read_schema() == StructType([
        StructField("id", StringType()),
        StructField("DATE", StringType()),
        StructField("MODE", StringType()),
        StructField("some_nested_struct", StructType([StructField("field1", StringType())])),
        StructField("some_list_of_structs", ArrayType(StructType([
            StructField("name", StringType()), StructField("value", DoubleType())]))),
        StructField("_corrupt_record", StringType()),
    ])


def test_the_default_file_loads_like_the_packaged_default() -> None:
    assert load_spec(str(DEFAULT_FILE)) == load_spec(None)


def test_yaml_and_json_give_the_same_spec(tmp_path: Path) -> None:
    document = json.loads(DEFAULT_FILE.read_text())
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(document))
    (tmp_path / "spec.yml").write_text(yaml.safe_dump(document))
    (tmp_path / "spec.json").write_text(json.dumps(document))
    specs = [load_spec(str(tmp_path / name)) for name in ("spec.yaml", "spec.yml", "spec.json")]
    assert specs[0] == specs[1] == specs[2] == load_spec(None)


def test_nested_sources_share_one_struct_in_the_read_schema() -> None:
    spec = spec_from_dict(minimal(columns=[
        {"name": "a", "source": "x.y.a", "type": "bigint"},
        {"name": "b", "source": "x.b", "type": "map<string,decimal(10,2)>"},
        {"name": "c", "source": "x.y.c", "type": "string", "cast": "int"},
        {"name": "event_date", "source": "DATE", "type": "date"},
        {"name": "kind", "source": "x.y.a", "type": "bigint"},
    ]))
    assert spec.read_schema() == StructType([
        StructField("x", StructType([
            StructField("y", StructType([StructField("a", LongType()), StructField("c", StringType())])),
            StructField("b", MapType(StringType(), DecimalType(10, 2))),
        ])),
        StructField("DATE", StringType()),
        StructField("_corrupt_record", StringType()),
    ])
    assert spec.column("c").cast == "int"


# ------------------------------------------------------------------------------------------ invalid specs
def _column(index: int, **changes: Any):
    def change(document: dict[str, Any]) -> None:
        document["columns"][index].update(changes)
    return change


def _partition(index: int, **changes: Any):
    def change(document: dict[str, Any]) -> None:
        document["partitions"][index].update(changes)
    return change


def _set(**changes: Any):
    def change(document: dict[str, Any]) -> None:
        document.update(changes)
    return change


INVALID = [
    ("unknown top-level key", _set(colums=[]), r"spec: unknown key\(s\) 'colums'; allowed keys are"),
    ("no columns", _set(columns=[]), r"columns: give a non-empty list"),
    ("version", _set(version=2), r"version: unsupported spec version 2"),
    ("unknown column key", _column(0, nullable=True), r"columns\[0\]: unknown key\(s\) 'nullable'"),
    ("missing type", lambda d: d["columns"][2].pop("type"), r"columns\[2\]: missing required key 'type'"),
    ("bad type", _column(2, type="strng"), r"columns\[2\]\.type: unknown or unsupported type 'strng'.*use a Spark"),
    ("unclosed type", _column(2, type="array<string"), r"columns\[2\]\.type: type 'array<string' ends too early"),
    ("map with int keys", _column(2, type="map<int,string>"), r"JSON object keys are strings"),
    ("timestamp read type", _column(2, type="timestamp"), r"unsupported type 'timestamp'"),
    ("bad name", _column(2, name="2kind"), r"columns\[2\]\.name: '2kind' is not a valid name"),
    ("reserved name", _column(2, name="source_s3_path"), r"'source_s3_path' is reserved"),
    ("duplicate column", _column(2, name="ID"), r"duplicate name 'ID' in columns"),
    ("reserved source", _column(2, source="_corrupt_record"), r"columns\[2\]\.source: '_corrupt_record' is reserved"),
    ("empty source segment", _column(2, source="meta..kind"), r"empty segment"),
    ("leaf and parent", _column(0, source="meta"), r"'meta' cannot be both a field and the parent of 'meta\.kind'"),
    ("same source, two types", _column(0, source="meta.kind", type="bigint"), r"read 'meta\.kind' with different"),
    ("required not a boolean", _column(0, required="yes"), r"columns\[0\]\.required: expected true or false"),
    ("format without separator", _column(1, formats=["yyyyMMdd"]), r"needs a separator between fields: without one a "
     r"JSON number DATE"),
    ("short year", _column(1, formats=["yy-MM-dd"]), r"unsupported 'yy'; use yyyy, MM and dd"),
    ("missing day", _column(1, formats=["yyyy-MM"]), r"must contain a year \(yyyy\), a month \(MM\) and a day"),
    ("odd separator", _column(1, formats=["yyyy|MM|dd"]), r"unsupported character '\|'"),
    ("no format at all", _column(1, formats=[], iso_timestamps=False), r"needs at least one format"),
    ("formats on a string", _column(2, formats=["yyyy-MM-dd"]), r"formats only apply to columns of type 'date'"),
    ("cast of a date", _column(1, cast="string"), r"a date column cannot be cast"),
    ("cast to a struct", _column(2, cast="struct<a:int>"), r"columns\[2\]\.cast: 'struct<a:int>' is not allowed"),
    ("cast of a list", _column(2, type="array<string>", cast="string"), r"a array<string> value cannot be cast"),
    ("partition from nowhere", _partition(1, **{"from": "nope"}), r"partitions\[1\]\.from: 'nope' is not a column"),
    ("date part of a string", _partition(1, part="month"), r"part 'month' needs a column of type 'date'"),
    ("unknown part", _partition(1, part="week"), r"partitions\[1\]\.part: 'week' is not one of"),
    ("bad pattern", _partition(1, pattern="(unclosed"), r"partitions\[1\]\.pattern: '\(unclosed' is not a valid"),
    ("pattern on a date part", _partition(0, pattern="x"), r"only 'value' partitions take a pattern"),
    ("partition named like a column", _partition(1, name="id"), r"partitions: 'id' is also a column name"),
    ("duplicate partition", _partition(1, name="year", part="value"), r"duplicate name 'year' in partitions"),
    ("hook without function", _set(hook="my.module"), r"hook: 'my\.module' must be 'package\.module:function'"),
    ("hook module missing", _set(hook="no_such_module_xyz:f"), r"module 'no_such_module_xyz' cannot be imported"),
    ("hook attribute missing", _set(hook="json:no_such_function"), r"'json' has no attribute 'no_such_function'"),
    ("hook not callable", _set(hook="json:__doc__"), r"json:__doc__ is not callable"),
    ("hook file missing", _set(hook="/nonexistent/hook.py:f"), r"file '/nonexistent/hook\.py' does not exist"),
    ("relative hook without a file", _set(hook="hook.py:f"), r"'hook\.py' is relative"),
]


@pytest.mark.parametrize(("change", "message"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_spec_says_what_to_fix(change, message: str) -> None:
    document = copy.deepcopy(minimal())
    change(document)
    with pytest.raises(SpecError, match=message):
        spec_from_dict(document)


def test_a_column_may_be_its_own_value_partition() -> None:
    spec = spec_from_dict(minimal(partitions=[{"name": "kind", "from": "kind", "part": "value"}]))
    assert spec.partition_names == ("kind",)


@pytest.mark.parametrize(("file_name", "text", "message"), [
    ("spec.txt", "{}", r"use a \.json, \.yaml or \.yml file"),
    ("spec.json", "{not json", r"spec\.json' is not valid JSON"),
    ("spec.yaml", "columns: [unclosed", r"spec\.yaml' is not valid YAML"),
    ("spec.yaml", "- a\n- b\n", r"spec\.yaml': the spec must be an object"),
    ("spec.json", json.dumps(minimal(columns="id")), r"spec\.json': columns: give a non-empty list"),
])
def test_spec_file_errors_name_the_file(tmp_path: Path, file_name: str, text: str, message: str) -> None:
    (tmp_path / file_name).write_text(text)
    with pytest.raises(SpecError, match=message):
        load_spec(str(tmp_path / file_name))


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"missing\.yaml' cannot be read"):
        load_spec(str(tmp_path / "missing.yaml"))


def test_spec_errors_are_user_facing_and_still_value_errors() -> None:
    """``mldp`` prints a :class:`SpecError` as one ``error:`` line; library callers may keep catching ValueError."""
    assert issubclass(SpecError, UsageError) and issubclass(SpecError, MldpError) and issubclass(SpecError, ValueError)


def test_the_spec_module_reexports_the_parts() -> None:
    parts = {"load_spec": loader, "spec_from_dict": loader, "TransformSpec": model, "ColumnSpec": model,
             "PartitionSpec": model, "DATE_TYPE": model, "parse_type": sql_types, "compile_date_format": dates,
             "DateFormat": dates, "DEFAULT_DATE_FORMATS": dates, "LINEAGE_COLUMN": names,
             "CORRUPT_RECORD_COLUMN": names, "SAFE_SEGMENT_PATTERN": names}
    for name, module in parts.items():
        assert getattr(spec_module, name) is getattr(module, name), name
    assert set(parts) <= set(spec_module.__all__)


# ------------------------------------------------------------------------------------------ types and formats
@pytest.mark.parametrize(("text", "canonical"), [
    ("STRING", "string"),
    ("Integer", "int"),
    ("long", "bigint"),
    ("decimal", "decimal(10,0)"),
    ("decimal( 12 , 3 )", "decimal(12,3)"),
    ("array<struct<`odd name`:string, n:array<double>>>", "array<struct<odd name:string,n:array<double>>>"),
    ("map<string, struct<a:boolean>>", "map<string,struct<a:boolean>>"),
])
def test_parse_type(text: str, canonical: str) -> None:
    assert parse_type(text).simpleString() == canonical


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty type"),
    ("decimal(40,2)", r"decimal\(40,2\) is out of range"),
    ("struct<a:int,a:string>", "duplicate name 'a'"),
    ("array<string>>", "unexpected '>'"),
    ("struct<a string>", "expected ':' but found 'string'"),
    ("string!", "unexpected character '!'"),
    ("decimal(ten,2)", "expected a number but found 'ten'"),
])
def test_parse_type_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_type(text)


@pytest.mark.parametrize(("pattern", "mask", "example", "positions"), [
    ("yyyy-MM-dd", "0000-00-00", "2024-01-05", (1, 6, 9)),
    ("dd.MM.yyyy", "00.00.0000", "05.01.2024", (7, 4, 1)),
    ("MM/dd/yyyy", "00/00/0000", "01/05/2024", (7, 1, 4)),
    ("yyyy, dd_MM", "0000, 00_00", "2024, 05_01", (1, 10, 7)),
])
def test_compile_date_format(pattern: str, mask: str, example: str, positions: tuple) -> None:
    compiled = compile_date_format(pattern)
    assert compiled.mask == mask
    assert (compiled.year_position, compiled.month_position, compiled.day_position) == positions
    # what the compiled format means is proven where it is used: tests/runtime/spark/test_dates.py parses
    # ``example`` with it in Spark and gets 2024-01-05


# ------------------------------------------------------------------------------------------ hooks
HOOK_SOURCE = textwrap.dedent("""
    CALLS = []

    def tag(df):
        CALLS.append(df)
        return ("tagged", df)
""")


def test_hook_from_a_file_relative_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "custom.py").write_text(HOOK_SOURCE)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(minimal(hook="hooks/custom.py:tag")))
    spec = load_spec(str(tmp_path / "spec.yaml"))
    assert spec.hook == f"{(tmp_path / 'hooks' / 'custom.py').resolve()}:tag"
    hook = spec.resolve_hook()
    assert hook is not None and hook("frame") == ("tagged", "frame")
    assert spec.resolve_hook() is hook  # loading twice reuses the module


def test_hook_from_an_importable_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_team_hooks.py").write_text(HOOK_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = spec_from_dict(minimal(hook="my_team_hooks:tag"))
    assert spec.hook == "my_team_hooks:tag"
    assert spec.resolve_hook()(1) == ("tagged", 1)  # type: ignore[misc]


def test_hook_that_fails_to_import(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(SpecError, match=r"importing .*broken\.py' failed: RuntimeError: boom"):
        spec_from_dict(minimal(hook=str(tmp_path / "broken.py") + ":f"))
