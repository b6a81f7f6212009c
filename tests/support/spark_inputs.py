"""Builders of raw input files, good and bad, for the converter tests, the demo data and end-to-end tests.

Every builder returns the file's bytes. :data:`CASES` lists each bad-input kind with its layout, a file name
and the outcome the default transform spec defines for it (good and dead-lettered record counts, and the
reason code of each dead-lettered record).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: 10 MB of text in one field of one record (one JSON line of a little over 10 MB).
TEN_MB = 10 * 1024 * 1024
#: Nesting depth of :func:`deeply_nested`; Spark 3.5's JSON parser (Jackson 2.15) stops at 1,000 levels.
DEEP_NESTING = 2000

#: File names Spark must read literally (its path globbing treats ``[]*?{}\`` as patterns) and report back
#: correctly (its file URIs percent-encode spaces, brackets, ``%``, ``#`` ...).
ODD_FILE_NAMES = (
    "with space.jsonl",
    "ünïcødé ✓.jsonl",
    "key=value.jsonl",
    "brackets[1].jsonl",
    "star*.jsonl",
    "question?.jsonl",
    "braces{a,b}.jsonl",
    "percent%20literal.jsonl",
    "plus+sign.jsonl",
    "hash#tag.jsonl",
    "colon:time.jsonl",
    "back\\slash.jsonl",
)


def record(index: int, **overrides: Any) -> dict[str, Any]:
    """A well-formed record in the reference shape; ``overrides`` replace fields (``None`` values stay null)."""
    base: dict[str, Any] = {
        "id": f"rec-{index:05d}",
        "DATE": f"2024-01-{1 + index % 28:02d}",
        "MODE": ("train", "eval", "test")[index % 3],
        "some_nested_struct": {"field1": f"value-{index}", "field2": index},
        "some_list_of_structs": [{"name": f"feature_{k}", "value": k + 0.5} for k in range(index % 3)],
        "not_in_the_spec": {"ignored": [index]},
    }
    base.update(overrides)
    return base


def without(item: dict[str, Any], key: str) -> dict[str, Any]:
    """``item`` without ``key``."""
    return {name: value for name, value in item.items() if name != key}


def lines(*records: dict[str, Any] | str) -> bytes:
    """JSON Lines: dicts are serialised, strings are written as they are (for broken lines)."""
    return "".join((json.dumps(item) if isinstance(item, dict) else item) + "\n" for item in records).encode()


def good_lines(count: int = 3, start: int = 0) -> bytes:
    """``count`` good records as JSON Lines."""
    return lines(*(record(start + i) for i in range(count)))


def json_array(count: int = 3, start: int = 0) -> bytes:
    """One pretty-printed JSON array of ``count`` good records (multi-line)."""
    return json.dumps([record(start + i) for i in range(count)], indent=2).encode()


def gzip_lines(count: int = 3, start: int = 0) -> bytes:
    """Gzip-compressed JSON Lines."""
    return gzip.compress(good_lines(count, start))


def gzip_array(count: int = 2, start: int = 0) -> bytes:
    """A gzip-compressed JSON array."""
    return gzip.compress(json_array(count, start))


def malformed_line_among_good() -> bytes:
    """Good, good, ``{not json}``, good: 3 good, 1 malformed."""
    return lines(record(100), record(101), "{not json}", record(102))


def truncated_last_line() -> bytes:
    """Three good lines, then a last line cut off mid-value (no newline): 3 good, 1 malformed."""
    return good_lines(3, 110) + b'{"id": "cut-1", "DATE": "2024-0'


def whitespace_only() -> bytes:
    """Spaces, tabs and blank lines only: no record at all."""
    return b"   \n\t \n\n  \r\n "


def non_utf8_bytes() -> bytes:
    """One good line, then a line with bytes that are not UTF-8: 1 good, 1 malformed."""
    return good_lines(1, 120) + b'{"id": "bad-\xff\xfe", "DATE": "2024-01-02", "MODE": "train"}\n'


def json_array_broken_element() -> bytes:
    """A multi-line JSON array whose second element is broken: the whole document is one malformed record."""
    return b"[\n" + json.dumps(record(130)).encode() + b',\n{"id": "x", "DATE": },\n' + \
        json.dumps(record(131)).encode() + b"\n]\n"


def date_as_number() -> bytes:
    """``DATE`` as the JSON number 20240105 (read as the text "20240105", which no format accepts), then a good
    record: 1 good, 1 invalid_date."""
    return lines(record(140, DATE=20240105), record(141))


def unparseable_date() -> bytes:
    """``DATE`` "not-a-date" and an impossible "2024-02-30", then a good record: 1 good, 2 invalid_date."""
    return lines(record(150, DATE="not-a-date"), record(151, DATE="2024-02-30"), record(152))


#: ``DATE`` spellings that are no accepted date (each an invalid_date record in :func:`invalid_date_spellings`).
INVALID_DATE_SPELLINGS = (
    "2024-1-5",  # fields must have their full width
    " 2024-01-05",  # no surrounding whitespace
    "05.01.2024",  # not an accepted format by default
    "0000-01-01",  # year 0 does not exist
    "2024-13-01",
    "2023-02-29",  # not a leap year
    "2024-01-05T25:00:00Z",  # hour out of range
    "2024-01-05T10:00:00+05",  # offsets need minutes
    "2024-01-05T10:00:00z",  # lower-case zone
    "2024-01-05T10:00:00+18:30",  # offset beyond +-18:00
    "1704412800",  # an epoch number as text
    "{\"y\": 2024}",
)


def invalid_date_spellings() -> bytes:
    """One record per :data:`INVALID_DATE_SPELLINGS` entry: 0 good, all invalid_date."""
    return lines(*(record(250 + i, DATE=text) for i, text in enumerate(INVALID_DATE_SPELLINGS)))


def missing_date() -> bytes:
    """No ``DATE`` field, a null ``DATE``, then a good record: 1 good, 2 missing_required."""
    return lines(without(record(160), "DATE"), record(161, DATE=None), record(162))


def missing_id() -> bytes:
    """No ``id`` field, then a good record: 1 good, 1 missing_required."""
    return lines(without(record(170), "id"), record(171))


def unsafe_modes() -> bytes:
    """``MODE`` "a/b", "..", "", null, then a good record: 1 good, 3 invalid_partition, 1 missing_required."""
    return lines(record(180, MODE="a/b"), record(181, MODE=".."), record(182, MODE=""), record(183, MODE=None),
                 record(184))


def ten_megabyte_line() -> bytes:
    """One valid record on one line of a little over 10 MB (``some_nested_struct.field1`` is 10 MB long)."""
    return lines(record(190, some_nested_struct={"field1": "x" * TEN_MB}))


def deeply_nested(depth: int = DEEP_NESTING) -> bytes:
    """A record with an extra field nested ``depth`` levels deep (past the parser's 1,000-level limit, even
    though the field is not in the spec), then a good record: 1 good, 1 malformed."""
    nested = '{"n": ' * depth + "1" + "}" * depth
    deep = json.dumps(record(200))[:-1] + ', "deep": ' + nested + "}"
    return lines(deep, record(201))


def duplicate_keys() -> bytes:
    """One record with ``MODE`` given twice ("train" then "eval"): 1 malformed, dead-lettered whole (Spark's parser
    would keep the last value and lose the earlier one)."""
    text = json.dumps(record(210, MODE="train"))[:-1] + ', "MODE": "eval"}'
    return lines(text)


def nan_infinity() -> bytes:
    """``NaN``, ``Infinity`` and ``-Infinity`` tokens as feature values: not RFC 8259 JSON, so the record is
    malformed unless the spec allows ``non_numeric_numbers`` (then 1 good record)."""
    values = ", ".join(f'{{"name": "f{k}", "value": {token}}}' for k, token in
                       enumerate(("NaN", "Infinity", "-Infinity")))
    text = json.dumps(without(record(220), "some_list_of_structs"))[:-1] + f', "some_list_of_structs": [{values}]}}'
    return lines(text)


def lenient_json() -> bytes:
    """One record per leniency RFC 8259 forbids (single quotes, unquoted name, leading zero, comment), then 1 good:
    each lenient record is malformed (Spark accepts single quotes unless told not to)."""
    good = json.dumps(record(240))
    return lines(good.replace('"', "'"), good.replace('"id"', "id", 1), good[:-1] + ', "n": 007}',
                 good[:-1] + ', /* why */ "n": 1}', record(241))


def bom_lines() -> bytes:
    """JSON Lines starting with a UTF-8 byte-order mark: the BOM costs no record (2 good)."""
    return b"\xef\xbb\xbf" + lines(record(250), record(251))


def bom_array() -> bytes:
    """A JSON array starting with a UTF-8 byte-order mark (2 good)."""
    return b"\xef\xbb\xbf" + json.dumps([record(252), record(253)]).encode()


def list_value_not_a_number() -> bytes:
    """A feature value that is a non-numeric string (does not fit ``double``): 1 malformed, then 1 good."""
    return lines(record(230, some_list_of_structs=[{"name": "f", "value": "high"}]), record(231))


def date_formats() -> bytes:
    """One good record per accepted ``DATE`` spelling (ids name the expected date, see
    :data:`DATE_FORMAT_EXPECTATIONS`)."""
    return lines(*(record(240 + i, id=f"date-{i}", DATE=text) for i, (text, _) in
                   enumerate(DATE_FORMAT_EXPECTATIONS)))


#: ``DATE`` text -> event_date (ISO form) for :func:`date_formats`.
DATE_FORMAT_EXPECTATIONS: tuple[tuple[str, str], ...] = (
    ("2024-01-05", "2024-01-05"),
    ("2024/01/06", "2024-01-06"),
    ("2024-02-29", "2024-02-29"),
    ("2024-01-07T10:00:00Z", "2024-01-07"),
    ("2024-01-08 23:59:59.123456789", "2024-01-08"),
    ("2024-01-09T23:30:00-05:00", "2024-01-10"),
    ("2024-01-10T01:30+0200", "2024-01-09"),
    ("2024-01-11T12:00", "2024-01-11"),
    ("2024-01-12 00:30:00+01:00", "2024-01-11"),
    ("2024-01-13T20:00:00.5+18:00", "2024-01-13"),
)


@dataclass(frozen=True)
class InputCase:
    """One input kind and the outcome the default spec defines for it."""

    name: str
    build: Callable[[], bytes]
    file_name: str
    layout: str  # "lines" or "array"
    good: int
    bad: int
    reasons: tuple[str, ...] = ()  # reason code of each dead-lettered record (in file order; output order varies)


CASES: tuple[InputCase, ...] = (
    InputCase("good_lines", good_lines, "good.jsonl", "lines", 3, 0),
    InputCase("json_array", json_array, "array.json", "array", 3, 0),
    InputCase("gzip_lines", gzip_lines, "lines.jsonl.gz", "lines", 3, 0),
    InputCase("gzip_array", gzip_array, "array.json.gz", "array", 2, 0),
    InputCase("malformed_line_among_good", malformed_line_among_good, "malformed.jsonl", "lines", 3, 1,
              ("malformed_json",)),
    InputCase("truncated_last_line", truncated_last_line, "truncated.jsonl", "lines", 3, 1, ("malformed_json",)),
    InputCase("whitespace_only", whitespace_only, "whitespace.jsonl", "lines", 0, 0),
    InputCase("non_utf8_bytes", non_utf8_bytes, "non-utf8.jsonl", "lines", 1, 1, ("malformed_json",)),
    InputCase("json_array_broken_element", json_array_broken_element, "broken-array.json", "array", 0, 1,
              ("malformed_json",)),
    InputCase("date_as_number", date_as_number, "date-number.jsonl", "lines", 1, 1, ("invalid_date",)),
    InputCase("unparseable_date", unparseable_date, "bad-date.jsonl", "lines", 1, 2,
              ("invalid_date", "invalid_date")),
    InputCase("invalid_date_spellings", invalid_date_spellings, "date-spellings.jsonl", "lines", 0,
              len(INVALID_DATE_SPELLINGS), ("invalid_date",) * len(INVALID_DATE_SPELLINGS)),
    InputCase("missing_date", missing_date, "no-date.jsonl", "lines", 1, 2,
              ("missing_required", "missing_required")),
    InputCase("missing_id", missing_id, "no-id.jsonl", "lines", 1, 1, ("missing_required",)),
    InputCase("unsafe_modes", unsafe_modes, "modes.jsonl", "lines", 1, 4,
              ("invalid_partition", "invalid_partition", "invalid_partition", "missing_required")),
    InputCase("ten_megabyte_line", ten_megabyte_line, "ten-mb.jsonl", "lines", 1, 0),
    InputCase("deeply_nested", deeply_nested, "deep.jsonl", "lines", 1, 1, ("malformed_json",)),
    InputCase("duplicate_keys", duplicate_keys, "duplicates.jsonl", "lines", 0, 1, ("malformed_json",)),
    InputCase("nan_infinity", nan_infinity, "nan.jsonl", "lines", 0, 1, ("malformed_json",)),
    InputCase("lenient_json", lenient_json, "lenient.jsonl", "lines", 1, 4, ("malformed_json",) * 4),
    InputCase("bom_lines", bom_lines, "bom.jsonl", "lines", 2, 0),
    InputCase("bom_array", bom_array, "bom-array.json", "array", 2, 0),
    InputCase("list_value_not_a_number", list_value_not_a_number, "feature-text.jsonl", "lines", 1, 1,
              ("malformed_json",)),
    InputCase("date_formats", date_formats, "date-formats.jsonl", "lines", len(DATE_FORMAT_EXPECTATIONS), 0),
)


# ------------------------------------------------------------------------------------------ compressed files
def hadoop_blocks(data: bytes, codec: str, block: int = 64 * 1024) -> bytes:
    """``data`` in Hadoop's block format (``BlockCompressorStream``), as Spark's ``.lz4`` / ``.snappy`` writers
    produce it: per block, the 4-byte big-endian raw length, then one 4-byte length-prefixed compressed chunk.
    ``codec``: ``lz4_raw`` or ``snappy`` (pyarrow's raw codecs)."""
    import pyarrow as pa

    compressor = pa.Codec(codec)
    out = bytearray()
    for start in range(0, len(data), block):
        raw = data[start:start + block]
        chunk = compressor.compress(raw, asbytes=True)
        out += len(raw).to_bytes(4, "big") + len(chunk).to_bytes(4, "big") + chunk
    return bytes(out)


def compressed(data: bytes, suffix: str) -> bytes:
    """``data`` compressed as a file ending ``suffix`` (any case) is read by Spark: gzip, bz2, zlib (``.deflate``),
    Hadoop-block lz4 / snappy, zstd frames."""
    import bz2
    import zlib

    import pyarrow as pa

    builders: dict[str, Callable[[bytes], bytes]] = {
        ".gz": gzip.compress, ".bz2": bz2.compress, ".deflate": zlib.compress,
        ".lz4": lambda raw: hadoop_blocks(raw, "lz4_raw"), ".snappy": lambda raw: hadoop_blocks(raw, "snappy"),
        ".zst": lambda raw: pa.Codec("zstd").compress(raw, asbytes=True),
    }
    return builders[suffix.lower()](data)


#: Garbage that is no compressed data of any codec (for ``.bz2``, ``.deflate``, ``.lz4``, ``.snappy``, ``.zst``).
GARBAGE = b"this is not compressed data at all\n" * 3


def truncated(data: bytes, cut: int = 10) -> bytes:
    """``data`` without its last ``cut`` bytes (a transfer cut short)."""
    return data[:-cut]
