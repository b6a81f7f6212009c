"""The JSON shape scan (:mod:`runtime.jobs.json_shape`) and the pre-check's use of it: a file starting with ``[`` is
read as one JSON array only when it holds one top-level value, as JSON Lines when it holds several, and is
quarantined when a line holds a second value after a whole first one (Spark would drop it either way). Every rule,
chunk boundaries anywhere (inside strings, escapes, a byte-order mark, a ``\\r\\n``), and a byte-at-a-time reference
the fast scan must agree with on generated input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from runtime.db.states import FileState
from runtime.jobs import json_structure
from runtime.jobs.json_shape import JsonShape, JsonShapeScan, scan_bytes, scan_stream, shared_line_problem
from runtime.jobs.precheck import ClaimedFile, check_file
from runtime.storage.local import LocalStore
from tests.support import spark_inputs as inputs

BOM = b"\xef\xbb\xbf"


def reference(data: bytes) -> JsonShape:
    """The rules of :mod:`runtime.jobs.json_shape`, one byte at a time: slow and plainly right."""
    data = data[len(BOM):] if data.startswith(BOM) else data
    text = data.lstrip(b" \t\r\n")
    if text[:1] != b"[":
        return JsonShape("lines")
    skipped = data[:len(data) - len(text)]
    line = 1 + skipped.count(b"\n") + skipped.count(b"\r") - skipped.count(b"\r\n")
    previous, in_string, escaped = skipped[-1:], False, False
    depth = values = line_depth = 0
    state, shared = "start", None
    for index in range(len(text)):
        byte = text[index:index + 1]
        if in_string and byte not in (b"\n", b"\r"):  # a line end ends a string, as Spark's line reader cuts it
            in_string = (escaped or byte != b'"')
            escaped = not escaped and byte == b"\\"
            previous = byte
            continue
        in_string = escaped = False
        if byte in (b"\n", b"\r"):
            line += 0 if byte == b"\n" and previous == b"\r" else 1
            state, line_depth, previous = "start", 0, byte
            continue
        previous = byte
        if byte not in b'[]{}"':  # blanks, ',' ':', numbers, literals: nothing to go by
            continue
        kind = "open" if byte in b"[{" else "close" if byte in b"]}" else "content"  # content: a string
        in_string = byte == b'"'
        if state == "start":
            state, line_depth = ("group", 1) if kind == "open" else ("done", 0)
        elif state == "group" and kind != "content":
            line_depth += 1 if kind == "open" else -1
            state = "after" if line_depth == 0 else state
        elif state == "after" and kind == "open":
            shared = line if shared is None else shared
            state = "done"
        if kind == "open":
            values += 1 if depth == 0 else 0
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
    if values <= 1:
        return JsonShape("array", values)
    return JsonShape("lines", values, shared_line_problem(shared) if shared else None, shared)


def fed(data: bytes, sizes) -> JsonShape:
    """The scan of ``data`` fed in pieces of the given sizes (cycled)."""
    scan, at, sizes = JsonShapeScan(), 0, list(sizes)
    for step in (sizes[i % len(sizes)] for i in range(len(data) + 1)):
        if at >= len(data):
            break
        scan.feed(data[at:at + step])
        at += step
    return scan.finish()


# ---------------------------------------------------------------------------------------------------------- rules
ARRAY, LINES = "array", "lines"
RULES = [
    # one top-level value: read whole as an array (what follows it that is no object or array holds no record)
    (b'[{"a": 1}, {"b": 2}]', ARRAY, 1, None),
    (inputs.json_array(3), ARRAY, 1, None),
    (BOM + b' \r\n\t[{"a": 1}]\n\n', ARRAY, 1, None),
    (b'[{"a": 1}]]\n,\n', ARRAY, 1, None),
    (b'[{"a": 1}] "text" 5 true', ARRAY, 1, None),
    (b"[]", ARRAY, 1, None),
    # several: JSON Lines, every line read (a line that is an array yields each element)
    (b'[{"id": "r5"}]\n[{"id": "r6"}, {"id": "r7"}]\n', LINES, 2, None),
    (b'[{"a": 1}]\n{"b": 2}\n{"c": 3}\n', LINES, 3, None),
    (inputs.json_array(2) + b"\n" + inputs.good_lines(2), LINES, 3, None),  # pretty array then lines: dead letters
    (b'[{"a": 1}],\n[{"b": 2}],\n', LINES, 2, None),  # a trailing comma is ignored by Spark
    (b'[{"a": "]["}]\n{"b": "[1] [2]"}\n', LINES, 2, None),  # brackets in strings are text
    (b'[1]\r\n[2]\r\n', LINES, 2, None),
    # a line holding a value after a whole first one: quarantined
    (b"[1][2]", LINES, 2, 1),
    (b'[{"a": 1}] {"b": 2}', LINES, 2, 1),
    (b'[1]\n[2]\n\n[3] [4]\n', LINES, 4, 4),
    (b'[1]\r\n[2]\r\n[3][4]\r\n', LINES, 4, 3),
    (b'[1]\r[2][3]', LINES, 3, 2),  # a bare '\r' ends a line for Spark
    (b'[\n{"a": 1}, {"b": 2}\n]\n{"c": 3}\n', LINES, 2, 2),  # two elements on a line of a pretty array
    (b'[]{"a": 1}\n[1]', LINES, 3, 1),  # an empty array first: its line still holds a second value
    # ... but a line that does not start with a whole value is dead-lettered whole: nothing is lost there
    (b'[\n{"a": 1}\n] {"b": 2}\n', LINES, 2, None),
    (b'[\n"x", {"a": 1}, {"b": 2}\n]\n[3]', LINES, 2, None),
    # (a number or literal first is not looked at: stricter than Spark, which dead-letters that line whole)
    (b'[\n1, {"a": 1}, {"b": 2}\n]\n[3]', LINES, 2, 2),
    # a pretty array with two elements on a line is fine when it is the only value
    (b'[\n{"a": 1}, {"b": 2}\n]\n', ARRAY, 1, None),
    # escapes
    (b'[{"a": "\\\\"}][1]', LINES, 2, 1),  # an escaped backslash: the quote after it closes the string
    (b'[{"a": "\\"]"}] [1]', LINES, 2, 1),  # an escaped quote: the bracket after it is text
    (b'[{"a": "\\\\\\"]["}]\n[2]', LINES, 2, None),
    (b'[{"a": "\\u005b\\/"}]\n[2]', LINES, 2, None),
    # broken: never a crash, decided so that Spark dead-letters what it cannot read
    (b'[{"a": 1}, {"b": ', ARRAY, 1, None),  # unterminated first value: one corrupt record
    (b'[{"a": "abc', ARRAY, 1, None),
    (b'["a\n"][1]', ARRAY, 1, None),  # a raw line end cuts the string: the first value never ends
    (b"[1]]]\n[2]", LINES, 2, None),
    (b'[{"a": 1}\n]}\n{"b": 2}', LINES, 2, None),
    (b"[[[[[[", ARRAY, 1, None),
    # not '[' first: JSON Lines, not scanned
    (b'{"a": 1}\n[1][2]\n', LINES, 0, None),
    (b'\xef[1]', LINES, 0, None),  # not a byte-order mark
    (b" \n\t\r\n", LINES, 0, None),
    (b"", LINES, 0, None),
]


@pytest.mark.parametrize(("data", "layout", "values", "line"), RULES)
def test_each_rule(data, layout, values, line):
    shape = scan_bytes(data)
    assert (shape.layout, shape.values, shape.line) == (layout, values, line)
    assert shape.problem == (shared_line_problem(line) if line else None)
    assert shape == reference(data)


def test_the_reason_says_what_is_wrong_and_what_to_do():
    assert scan_bytes(b'[1]\n[2]\n[3] {"a": 1}\n').problem == (
        "several JSON values on line 3 of a file of several top-level JSON values: Spark reads such a file line by "
        "line and keeps only the first value of a line, dropping the rest without a trace; put one JSON value per "
        "line (or make the whole file one JSON array)")


@pytest.mark.parametrize(("data", "layout", "values", "line"), RULES)
def test_a_chunk_boundary_anywhere_changes_nothing(data, layout, values, line):
    whole = scan_bytes(data)
    for cut in range(1, len(data)):
        assert fed(data, [cut, len(data)]) == whole, f"cut at {cut}"
    assert fed(data, [1]) == whole


BOUNDARY_CASES = [
    BOM + b'[{"k": "a\\\\\\"b[c"}]\r\n[{"k": "\\\\"}] [1]\r\n',
    b'[{"long": "' + b"x[{" * 40 + b'\\"' + b"]}" * 40 + b'"}]\r\n{"b": "\\u00e9"}\r\n[2][3]',
    b'[\r\n  {"a": "\\\\", "b": [1, {"c": "]"}]},\r\n  {"d": 2}, {"e": 3}\r\n]\r\n{"f": 4}\r\n',
]


@pytest.mark.parametrize("data", BOUNDARY_CASES)
def test_strings_escapes_bom_and_crlf_cut_by_chunks(data):
    want = reference(data)
    assert want.layout == LINES and want.line is not None
    for sizes in ([1], [2], [3], [5, 1], [7, 2, 1]):
        assert fed(data, sizes) == want
    for cut in range(1, len(data)):
        assert fed(data, [cut, len(data)]) == want


def _random_value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth > 5 or roll < 0.3:
        return rng.choice([1, -2.5e3, None, True, "", "a\"]}[{\\", "x\\", "é\u2028", "\\\"\\\\"])
    if roll < 0.65:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {f"k{i}[": _random_value(rng, depth + 1) for i in range(rng.randrange(0, 4))}


def _random_file(rng: random.Random) -> bytes:
    """Top-level values (compact or pretty, arrays mostly) joined by line ends, blanks or nothing; sometimes one
    byte broken, sometimes cut short."""
    out = rng.choice([b"", BOM, b"\n ", BOM + b"\r\n"])
    for _ in range(rng.randrange(1, 5)):
        value = [_random_value(rng) for _ in range(rng.randrange(0, 3))] if rng.random() < 0.6 else \
            _random_value(rng)
        out += json.dumps(value, indent=rng.choice([None, None, 2]), ensure_ascii=rng.random() < 0.5).encode()
        out += rng.choice([b"\n", b"\r\n", b" ", b"", b"\n\n", b"\r", b",\n", b" \r \n"])
    if rng.random() < 0.2 and out:
        at = rng.randrange(len(out))
        out = out[:at] + rng.choice([b"", b'"', b"\\", b"\n", b"]", b"{", b" "]) + out[at + 1:]
    return out[:rng.randrange(len(out) + 1)] if rng.random() < 0.2 else out


def _random_bytes(rng: random.Random) -> bytes:
    alphabet = [b"[", b"]", b"{", b"}", b'"', b"\\", b" ", b"\n", b"\r", b"\r\n", b",", b":", b"a", b"1", BOM, b"\t",
                b"u", b"n", b"/", b"\\u", b"\\\\"]
    return rng.choice([b"", BOM, b"\n"]) + b"[" * rng.randrange(0, 3) + b"".join(
        rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))


@pytest.mark.parametrize("exact", [False, True], ids=["collapsing passes", "exact loop"])
def test_the_scan_agrees_with_the_byte_at_a_time_reference(exact, monkeypatch):
    if exact:  # no collapsing pass: every chunk goes through the loop over bracket runs
        monkeypatch.setattr(json_structure, "MAX_PASSES", 0)
    rng = random.Random(20241)
    seen = set()
    for number in range(1500):
        data = _random_file(rng) if number % 2 else _random_bytes(rng)
        want = reference(data)
        seen.add((want.layout, want.problem is not None))
        for sizes in ([len(data) or 1], [1], [rng.randrange(1, 9), rng.randrange(1, 9)]):
            assert fed(data, sizes) == want, (data, sizes)
    assert seen == {(ARRAY, False), (LINES, False), (LINES, True)}


def test_deep_nesting_beyond_the_passes_is_exact():
    deep = b'[{"a": ' * 3000 + b"1" + b"}]" * 3000
    assert scan_bytes(deep + b"\n[1]") == reference(deep + b"\n[1]") == JsonShape(LINES, 2)
    assert scan_bytes(deep + b" [1]") == JsonShape(LINES, 2, shared_line_problem(1), 1)
    assert scan_bytes(b"[[]" * 5000 + b"]" * 5000) == JsonShape(ARRAY, 1)


def test_a_stream_is_read_once_in_chunks_and_closed():
    class Reader:
        def __init__(self, data: bytes) -> None:
            self.data, self.reads, self.closed = data, [], False

        def read(self, size: int) -> bytes:
            self.reads.append(size)
            part, self.data = self.data[:size], self.data[size:]
            return part

        def close(self) -> None:
            self.closed = True

    reader = Reader(b"[1]\n" * 1000)
    assert scan_stream(reader, chunk=1000) == JsonShape(LINES, 1000)  # type: ignore[arg-type]
    assert reader.closed and reader.reads == [1000] * 5
    lines = Reader(b'{"a": 1}\n' * 1000)
    assert scan_stream(lines, chunk=100) == JsonShape(LINES)  # type: ignore[arg-type]
    assert lines.reads == [100]  # JSON Lines: decided by the first byte, the rest never read


# ------------------------------------------------------------------------------------------------- the pre-check
class CountingStore(LocalStore):
    """A local store that counts the streaming reads it serves."""

    streams = 0

    def open_stream(self, key: str):
        self.streams += 1
        return super().open_stream(key)


def precheck(tmp_path: Path, name: str, body: bytes):
    store = CountingStore(tmp_path)
    key = f"raw-json-data/2024/week01/{name}"
    store.put_bytes(key, body)
    return store, check_file(store, ClaimedFile(1, key, store.head(key).etag, len(body), 1))


SHARED = b'[{"id": "a"}]\n[{"id": "b"}] {"id": "c"}\n'
MIXED = b'[{"id": "a"}, {"id": "b"}]\n{"id": "c"}\n'


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".zst", ".Deflate"])
def test_the_precheck_reads_lines_arrays_and_quarantines_a_shared_line(tmp_path, suffix):
    def body(data: bytes) -> bytes:
        return inputs.compressed(data, suffix) if suffix else data

    for name, data, layout in (("array", inputs.json_array(3), ARRAY), ("mixed", MIXED, LINES),
                               ("lines", inputs.good_lines(3), LINES), ("bom", inputs.bom_array(), ARRAY)):
        store, result = precheck(tmp_path, f"{name}.json{suffix}", body(data))
        assert (result.status, result.json_layout) == (None, layout), name
        assert store.streams == (1 if suffix or data.lstrip(BOM)[:1] == b"[" else 0), name  # one read at most
    store, shared = precheck(tmp_path, f"shared.json{suffix}", body(SHARED))
    assert shared.status is FileState.QUARANTINED and store.streams == 1
    assert shared.reason == shared_line_problem(2)
    assert shared.outcome().status is FileState.QUARANTINED


def test_a_json_lines_file_costs_no_scan_and_a_blank_head_is_looked_past(tmp_path):
    store, lines = precheck(tmp_path, "a.jsonl", inputs.good_lines(200))
    assert (lines.json_layout, store.streams) == (LINES, 0)
    store, late = precheck(tmp_path, "late.json", b" " * 10_000 + MIXED)  # the first 4 KiB are blanks
    assert (late.json_layout, store.streams) == (LINES, 1)
    store, late_array = precheck(tmp_path, "late-array.json", b"\n" * 10_000 + inputs.json_array(2))
    assert (late_array.json_layout, store.streams) == (ARRAY, 1)
    store, blank = precheck(tmp_path, "blank.json", b" \n" * 100)
    assert (blank.status, blank.json_layout, store.streams) == (None, LINES, 0)  # Spark calls it empty


def test_a_file_gone_while_it_is_scanned_is_failed_as_vanished(tmp_path):
    class VanishingStore(LocalStore):
        def open_stream(self, key: str):
            self.delete(key)
            return super().open_stream(key)

    store = VanishingStore(tmp_path)
    key = "raw-json-data/2024/week01/gone.json"
    store.put_bytes(key, MIXED)
    result = check_file(store, ClaimedFile(1, key, store.head(key).etag, len(MIXED), 1))
    assert (result.status, result.reason) == (FileState.FAILED, "object vanished while being read")
