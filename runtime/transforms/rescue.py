"""The rescued data of a record: every field the spec does not read, and (``on_type_mismatch: rescue``) every value
that does not fit its column, as one flat JSON object from JSON path to raw value, the ``_rescued_data`` column.

Paths name a field from the record's root: ``device``, ``some_nested_struct.field9``, ``some_list_of_structs[2].tag``
(a list index in brackets); a name that holds ``.``, ``[``, ``]``, ``"`` or ``\\``, starts with ``$`` or is empty is
written as a JSON string in brackets (``a["x.y"]``). ``$`` alone is the whole record: what is rescued of a record
Python's ``json`` cannot parse although Spark did (it used a leniency the spec allows, such as comments).

**The round trip.** :func:`apply_rescue` sets every rescued path in a record rebuilt from the curated columns
(:func:`rebuild_record`), which gives the raw record back up to JSON formatting, the difference between a null and
an absent field (and an object whose fields are all null or absent), and the documented conversions of the spec:
a date column holds the parsed date, a ``cast`` column the cast value, a string column the JSON text of a
non-string value. ``tests/runtime/spark/test_rescue.py`` checks it over generated records. Numbers keep their
digits: a record is read with :mod:`runtime.transforms.exact_json` (a non-integer number as its token text, never
through a ``float``), and written back with it.

Everything here is plain Python over parsed JSON and a Spark read schema (:class:`pyspark.sql.types.StructType`,
used as a tree only): the Spark side (:mod:`runtime.spark.rescue`) calls :func:`rescue_record` in a Python UDF, on the
few records whose key count tells they carry something to rescue.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, Union

from pyspark.sql.types import ArrayType, DataType, MapType, StructType

from runtime.transforms import exact_json

#: The path of the whole record (a record only Spark's lenient parser could read).
WHOLE_RECORD = "$"
_PLAIN = re.compile(r"^[^.\[\]\"\\$][^.\[\]\"\\]*$")
_SEGMENT = re.compile(r'\.?([^.\[\]"\\]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')
Segment = Union[str, int]  # noqa: UP007 (Python 3.9: no X | Y at runtime)


def path_text(segments: list[Segment] | tuple[Segment, ...]) -> str:
    """The text form of a path (see the module docstring)."""
    parts: list[str] = []
    for segment in segments:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif _PLAIN.match(segment):
            parts.append(("." if parts else "") + segment)
        else:
            parts.append(f"[{json.dumps(segment)}]")
    return "".join(parts)


def parse_path(text: str) -> list[Segment]:
    """The segments of a path written by :func:`path_text`; raises ``ValueError``."""
    if text == WHOLE_RECORD:
        return []
    segments: list[Segment] = []
    at = 0
    while at < len(text):
        found = _SEGMENT.match(text, at)
        if found is None or found.end() == at:
            raise ValueError(f"not a rescued-data path: {text!r}")
        name, index, quoted = found.groups()
        segments.append(name if name is not None else int(index) if index is not None else json.loads(quoted))
        at = found.end()
    return segments


def general_path(text: str) -> str:
    """``text`` with every list index replaced by ``[]``: the field a drift report and a schema failure name."""
    if text == WHOLE_RECORD:
        return text
    return "".join("[]" if isinstance(segment, int) else path_text([segment]) if not at else
                   path_text(["x", segment])[1:] for at, segment in enumerate(parse_path(text)))


class DuplicateKey(ValueError):
    """An object of the record gives a name twice (:func:`parse_record` with ``unique_keys``): a ``ValueError`` like
    any JSON Python cannot read, outside :class:`runtime.errors.MldpError` (an internal signal: :func:`rescue_record`
    catches it and makes the record malformed)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(f"the key {key!r} is given twice")
        found[key] = value
    return found


def _decoder(allow_non_numeric: bool, unique_keys: bool = False) -> json.JSONDecoder:
    def refuse(token: str) -> float:
        raise ValueError(f"{token} is not a JSON number")

    options: dict[str, Any] = {} if allow_non_numeric else {"parse_constant": refuse}
    if unique_keys:
        options["object_pairs_hook"] = _unique_keys
    return exact_json.decoder(**options)


def parse_record(text: str, allow_non_numeric: bool = False, unique_keys: bool = False) -> Any:
    """The first JSON value of ``text``, as Spark reads it (what follows it is ignored), a non-integer number as an
    exact :class:`~runtime.transforms.exact_json.JsonNumber`; raises ``ValueError`` (``RecursionError`` too deep
    nesting is one; with ``unique_keys``, a key given twice in one object is one)."""
    stripped = text.lstrip(" \t\r\n\ufeff")
    try:
        value, _ = _decoder(allow_non_numeric, unique_keys).raw_decode(stripped)
    except RecursionError:
        raise ValueError("nested too deep") from None
    return value


def _walk(raw: Any, schema: DataType, path: tuple[Segment, ...], parsed: Any, check: bool,
          out: dict[str, Any]) -> None:
    """Collect in ``out`` what of ``raw`` the read ``schema`` does not take (unknown fields), and, when ``check``,
    the values Spark could not convert (``parsed``, its reading, is null where ``raw`` is not)."""
    if raw is None:
        return
    if check and parsed is None:
        out[path_text(path)] = raw
        return
    if isinstance(schema, StructType):
        if not isinstance(raw, dict):
            return  # cannot be: Spark reads only an object as a struct
        names = {item.name: item.dataType for item in schema.fields}
        sub = parsed if isinstance(parsed, dict) else {}
        for key, value in raw.items():
            if key in names:
                _walk(value, names[key], (*path, key), sub.get(key), check, out)
            else:
                out[path_text((*path, key))] = value
    elif isinstance(schema, ArrayType) and isinstance(raw, list):
        sub_list = parsed if isinstance(parsed, list) else []
        for index, value in enumerate(raw):
            _walk(value, schema.elementType, (*path, index), sub_list[index] if index < len(sub_list) else None,
                  check, out)
    elif isinstance(schema, MapType) and isinstance(raw, dict):
        sub = parsed if isinstance(parsed, dict) else {}
        for key, value in raw.items():
            _walk(value, schema.valueType, (*path, key), sub.get(key), check, out)


def rescued_fields(record: Any, schema: StructType, parsed: Any = None) -> dict[str, Any]:
    """Path -> raw value of every field of ``record`` that ``schema`` (a spec's source schema) does not read; with
    ``parsed`` (Spark's reading of the record, nulls omitted, as ``to_json`` writes it), also of every value Spark
    read as null although it is not (a type mismatch)."""
    out: dict[str, Any] = {}
    if isinstance(record, dict):
        _walk(record, schema, (), parsed if parsed is not None else {}, parsed is not None, out)
    return out


def rescue_text(text: str | None, schema: StructType, parsed_json: str | None = None,
                allow_non_numeric: bool = False) -> tuple[str | None, bool] | None:
    """The ``_rescued_data`` of one raw record (``None``: nothing to rescue) and whether Python could parse it;
    ``None`` for no record. ``parsed_json`` (a record Spark found malformed) asks for type mismatches too: a
    record that parses is then malformed only by its types, each kept under its path."""
    found = rescue_record(text, schema, parsed_json, allow_non_numeric)
    if found is None:
        return None
    return rescued_json(*found), found[1]


def rescued_json(fields: Mapping[str, Any], parsed: bool) -> str | None:
    """The ``_rescued_data`` text of :func:`rescue_record`'s result (``None``: nothing rescued)."""
    if not fields:
        return None
    return dumps(fields) if parsed else json.dumps(fields, ensure_ascii=False)  # the whole record, as Python read it


def rescue_record(text: str | None, schema: StructType, parsed_json: str | None = None,
                  allow_non_numeric: bool = False) -> tuple[dict[str, Any], bool] | None:
    """:func:`rescue_text` before its JSON text: the rescued fields (path -> value; ``{"$": text}`` for a record
    Python cannot parse although Spark did) and whether Python could parse the record. ``({}, False)``: the record
    is malformed, dead-lettered whole: Python cannot parse it either (``parsed_json`` given), or an object of it
    gives a name twice (Spark keeps the last value: the earlier one would be lost)."""
    if text is None:
        return None
    try:
        record = parse_record(text, allow_non_numeric, unique_keys=True)
    except DuplicateKey:
        return {}, False
    except ValueError:
        if parsed_json is not None:
            return {}, False  # really malformed: dead-lettered whole
        return {WHOLE_RECORD: text}, False
    parsed = json.loads(parsed_json) if parsed_json is not None else None
    return rescued_fields(record, schema, parsed), True


def dumps(fields: Mapping[str, Any]) -> str:
    """The JSON text of rescued fields (``NaN`` and infinities, which a spec may allow, as JSON tokens; a
    :class:`~runtime.transforms.exact_json.JsonNumber` as its text)."""
    return exact_json.dumps(fields)


# -- reading it back -------------------------------------------------------------------------------------------------

def _set(container: Any, segments: list[Segment], value: Any) -> Any:
    """``container`` with ``value`` at ``segments`` (lists padded with null, objects created)."""
    if not segments:
        return value
    head, rest = segments[0], segments[1:]
    if isinstance(head, int):
        items = list(container) if isinstance(container, list) else []
        items.extend([None] * (head + 1 - len(items)))
        items[head] = _set(items[head], rest, value)
        return items
    mapping = dict(container) if isinstance(container, dict) else {}
    mapping[head] = _set(mapping.get(head), rest, value)
    return mapping


def apply_rescue(record: dict[str, Any], rescued: str | Mapping[str, Any] | None) -> Any:
    """``record`` (rebuilt from the curated columns) with every rescued value put back at its path."""
    if rescued is None:
        return record
    fields = exact_json.loads(rescued) if isinstance(rescued, str) else rescued
    if WHOLE_RECORD in fields:
        return parse_record(fields[WHOLE_RECORD], allow_non_numeric=True)
    result: Any = record
    for text in sorted(fields, key=lambda item: len(parse_path(item))):
        result = _set(result, parse_path(text), fields[text])
    return result


def rebuild_record(columns: Mapping[str, Any], sources: Mapping[str, str]) -> dict[str, Any]:
    """A record from curated column values (``columns``: name -> value, structs as dicts) and the spec's
    ``sources`` (column name -> dotted source path); a null column is left out."""
    record: dict[str, Any] = {}
    for name, source in sources.items():
        value = columns.get(name)
        if value is not None:
            record = _set(record, list(source.split(".")), value)
    return record


def normalise(value: Any) -> Any:
    """``value`` with every null member of an object left out (recursively), then every member that became an empty
    object, and every finite float as the :class:`decimal.Decimal` of its shortest text (the digits ``json`` writes;
    a Decimal equals an ``int`` or another Decimal of the same value): the form in which the round trip compares
    records."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = normalise(item)
            if item is None or item == {}:
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, float) and math.isfinite(value):
        return decimal.Decimal(repr(value))
    return value


# -- evidence for drift reports --------------------------------------------------------------------------------------

def json_type(value: Any) -> str:
    """The JSON type of a parsed value: ``string``, ``integer``, ``number``, ``boolean``, ``object``, ``array``,
    ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, decimal.Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def known_path(segments: list[Segment], schema: StructType) -> bool:
    """Whether ``segments`` lead to a field the schema reads (a type mismatch, not an unknown field)."""
    node: DataType = schema
    for segment in segments:
        if isinstance(segment, int):
            if not isinstance(node, ArrayType):
                return False
            node = node.elementType
        elif isinstance(node, StructType):
            found = [item.dataType for item in node.fields if item.name == segment]
            if not found:
                return False
            node = found[0]
        elif isinstance(node, MapType):
            node = node.valueType
        else:
            return False
    return True


def sightings(rescued: str | None, schema: StructType) -> Iterator[tuple[str, str, str, str]]:
    """(general path, ``unknown`` or ``mismatch``, JSON type, example value as JSON) of every rescued field."""
    if rescued is None:
        return
    yield from field_sightings(exact_json.loads(rescued), schema)


def field_sightings(fields: Mapping[str, Any], schema: StructType,
                    paths: dict[str, tuple[str, str]] | None = None) -> Iterator[tuple[str, str, str, str]]:
    """:func:`sightings` of rescued fields already parsed; ``paths`` (path -> general path and kind) is filled and
    reused across calls by a caller that sees many records with the same fields."""
    paths = {} if paths is None else paths
    for text, value in fields.items():
        known = paths.get(text)
        if known is None:
            segments = parse_path(text) if text != WHOLE_RECORD else []
            known = paths[text] = (general_path(text),
                                   "mismatch" if segments and known_path(segments, schema) else "unknown")
        yield known[0], known[1], json_type(value), exact_json.dumps(value, (", ", ": "))[:200]
