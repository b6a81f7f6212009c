"""Loading a transform spec: the file (JSON or YAML; the packaged default when none is given) and the validation
of the document, key by key, into a :class:`~runtime.transforms.model.TransformSpec`. Every violation is a
:class:`~runtime.errors.SpecError` naming the key to fix; the format is described in :mod:`runtime.transforms.spec`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql.types import ArrayType, MapType, StructType

from runtime.errors import SpecError
from runtime.transforms.dates import DEFAULT_DATE_FORMATS, compile_date_format
from runtime.transforms.hooks import HOOK_FORMS
from runtime.transforms.model import (
    DATE_PARTS,
    DATE_TYPE,
    JSON_LENIENCIES,
    PARTITION_PARTS,
    SCHEMA_POLICIES,
    TYPE_MISMATCH_RULES,
    ColumnSpec,
    PartitionSpec,
    TransformSpec,
)
from runtime.transforms.names import (
    CORRUPT_RECORD_COLUMN,
    INTERNAL_PREFIX,
    SAFE_SEGMENT_PATTERN,
    check_unique,
    valid_name,
)
from runtime.transforms.sql_types import TYPE_HELP, parse_type

_SPEC_KEYS = frozenset({"version", "description", "columns", "partitions", "hook", "json", "schema_policy",
                        "on_type_mismatch"})
_JSON_KEYS = frozenset({"allow"})
_COLUMN_KEYS = frozenset({"name", "source", "type", "required", "cast", "formats", "iso_timestamps",
                          "description"})
_PARTITION_KEYS = frozenset({"name", "from", "part", "pattern", "description"})
_DEFAULT_SPEC_RESOURCE = "default_spec.json"


def load_spec(path: str | None) -> TransformSpec:
    """Load and validate a spec file (``.json``, ``.yaml`` or ``.yml``); ``None`` loads the default spec.

    Raises :class:`~runtime.errors.SpecError` with a message that names what to fix (missing file, bad syntax,
    unknown key, ...).
    """
    if path is None:
        text = resources.files("runtime.transforms").joinpath(_DEFAULT_SPEC_RESOURCE).read_text("utf-8")
        return spec_from_dict(json.loads(text))
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in {".json", ".yaml", ".yml"}:
        raise SpecError(f"transform spec {path!r}: use a .json, .yaml or .yml file")
    try:
        text = file.read_text("utf-8")
    except OSError as error:
        raise SpecError(f"transform spec {path!r} cannot be read: {error.strerror or error}") from None
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:  # json.JSONDecodeError is a ValueError
        kind = "JSON" if suffix == ".json" else "YAML"
        raise SpecError(f"transform spec {path!r} is not valid {kind}: {error}") from None
    try:
        return spec_from_dict(data, base_dir=file.resolve().parent)
    except SpecError as error:
        raise SpecError(f"transform spec {path!r}: {error}") from None


def spec_from_dict(data: Any, base_dir: Path | None = None) -> TransformSpec:
    """Validate a parsed spec document and build a :class:`TransformSpec`; raises :class:`SpecError`.

    ``base_dir`` resolves a relative ``file.py:function`` hook (the directory of the spec file).
    """
    if not isinstance(data, Mapping):
        raise SpecError("the spec must be an object with 'columns' and 'partitions'")
    _check_keys(data, _SPEC_KEYS, "spec")
    version = data.get("version", 1)
    if version != 1:
        raise SpecError(f"version: unsupported spec version {version!r}; this platform reads version 1")
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise SpecError("columns: give a non-empty list of {name, source, type} objects")
    columns = tuple(_column(item, f"columns[{index}]") for index, item in enumerate(raw_columns))
    check_unique([item.name for item in columns], "columns")
    _check_source_paths(columns)
    raw_partitions = data.get("partitions", [])
    if not isinstance(raw_partitions, list):
        raise SpecError("partitions: give a list of {name, from, part} objects (may be empty)")
    by_name = {item.name: item for item in columns}
    partitions = tuple(_partition(item, f"partitions[{index}]", by_name)
                       for index, item in enumerate(raw_partitions))
    check_unique([item.name for item in partitions], "partitions")
    for item in partitions:
        if item.name in by_name and not (item.part == "value" and item.source_column == item.name):
            raise SpecError(f"partitions: {item.name!r} is also a column name; rename the partition (a column "
                            "can only be its own partition with part 'value')")
    hook = _hook_reference(data.get("hook"), base_dir)
    policy = _choice(data.get("schema_policy", "rescue"), SCHEMA_POLICIES, "schema_policy")
    mismatch = _choice(data.get("on_type_mismatch", "dead_letter"), TYPE_MISMATCH_RULES, "on_type_mismatch")
    if mismatch == "rescue" and policy != "rescue":
        raise SpecError(f"on_type_mismatch: 'rescue' keeps the value in _rescued_data, which schema_policy "
                        f"{policy!r} does not write; use schema_policy: rescue or on_type_mismatch: dead_letter")
    spec = TransformSpec(columns=columns, partitions=partitions, hook=hook, version=1,
                         description=str(data.get("description", "")), json_allow=_json_allow(data.get("json")),
                         schema_policy=policy, on_type_mismatch=mismatch, content_hash=content_hash(data))
    spec.resolve_hook()
    return spec


def content_hash(data: Mapping[str, Any]) -> str:
    """The version of a spec document: the first 12 hex digits of the SHA-256 of its canonical JSON (keys sorted,
    no blanks; ``description`` texts included: any edit is a new version). Equal documents, however formatted
    (JSON or YAML), have equal versions."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _choice(value: Any, allowed: Sequence[str], where: str) -> str:
    if value not in allowed:
        raise SpecError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _json_allow(item: Any) -> frozenset[str]:
    """``json: {allow: [single_quotes, ...]}``: the JSON leniencies the spec opts into (none by default)."""
    if item is None:
        return frozenset()
    if not isinstance(item, Mapping):
        raise SpecError(f"json: expected a mapping such as {{allow: [single_quotes]}}, found {item!r}")
    _check_keys(item, _JSON_KEYS, "json")
    allow = item.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(name, str) for name in allow):
        raise SpecError(f"json.allow: expected a list of names, found {allow!r}")
    unknown = sorted(set(allow) - set(JSON_LENIENCIES))
    if unknown:
        raise SpecError(f"json.allow: unknown leniency {', '.join(map(repr, unknown))}; "
                        f"known ones are {', '.join(JSON_LENIENCIES)}")
    return frozenset(allow)


def _check_keys(item: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                        f"allowed keys are {', '.join(sorted(allowed))}")


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{where}: expected true or false, found {value!r}")
    return value


def _column(item: Any, where: str) -> ColumnSpec:
    if not isinstance(item, Mapping):
        raise SpecError(f"{where}: expected an object with name, source and type")
    _check_keys(item, _COLUMN_KEYS, where)
    for key in ("name", "source", "type"):
        if key not in item:
            raise SpecError(f"{where}: missing required key {key!r}")
    name = valid_name(item["name"], f"{where}.name")
    source = item["source"]
    if not isinstance(source, str) or not source:
        raise SpecError(f"{where}.source: give the dotted path of the JSON field, e.g. 'a.b'")
    for segment in source.split("."):
        if not segment or "`" in segment:
            raise SpecError(f"{where}.source: {source!r} has an empty segment or a backtick")
        if segment == CORRUPT_RECORD_COLUMN or segment.startswith(INTERNAL_PREFIX):
            raise SpecError(f"{where}.source: {segment!r} is reserved")
    required = _bool(item.get("required", False), f"{where}.required")
    raw_type = item["type"]
    if not isinstance(raw_type, str):
        raise SpecError(f"{where}.type: {TYPE_HELP}, or 'date'")
    is_date = raw_type.strip().lower() == DATE_TYPE
    date_keys = sorted(key for key in ("formats", "iso_timestamps") if key in item)
    if not is_date and date_keys:
        raise SpecError(f"{where}: {', '.join(date_keys)} only apply to columns of type 'date'")
    if is_date:
        if "cast" in item:
            raise SpecError(f"{where}.cast: a date column cannot be cast")
        raw_formats = item.get("formats", list(DEFAULT_DATE_FORMATS))
        if not isinstance(raw_formats, list) or not all(isinstance(value, str) for value in raw_formats):
            raise SpecError(f"{where}.formats: give a list of formats such as ['yyyy-MM-dd']")
        try:
            formats = tuple(compile_date_format(value) for value in raw_formats)
        except SpecError as error:
            raise SpecError(f"{where}.formats: {error}") from None
        iso = _bool(item.get("iso_timestamps", True), f"{where}.iso_timestamps")
        if not formats and not iso:
            raise SpecError(f"{where}: a date column needs at least one format or iso_timestamps: true")
        return ColumnSpec(name, source, DATE_TYPE, required, None, formats, iso, str(item.get("description", "")))
    try:
        read_type = parse_type(raw_type).simpleString()
    except SpecError as error:
        raise SpecError(f"{where}.type: {error}") from None
    cast = item.get("cast")
    if cast is not None:
        primitive_help = "cast to a primitive type: string, boolean, int, bigint, double, decimal(p,s), ..."
        try:
            cast_type = parse_type(cast) if isinstance(cast, str) else None
        except SpecError as error:
            raise SpecError(f"{where}.cast: {error}") from None
        if cast_type is None or isinstance(cast_type, ArrayType | MapType | StructType):
            raise SpecError(f"{where}.cast: {cast!r} is not allowed; {primitive_help}")
        if read_type.startswith(("array", "map", "struct")):
            raise SpecError(f"{where}.cast: a {read_type} value cannot be cast; read it as the type you need")
        cast = cast_type.simpleString()
    return ColumnSpec(name, source, read_type, required, cast, (), False, str(item.get("description", "")))


def _check_source_paths(columns: Sequence[ColumnSpec]) -> None:
    """Two columns may share a source only with the same read type; a leaf cannot also be a parent."""
    leaves: dict[tuple[str, ...], ColumnSpec] = {}
    for column in columns:
        path = column.source_path
        for other_path, other in leaves.items():
            if other_path == path and other.read_type() != column.read_type():
                raise SpecError(f"columns {other.name!r} and {column.name!r} read {column.source!r} with "
                                "different types; read it once and use 'cast' on one of them")
            shorter, longer = sorted((path, other_path), key=len)
            if shorter != longer and longer[:len(shorter)] == shorter:
                raise SpecError(f"columns {other.name!r} and {column.name!r}: {'.'.join(shorter)!r} cannot be "
                                f"both a field and the parent of {'.'.join(longer)!r}")
        leaves[path] = column
    top_level = list(dict.fromkeys(column.source_path[0] for column in columns))
    check_unique(top_level, "top-level source fields")


def _partition(item: Any, where: str, columns: Mapping[str, ColumnSpec]) -> PartitionSpec:
    if not isinstance(item, Mapping):
        raise SpecError(f"{where}: expected an object with name, from and part")
    _check_keys(item, _PARTITION_KEYS, where)
    for key in ("name", "from"):
        if key not in item:
            raise SpecError(f"{where}: missing required key {key!r}")
    name = valid_name(item["name"], f"{where}.name")
    source = item["from"]
    if source not in columns:
        raise SpecError(f"{where}.from: {source!r} is not a column; use one of {', '.join(columns)}")
    part = item.get("part", "value")
    if part not in PARTITION_PARTS:
        raise SpecError(f"{where}.part: {part!r} is not one of {', '.join(PARTITION_PARTS)}")
    if part in DATE_PARTS:
        if not columns[source].is_date:
            raise SpecError(f"{where}: part {part!r} needs a column of type 'date', but {source!r} is "
                            f"{columns[source].type}")
        if "pattern" in item:
            raise SpecError(f"{where}.pattern: only 'value' partitions take a pattern")
        return PartitionSpec(name, source, part, None)
    column = columns[source]
    output_type = column.cast or column.type
    if column.is_date or output_type.startswith(("array", "map", "struct")):
        raise SpecError(f"{where}: a 'value' partition needs a primitive non-date column; {source!r} is "
                        f"{output_type}")
    pattern = item.get("pattern", SAFE_SEGMENT_PATTERN)
    if not isinstance(pattern, str):
        raise SpecError(f"{where}.pattern: give a regular expression such as {SAFE_SEGMENT_PATTERN!r}")
    try:
        re.compile(pattern)
    except re.error as error:
        raise SpecError(f"{where}.pattern: {pattern!r} is not a valid regular expression: {error}") from None
    return PartitionSpec(name, source, "value", pattern)


def _hook_reference(value: Any, base_dir: Path | None) -> str | None:
    """The hook reference of the spec, a relative ``file.py`` resolved against ``base_dir``."""
    if value is None:
        return None
    target, _, function = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    if not target or not function.isidentifier():
        raise SpecError(f"hook: {value!r} must be {HOOK_FORMS}")
    if target.endswith(".py"):
        file = Path(target)
        if not file.is_absolute():
            if base_dir is None:
                raise SpecError(f"hook: {target!r} is relative; use an absolute path or load the spec from a "
                                "file so it resolves against the spec's folder")
            file = base_dir / file
        return f"{file.resolve()}:{function}"
    return value
