"""The declarative transform spec: which source fields to read, how to map them, and how to partition.

A spec is a JSON or YAML file (see ``default_spec.json`` for the reference mapping)::

    version: 1
    columns:              # output columns, in output order
      - {name: id, source: id, type: string, required: true}
      - {name: event_date, source: DATE, type: date, formats: [yyyy-MM-dd, yyyy/MM/dd], iso_timestamps: true}
      - {name: score, source: stats.score, type: string, cast: double}
    partitions:           # Hive-style partition columns, in directory order
      - {name: year, from: event_date, part: year}
      - {name: mode, from: event_mode, part: value, pattern: "^[A-Za-z0-9_.-]{1,64}$"}
    hook: my_pkg.my_module:my_function    # or /path/to/file.py:function (relative to the spec file); optional

Rules the loader enforces (each violation is a ``ValueError`` naming the offending key):

* ``source`` is a dotted path into the JSON object (``a.b.c``, matched case-sensitively); the read schema is
  built from these paths, so Spark never infers a schema, and fields that no column mentions are never read.
* ``type`` is the Spark SQL type the field is read as (``string``, ``bigint``, ``double``, ``boolean``,
  ``decimal(p,s)``, ``array<...>``, ``map<string,...>``, ``struct<a:...>``), or ``date``: a date column is
  read as a string and parsed with the accepted ``formats`` (default ``yyyy-MM-dd`` and ``yyyy/MM/dd``, see
  :func:`compile_date_format`) and, unless ``iso_timestamps`` is false, ISO-8601 timestamps truncated to
  their date (in UTC when they carry an offset).
  A value that is present but matches no format is a record-level error, never a silent null.
* ``cast`` (optional) converts the read value to another Spark SQL type; a present value that cannot be
  converted is a record-level error.
* ``required`` columns must be present and not null; the source column of every partition is required too.
* ``part`` is ``year``, ``month`` or ``day`` of a date column, or ``value`` of any column; a ``value``
  partition must match ``pattern`` (default :data:`SAFE_SEGMENT_PATTERN`) and is additionally never empty,
  ``.``, ``..``, the Hive default-partition marker, nor contains ``/`` or ``\\``. A record whose partition
  values cannot be derived is a record-level error: it is dead-lettered, never written to a
  ``__HIVE_DEFAULT_PARTITION__`` folder.
* ``source_s3_path`` (lineage) is added to every output row automatically; it is not a spec column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    ByteType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructField,
    StructType,
)

#: Default (and recommended) pattern for ``value`` partitions: a short, plain path segment.
SAFE_SEGMENT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
#: The column Spark fills with the raw text of a record it could not parse (PERMISSIVE mode).
CORRUPT_RECORD_COLUMN = "_corrupt_record"
#: The lineage column added to every output row.
LINEAGE_COLUMN = "source_s3_path"
#: Output column: the tracking version of the raw object the row came from (readers keep the latest per source).
SOURCE_VERSION_COLUMN = "source_version"
#: Prefix of the internal columns the converter adds; spec names may not use it.
INTERNAL_PREFIX = "__mldp_"
#: What Spark writes for a null or empty partition value; never a valid partition value here.
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: The type name that marks a date column (read as string, parsed with the column's formats).
DATE_TYPE = "date"
#: Date formats of the default spec.
DEFAULT_DATE_FORMATS = ("yyyy-MM-dd", "yyyy/MM/dd")

DATE_PARTS = ("year", "month", "day")
PARTITION_PARTS = (*DATE_PARTS, "value")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DATE_LITERALS = frozenset(" -/._,")
_DATE_FIELDS = ("yyyy", "MM", "dd")
_SPEC_KEYS = frozenset({"version", "description", "columns", "partitions", "hook"})
_COLUMN_KEYS = frozenset({"name", "source", "type", "required", "cast", "formats", "iso_timestamps",
                          "description"})
_PARTITION_KEYS = frozenset({"name", "from", "part", "pattern", "description"})
_DEFAULT_SPEC_RESOURCE = "default_spec.json"


# --------------------------------------------------------------------------------------------------- types
_PRIMITIVES: dict[str, type[DataType]] = {
    "string": StringType,
    "boolean": BooleanType,
    "tinyint": ByteType,
    "byte": ByteType,
    "smallint": ShortType,
    "short": ShortType,
    "int": IntegerType,
    "integer": IntegerType,
    "bigint": LongType,
    "long": LongType,
    "float": FloatType,
    "double": DoubleType,
}
_TYPE_TOKEN = re.compile(r"\s*(?:(`[^`]+`)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")
_TYPE_HELP = ("use a Spark SQL type: string, boolean, int, bigint, float, double, decimal(p,s), array<T>, "
              "map<string,T> or struct<name:T,...>")


class _TypeParser:
    """A small recursive-descent parser for Spark SQL type strings (no JVM needed)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = _TYPE_TOKEN.match(text, position)
            if match is None:
                raise ValueError(f"unexpected character {text[position:].strip()[0]!r} in type {text!r}")
            self.tokens.append(next(group for group in match.groups() if group is not None))
            position = match.end()
        self.index = 0

    def parse(self) -> DataType:
        result = self._type()
        if self.index != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.index]!r} in type {self.text!r}")
        return result

    def _next(self) -> str:
        if self.index >= len(self.tokens):
            raise ValueError(f"type {self.text!r} ends too early")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect(self, token: str) -> None:
        found = self._next()
        if found != token:
            raise ValueError(f"expected {token!r} but found {found!r} in type {self.text!r}")

    def _peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _type(self) -> DataType:
        word = self._next().lower()
        if word in _PRIMITIVES:
            return _PRIMITIVES[word]()
        if word == "decimal":
            if self._peek() != "(":
                return DecimalType(10, 0)
            self._expect("(")
            precision = int(self._next())
            self._expect(",")
            scale = int(self._next())
            self._expect(")")
            if not 1 <= precision <= 38 or not 0 <= scale <= precision:
                raise ValueError(f"decimal({precision},{scale}) is out of range in type {self.text!r}")
            return DecimalType(precision, scale)
        if word == "array":
            self._expect("<")
            element = self._type()
            self._expect(">")
            return ArrayType(element, True)
        if word == "map":
            self._expect("<")
            key = self._type()
            if not isinstance(key, StringType):
                raise ValueError(f"JSON object keys are strings: use map<string,...> in type {self.text!r}")
            self._expect(",")
            value = self._type()
            self._expect(">")
            return MapType(key, value, True)
        if word == "struct":
            self._expect("<")
            fields: list[StructField] = []
            while True:
                name = self._next().strip("`")
                if name in {">", ",", ":", "<"}:
                    raise ValueError(f"expected a field name in type {self.text!r}")
                self._expect(":")
                fields.append(StructField(name, self._type(), True))
                separator = self._next()
                if separator == ">":
                    break
                if separator != ",":
                    raise ValueError(f"expected ',' or '>' but found {separator!r} in type {self.text!r}")
            _check_unique([item.name for item in fields], f"struct fields of type {self.text!r}")
            return StructType(fields)
        raise ValueError(f"unknown or unsupported type {word!r} in {self.text!r}")


def parse_type(text: str) -> DataType:
    """Parse a Spark SQL type string (``string``, ``array<struct<a:string>>``, ...) into a ``DataType``.

    Dates and timestamps are deliberately unsupported inside read types: Spark would parse them with its own
    (policy-dependent) formatter; use a top-level ``date`` column instead. Raises ``ValueError``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty type; {_TYPE_HELP}")
    try:
        return _TypeParser(text).parse()
    except (ValueError, IndexError) as error:
        raise ValueError(f"{error}; {_TYPE_HELP}") from None


def _check_unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise ValueError(f"duplicate name {name!r} in {what} (names are compared case-insensitively)")
        seen.add(name.lower())


# --------------------------------------------------------------------------------------------------- dates
@dataclass(frozen=True)
class DateFormat:
    """One accepted date format: its digit mask and where each field sits.

    All fields have a fixed width, so a string has this format exactly when replacing each of its digits by
    ``0`` gives :attr:`mask`; its fields are then cut out with ``substring`` (1-based positions).
    """

    pattern: str  # as written in the spec, e.g. "yyyy-MM-dd"
    mask: str  # e.g. "0000-00-00"
    year_position: int
    month_position: int
    day_position: int


def compile_date_format(pattern: str) -> DateFormat:
    """Compile a date format such as ``yyyy-MM-dd`` or ``dd.MM.yyyy`` into a :class:`DateFormat`.

    Supported fields: ``yyyy`` (4-digit year), ``MM`` (2-digit month) and ``dd`` (2-digit day), each exactly
    once, separated by at least one of `` -/._,``. The separator is mandatory on purpose: the reader keeps a
    JSON *number* ``DATE`` (``20240105``) as the string ``"20240105"``, and a separator-free format such as
    ``yyyyMMdd`` would then accept numbers as dates; they must be errors. Raises ``ValueError``.
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("a date format must be a non-empty string such as 'yyyy-MM-dd'")
    mask: list[str] = []
    positions: dict[str, int] = {}
    previous_was_field = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char.isalpha():
            end = index
            while end < len(pattern) and pattern[end] == char:
                end += 1
            token = pattern[index:end]
            if token not in _DATE_FIELDS:
                raise ValueError(f"date format {pattern!r}: unsupported {token!r}; use yyyy, MM and dd "
                                 "with separators from ' -/._,'")
            if token in positions:
                raise ValueError(f"date format {pattern!r} uses {token!r} twice")
            if previous_was_field:
                raise ValueError(f"date format {pattern!r} needs a separator between fields: without one a "
                                 "JSON number DATE (e.g. 20240105) would be accepted as a date")
            positions[token] = index + 1
            mask.append("0" * len(token))
            previous_was_field = True
            index = end
        elif char in _DATE_LITERALS:
            mask.append(char)
            previous_was_field = False
            index += 1
        else:
            raise ValueError(f"date format {pattern!r}: unsupported character {char!r}; "
                             "separators are ' -/._,'")
    if set(positions) != set(_DATE_FIELDS):
        raise ValueError(f"date format {pattern!r} must contain a year (yyyy), a month (MM) and a day (dd)")
    return DateFormat(pattern, "".join(mask), positions["yyyy"], positions["MM"], positions["dd"])


# ------------------------------------------------------------------------------------------------- columns
@dataclass(frozen=True)
class ColumnSpec:
    """One output column: where it comes from, how it is read and whether it must be present."""

    name: str
    source: str  # dotted path into the JSON object
    type: str  # canonical Spark SQL read type (DataType.simpleString()), or "date"
    required: bool = False
    cast: str | None = None  # canonical output type when the column is cast after reading
    formats: tuple[DateFormat, ...] = ()  # date columns only
    iso_timestamps: bool = False  # date columns only
    description: str = ""

    @property
    def source_path(self) -> tuple[str, ...]:
        """The source path split into its segments."""
        return tuple(self.source.split("."))

    @property
    def is_date(self) -> bool:
        """Whether this column is parsed into a ``date`` from a string."""
        return self.type == DATE_TYPE

    def read_type(self) -> DataType:
        """The type the source field is read as (string for date columns)."""
        return StringType() if self.is_date else parse_type(self.type)

    def accepted_formats_text(self) -> str:
        """Human-readable list of accepted date formats, for error reasons."""
        names = [item.pattern for item in self.formats]
        if self.iso_timestamps:
            names.append("ISO-8601 timestamp")
        return ", ".join(names)


@dataclass(frozen=True)
class PartitionSpec:
    """One Hive-style partition column and how its value is derived from an output column."""

    name: str
    source_column: str  # the output column it is derived from (the spec's "from")
    part: str  # "year" | "month" | "day" | "value"
    pattern: str | None = None  # "value" partitions only

    @property
    def is_date_part(self) -> bool:
        """Whether the value is the year, month or day of a date column (an integer)."""
        return self.part in DATE_PARTS


@dataclass(frozen=True)
class TransformSpec:
    """A validated transform spec; build it with :func:`load_spec` or :func:`spec_from_dict`."""

    columns: tuple[ColumnSpec, ...]
    partitions: tuple[PartitionSpec, ...]
    hook: str | None = None
    version: int = 1
    description: str = field(default="", compare=False)

    @property
    def partition_names(self) -> tuple[str, ...]:
        """Partition column names in directory order."""
        return tuple(item.name for item in self.partitions)

    def column(self, name: str) -> ColumnSpec:
        """The output column called ``name``; raises ``KeyError``."""
        for item in self.columns:
            if item.name == name:
                return item
        raise KeyError(name)

    def effectively_required(self, column: ColumnSpec) -> bool:
        """Whether a null value of ``column`` is a record-level error (required, or a partition source)."""
        return column.required or any(item.source_column == column.name for item in self.partitions)

    def read_schema(self) -> StructType:
        """The explicit read schema: every source path as (nested) struct fields, plus ``_corrupt_record``."""
        root: dict[str, Any] = {}
        for column in self.columns:
            node = root
            *parents, leaf = column.source_path
            for segment in parents:
                node = node.setdefault(segment, {})
            node[leaf] = column.read_type()
        schema = _to_struct(root)
        return StructType([*schema.fields, StructField(CORRUPT_RECORD_COLUMN, StringType(), True)])

    def resolve_hook(self) -> Callable[[Any], Any] | None:
        """Import the hook function (``None`` when the spec has no hook); raises ``ValueError``."""
        if self.hook is None:
            return None
        from runtime.transforms.hooks import load_hook

        return load_hook(self.hook)


def _to_struct(node: Mapping[str, Any]) -> StructType:
    return StructType([
        StructField(name, _to_struct(value) if isinstance(value, dict) else value, True)
        for name, value in node.items()
    ])


# --------------------------------------------------------------------------------------------------- loading
def load_spec(path: str | None) -> TransformSpec:
    """Load and validate a spec file (``.json``, ``.yaml`` or ``.yml``); ``None`` loads the default spec.

    Raises ``ValueError`` with a message that names what to fix (missing file, bad syntax, unknown key, ...).
    """
    if path is None:
        text = resources.files("runtime.transforms").joinpath(_DEFAULT_SPEC_RESOURCE).read_text("utf-8")
        return spec_from_dict(json.loads(text))
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in {".json", ".yaml", ".yml"}:
        raise ValueError(f"transform spec {path!r}: use a .json, .yaml or .yml file")
    try:
        text = file.read_text("utf-8")
    except OSError as error:
        raise ValueError(f"transform spec {path!r} cannot be read: {error.strerror or error}") from None
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:  # json.JSONDecodeError is a ValueError
        kind = "JSON" if suffix == ".json" else "YAML"
        raise ValueError(f"transform spec {path!r} is not valid {kind}: {error}") from None
    try:
        return spec_from_dict(data, base_dir=file.resolve().parent)
    except ValueError as error:
        raise ValueError(f"transform spec {path!r}: {error}") from None


def spec_from_dict(data: Any, base_dir: Path | None = None) -> TransformSpec:
    """Validate a parsed spec document and build a :class:`TransformSpec`; raises ``ValueError``.

    ``base_dir`` resolves a relative ``file.py:function`` hook (the directory of the spec file).
    """
    if not isinstance(data, Mapping):
        raise ValueError("the spec must be an object with 'columns' and 'partitions'")
    _check_keys(data, _SPEC_KEYS, "spec")
    version = data.get("version", 1)
    if version != 1:
        raise ValueError(f"version: unsupported spec version {version!r}; this platform reads version 1")
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise ValueError("columns: give a non-empty list of {name, source, type} objects")
    columns = tuple(_column(item, f"columns[{index}]") for index, item in enumerate(raw_columns))
    _check_unique([item.name for item in columns], "columns")
    _check_source_paths(columns)
    raw_partitions = data.get("partitions", [])
    if not isinstance(raw_partitions, list):
        raise ValueError("partitions: give a list of {name, from, part} objects (may be empty)")
    by_name = {item.name: item for item in columns}
    partitions = tuple(_partition(item, f"partitions[{index}]", by_name)
                       for index, item in enumerate(raw_partitions))
    _check_unique([item.name for item in partitions], "partitions")
    for item in partitions:
        if item.name in by_name and not (item.part == "value" and item.source_column == item.name):
            raise ValueError(f"partitions: {item.name!r} is also a column name; rename the partition (a column "
                             "can only be its own partition with part 'value')")
    hook = _hook_reference(data.get("hook"), base_dir)
    spec = TransformSpec(columns=columns, partitions=partitions, hook=hook, version=1,
                         description=str(data.get("description", "")))
    spec.resolve_hook()
    return spec


def _check_keys(item: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"allowed keys are {', '.join(sorted(allowed))}")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{where}: {value!r} is not a valid name; use letters, digits and '_' "
                         "(not starting with a digit)")
    if value.startswith(INTERNAL_PREFIX) or value in {LINEAGE_COLUMN, SOURCE_VERSION_COLUMN, CORRUPT_RECORD_COLUMN}:
        raise ValueError(f"{where}: {value!r} is reserved (the converter adds {LINEAGE_COLUMN} and "
                         f"{SOURCE_VERSION_COLUMN} itself)")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: expected true or false, found {value!r}")
    return value


def _column(item: Any, where: str) -> ColumnSpec:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected an object with name, source and type")
    _check_keys(item, _COLUMN_KEYS, where)
    for key in ("name", "source", "type"):
        if key not in item:
            raise ValueError(f"{where}: missing required key {key!r}")
    name = _name(item["name"], f"{where}.name")
    source = item["source"]
    if not isinstance(source, str) or not source:
        raise ValueError(f"{where}.source: give the dotted path of the JSON field, e.g. 'a.b'")
    for segment in source.split("."):
        if not segment or "`" in segment:
            raise ValueError(f"{where}.source: {source!r} has an empty segment or a backtick")
        if segment == CORRUPT_RECORD_COLUMN or segment.startswith(INTERNAL_PREFIX):
            raise ValueError(f"{where}.source: {segment!r} is reserved")
    required = _bool(item.get("required", False), f"{where}.required")
    raw_type = item["type"]
    if not isinstance(raw_type, str):
        raise ValueError(f"{where}.type: {_TYPE_HELP}, or 'date'")
    is_date = raw_type.strip().lower() == DATE_TYPE
    date_keys = sorted(key for key in ("formats", "iso_timestamps") if key in item)
    if not is_date and date_keys:
        raise ValueError(f"{where}: {', '.join(date_keys)} only apply to columns of type 'date'")
    if is_date:
        if "cast" in item:
            raise ValueError(f"{where}.cast: a date column cannot be cast")
        raw_formats = item.get("formats", list(DEFAULT_DATE_FORMATS))
        if not isinstance(raw_formats, list) or not all(isinstance(value, str) for value in raw_formats):
            raise ValueError(f"{where}.formats: give a list of formats such as ['yyyy-MM-dd']")
        try:
            formats = tuple(compile_date_format(value) for value in raw_formats)
        except ValueError as error:
            raise ValueError(f"{where}.formats: {error}") from None
        iso = _bool(item.get("iso_timestamps", True), f"{where}.iso_timestamps")
        if not formats and not iso:
            raise ValueError(f"{where}: a date column needs at least one format or iso_timestamps: true")
        return ColumnSpec(name, source, DATE_TYPE, required, None, formats, iso, str(item.get("description", "")))
    try:
        read_type = parse_type(raw_type).simpleString()
    except ValueError as error:
        raise ValueError(f"{where}.type: {error}") from None
    cast = item.get("cast")
    if cast is not None:
        primitive_help = "cast to a primitive type: string, boolean, int, bigint, double, decimal(p,s), ..."
        try:
            cast_type = parse_type(cast) if isinstance(cast, str) else None
        except ValueError as error:
            raise ValueError(f"{where}.cast: {error}") from None
        if cast_type is None or isinstance(cast_type, ArrayType | MapType | StructType):
            raise ValueError(f"{where}.cast: {cast!r} is not allowed; {primitive_help}")
        if read_type.startswith(("array", "map", "struct")):
            raise ValueError(f"{where}.cast: a {read_type} value cannot be cast; read it as the type you need")
        cast = cast_type.simpleString()
    return ColumnSpec(name, source, read_type, required, cast, (), False, str(item.get("description", "")))


def _check_source_paths(columns: Sequence[ColumnSpec]) -> None:
    """Two columns may share a source only with the same read type; a leaf cannot also be a parent."""
    leaves: dict[tuple[str, ...], ColumnSpec] = {}
    for column in columns:
        path = column.source_path
        for other_path, other in leaves.items():
            if other_path == path and other.read_type() != column.read_type():
                raise ValueError(f"columns {other.name!r} and {column.name!r} read {column.source!r} with "
                                 "different types; read it once and use 'cast' on one of them")
            shorter, longer = sorted((path, other_path), key=len)
            if shorter != longer and longer[:len(shorter)] == shorter:
                raise ValueError(f"columns {other.name!r} and {column.name!r}: {'.'.join(shorter)!r} cannot be "
                                 f"both a field and the parent of {'.'.join(longer)!r}")
        leaves[path] = column
    top_level = list(dict.fromkeys(column.source_path[0] for column in columns))
    _check_unique(top_level, "top-level source fields")


def _partition(item: Any, where: str, columns: Mapping[str, ColumnSpec]) -> PartitionSpec:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected an object with name, from and part")
    _check_keys(item, _PARTITION_KEYS, where)
    for key in ("name", "from"):
        if key not in item:
            raise ValueError(f"{where}: missing required key {key!r}")
    name = _name(item["name"], f"{where}.name")
    source = item["from"]
    if source not in columns:
        raise ValueError(f"{where}.from: {source!r} is not a column; use one of {', '.join(columns)}")
    part = item.get("part", "value")
    if part not in PARTITION_PARTS:
        raise ValueError(f"{where}.part: {part!r} is not one of {', '.join(PARTITION_PARTS)}")
    if part in DATE_PARTS:
        if not columns[source].is_date:
            raise ValueError(f"{where}: part {part!r} needs a column of type 'date', but {source!r} is "
                             f"{columns[source].type}")
        if "pattern" in item:
            raise ValueError(f"{where}.pattern: only 'value' partitions take a pattern")
        return PartitionSpec(name, source, part, None)
    column = columns[source]
    output_type = column.cast or column.type
    if column.is_date or output_type.startswith(("array", "map", "struct")):
        raise ValueError(f"{where}: a 'value' partition needs a primitive non-date column; {source!r} is "
                         f"{output_type}")
    pattern = item.get("pattern", SAFE_SEGMENT_PATTERN)
    if not isinstance(pattern, str):
        raise ValueError(f"{where}.pattern: give a regular expression such as {SAFE_SEGMENT_PATTERN!r}")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{where}.pattern: {pattern!r} is not a valid regular expression: {error}") from None
    return PartitionSpec(name, source, "value", pattern)


def _hook_reference(value: Any, base_dir: Path | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"hook: {value!r} must be 'package.module:function' or '/path/to/file.py:function'")
    target, _, function = value.rpartition(":")
    if not target or not function.isidentifier():
        raise ValueError(f"hook: {value!r} must be 'package.module:function' or '/path/to/file.py:function'")
    if target.endswith(".py"):
        file = Path(target)
        if not file.is_absolute():
            if base_dir is None:
                raise ValueError(f"hook: {target!r} is relative; use an absolute path or load the spec from a "
                                 "file so it resolves against the spec's folder")
            file = base_dir / file
        return f"{file.resolve()}:{function}"
    return value
