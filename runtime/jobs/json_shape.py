"""Which way Spark must read a raw file that starts with ``[``, decided from the shape of its top-level JSON values,
so that neither way loses a record without a trace.

Spark reads a file one of two ways (:func:`runtime.spark.read.read_batch`): as JSON Lines, each line parsed on its
own, or with ``multiLine``, the whole file parsed as one JSON document. Both keep only the *first* value they find
and ignore what follows it (checked on Spark 3.5, ``tests/runtime/scenarios/test_json_layouts_end_to_end.py``):
``multiLine`` reads the first top-level value of the file, a line read as JSON Lines yields the records of its
first value (each element of an array, an object itself) and drops whatever follows on that line. A line that does
not start with a complete object or array (``[`` alone, ``"key": 1,``, ``}``, a broken value) becomes one corrupt
record, kept with its raw text in the dead letters. So for a file whose first non-blank byte (after a UTF-8
byte-order mark) is ``[``:

* exactly one top-level object or array -> ``array`` (read whole with ``multiLine``; scalars, strings and stray
  ``,`` ``:`` ``]`` ``}`` after it hold no record: Spark ignores them, losing nothing);
* several -> ``lines``: every line is read, and a line that is not a whole value is dead-lettered, unless
* a line starts with a complete object or array and another one starts later on that line (``[1][2]``,
  ``[{"a": 1}] {"b": 2}``, ``{"a": 1}, {"b": 2}`` inside a pretty-printed array): read as JSON Lines that line
  would lose all but its first value, read as one document everything after the first top-level value is lost,
  so the file is quarantined (:attr:`JsonShape.problem`).

A file whose first non-blank byte is anything else is JSON Lines and is not scanned (a second value on a line of
such a file is a known limitation, see docs/limitations.md). An unterminated or unbalanced file is decided the same
way: a first value that never ends is ``array`` (Spark makes the whole file one corrupt record), a broken line is
dead-lettered.
Numbers and literals (``1``, ``true``, ``null``) and ``,`` ``:`` are not looked at: a line that starts with one is
judged by what follows it, which is stricter than Spark (it dead-letters such a line whole), never laxer.

**The scan** (:class:`JsonShapeScan`) streams the bytes once with bounded memory and no decoding: every byte that
matters (``[]{}"\\``, line ends) is ASCII, which UTF-8 never uses inside a multi-byte character. Strings follow
RFC 8259 (backslash escapes) and, as Spark's line reader splits them, end at a line end; a line ends at ``\\n``,
``\\r\\n`` or a bare ``\\r`` (Hadoop's line reader). No Python code runs per byte, nor per string but one holding a
bracket: ``bytes.translate`` keeps only brackets, quotes and line ends of a chunk (of a chunk with a backslash, only
once its strings are found by one regular expression that honours the escapes), ``bytes.replace`` turns the strings
that hold no bracket into content, then every object or array that opens and closes on one line is collapsed to one
marker by repeated regular-expression passes (innermost first), and the ones spanning lines likewise: what is left
of a chunk is a few bytes to look at. Nesting deeper than :data:`~runtime.jobs.json_structure.MAX_PASSES` in one
chunk falls back to a loop over bracket runs, exact and linear. The alphabet, the passes and the state of a line are
:mod:`runtime.jobs.json_structure`'s; the state across chunks and the result are this module's. About 150-200 MB/s
on one core, 85 with escapes in every record (``python -m bench.json_shape_scan``). Leniencies a transform spec may
allow (comments, single-quoted strings) are not modelled: a quote inside a comment or a single-quoted string can
mislead the scan.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import BinaryIO

from runtime.jobs.json_structure import (
    CR_BLANKS,
    CR_GAP_LF,
    GROUP,
    LINE_END,
    LINE_GROUP,
    OTHER,
    QUOTE_IS_CONTENT,
    SHARED_FIRST_LINE,
    SHARED_LINE,
    SIMPLE_RUN,
    STRING,
    STRING_REST,
    TABLE,
    TOKENS,
    Line,
    collapse,
    line_breaks,
)

__all__ = [
    "JsonShape", "JsonShapeScan", "first_byte_layout", "first_significant_byte", "scan_bytes", "scan_stream",
    "shared_line_problem",
]

UTF8_BOM = b"\xef\xbb\xbf"
#: JSON whitespace (RFC 8259).
JSON_WHITESPACE = b" \t\r\n"
#: Bytes read at a time by :func:`scan_stream`.
SCAN_CHUNK = 1 << 20
@dataclass(frozen=True)
class JsonShape:
    """What the scan found: ``layout`` (``lines`` or ``array``), the number of top-level objects and arrays
    (``values``, 0 when the file was not scanned) and, for a file neither layout reads whole, ``problem`` (the
    reason to quarantine it) and the first line that shows it."""

    layout: str
    values: int = 0
    problem: str | None = None
    line: int | None = None


def first_significant_byte(head: bytes) -> bytes:
    """The first byte of ``head`` that is not JSON whitespace, after a UTF-8 byte-order mark (``b""``: none)."""
    text = head[len(UTF8_BOM):] if head.startswith(UTF8_BOM) else head
    return text.lstrip(JSON_WHITESPACE)[:1]


def first_byte_layout(head: bytes) -> str:
    """The layout the first significant byte suggests: ``array`` for ``[``, else ``lines``. Only a file that
    suggests ``array`` needs :class:`JsonShapeScan`."""
    return "array" if first_significant_byte(head) == b"[" else "lines"


def shared_line_problem(line: int) -> str:
    """The quarantine reason of a file with several top-level values, one line of which holds more than one."""
    return (f"several JSON values on line {line} of a file of several top-level JSON values: Spark reads such a "
            "file line by line and keeps only the first value of a line, dropping the rest without a trace; put "
            "one JSON value per line (or make the whole file one JSON array)")


class JsonShapeScan:
    """Feed the (decompressed) bytes of one file in order, in chunks of any size, then :meth:`finish`.

    Memory is bounded by the chunk size: between chunks only a few counters are kept. ``done`` is true once the
    first significant byte is not ``[`` (JSON Lines: the rest need not be fed)."""

    def __init__(self) -> None:
        self._bom = b""  # the first bytes while they may still be a byte-order mark
        self._bom_checked = False
        self._started = False  # the first significant byte is '[' and the scan runs
        self.done = False  # the first significant byte is not '[': JSON Lines, nothing more to learn
        self._lines = 0  # line ends before the current chunk
        self._pending_cr = False  # the previous chunk ended with '\r' (a '\r\n' may be split between chunks)
        self._in_string = False
        self._after_backslash = False
        self._line = Line()  # the line being read, as JSON Lines reads it
        self._depth = 0  # unclosed objects and arrays at this point of the file
        self._values = 0  # top-level objects and arrays started
        self._shared_line: int | None = None  # the first line holding a value after a whole first one
        self._crlf_split = 0  # the chunk starts with the '\n' of a '\r\n' split between chunks

    # -- input ----------------------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Scan the next bytes of the file."""
        if self.done or not data:
            return
        if not self._started:
            data = self._sniff(data)
            if not data:
                return
        self._scan(data)

    def _sniff(self, data: bytes) -> bytes:
        """Skip a byte-order mark and blanks; the data from the first significant byte on when it is '['."""
        if not self._bom_checked:
            data = self._bom + data
            if len(data) < len(UTF8_BOM) and UTF8_BOM.startswith(data):
                self._bom = data  # maybe a byte-order mark cut by the chunk boundary
                return b""
            self._bom, self._bom_checked = b"", True
            data = data[len(UTF8_BOM):] if data.startswith(UTF8_BOM) else data
        text = data.lstrip(JSON_WHITESPACE)
        self._count_lines(data[:len(data) - len(text)])
        if text[:1] == b"[":
            self._started = True
            return text
        self.done = bool(text)
        return b""

    def _count_lines(self, data: bytes) -> None:
        if data:
            self._lines += line_breaks(data) - self._split_crlf(data)
            self._pending_cr = data[-1:] == b"\r"

    def _split_crlf(self, data: bytes) -> int:
        """1 when ``data`` starts with the '\n' of a '\r\n' whose '\r' ended the previous chunk (one line end)."""
        return 1 if self._pending_cr and data[:1] == b"\n" else 0

    # -- one chunk ------------------------------------------------------------------------------------------------

    def _scan(self, raw: bytes) -> None:
        self._crlf_split = self._split_crlf(raw)
        if b"\\" in raw or self._after_backslash or (b"\r" in raw and CR_GAP_LF.search(raw)):
            buf = raw.translate(TABLE)  # exact, byte by byte: blanks dropped only once the strings are erased
            if b"\r" in buf:  # '\r', blanks, '\n' are two line ends: keep them apart
                buf = CR_BLANKS.sub(b"\ra", buf)
            buf = self._erase_strings(buf)
        else:  # the usual chunk: structure alone, strings that hold none of it are content at once
            buf = raw.translate(TABLE, OTHER)
            if self._in_string:  # first the rest of a string begun earlier, so that quotes pair from here on
                buf = self._end_string(buf)
            if not self._in_string:  # '""' is a string with no structure in it, or two touching: content
                buf = self._erase_strings(buf.replace(b'""', b"c"))
        buf = (b"a" if buf[:1] == b"c" else b"") + buf.replace(b"\nc", b"\na").replace(b"\rc", b"\ra")
        buf = buf.translate(None, b"c")  # content after the first thing on a line: nothing to learn from it
        if buf:
            lines = collapse(buf, LINE_GROUP)
            if lines is None or not self._fast(lines):
                self._exact(buf if lines is None else lines)
        self._count_lines(raw)

    def _erase_strings(self, buf: bytes) -> bytes:
        """``buf`` with every string (and the rest of one begun in an earlier chunk) made content (``c``), blanks and
        backslashes dropped."""
        if self._in_string:
            buf = self._end_string(buf)
            if self._in_string:
                return b""
        pieces, at = [], 0
        while True:
            simple = SIMPLE_RUN.match(buf, at)  # always matches (maybe nothing)
            pieces.append(buf[at:simple.end()])  # type: ignore[union-attr]
            at = simple.end()  # type: ignore[union-attr]
            if at == len(buf):
                break
            string = STRING.match(buf, at)  # a string with a bracket or a line end in it
            pieces.append(b"c")
            if string is None:  # it runs to the end of the chunk
                rest = buf[at + 1:]
                self._in_string = True
                self._after_backslash = (len(rest) - len(rest.rstrip(b"\\"))) % 2 == 1
                break
            at = string.end()
        return b"".join(pieces).translate(QUOTE_IS_CONTENT, b" \\")

    def _end_string(self, buf: bytes) -> bytes:
        """Drop the rest of the string begun in an earlier chunk; update the string state."""
        start = 1 if self._after_backslash and buf[:1] not in (b"\n", b"\r") else 0
        rest = STRING_REST.match(buf, start)
        end = rest.end() if rest else start
        following = buf[end:end + 1]
        self._after_backslash = False
        if following == b'"':
            end += 1
        elif following == b"\\":  # the last byte, or a backslash right before a line end
            self._after_backslash = end + 1 == len(buf)
            end += 1
        elif not following:
            return b""  # the string goes on
        self._in_string = self._after_backslash
        return buf[end:]

    def _fast(self, buf: bytes) -> bool:
        """Scan a chunk whose one-line values are collapsed: its lines, then its top-level values. False (and
        nothing changed) when nesting defeated the passes: the exact loop then scans the chunk."""
        lines = self._scan_lines(buf)
        values = self._scan_values(buf) if lines is not None else None
        if lines is None or values is None:
            return False
        (self._line, shared), (self._values, self._depth) = lines, values
        if self._shared_line is None:
            self._shared_line = shared
        return True

    def _scan_lines(self, buf: bytes) -> tuple[Line, int | None] | None:
        """Each line as JSON Lines reads it: the first line holding a value after a whole first one, and the state
        of the last line; ``None`` when nesting defeated the passes."""
        if self._shared_line is not None:
            return self._line, None  # the first such line is known: lines need no more attention
        end = LINE_END.search(buf)
        cut = end.start() if end else len(buf)
        first = self._line.extended(buf[:cut])
        if first is None:
            return None
        text, line = first
        joined = text + buf[cut:]
        found = SHARED_FIRST_LINE.match(joined) or SHARED_LINE.search(joined)
        shared = None
        if found:
            shared = self._lines + 1 + line_breaks(joined[:found.start() + 1]) - self._crlf_split
        if cut < len(buf):
            line = Line.of(joined[max(joined.rfind(b"\n"), joined.rfind(b"\r")) + 1:])
        return line, shared

    def _scan_values(self, buf: bytes) -> tuple[int, int] | None:
        """The top-level objects and arrays started so far and the depth after ``buf``; ``None`` when nesting
        defeated the passes."""
        closers = buf.count(b"]")
        if self._depth > closers:  # the value open before this chunk stays open through it
            return self._values, self._depth + buf.count(b"[") - closers
        whole = collapse(buf, GROUP, self._depth)
        if whole is None:
            return None
        opener = whole.find(b"[")  # every opener left is unclosed, and no closer follows the first one
        top, still_open = (whole, b"") if opener < 0 else (whole[:opener], whole[opener:])
        values = self._values + top.count(b"v") + (1 if still_open else 0) - (1 if self._depth else 0)
        return values, still_open.count(b"[")

    def _exact(self, buf: bytes) -> None:
        """What :meth:`_fast` does, one run of brackets at a time (deep nesting the passes did not collapse)."""
        number = self._lines + 1
        line = self._line
        for token in TOKENS.finditer(buf):
            run, at = token.group(), token.start()
            kind = run[:1]
            if kind in (b"\n", b"\r"):
                after_cr = buf[at - 1:at] == b"\r" if at else self._crlf_split
                number += 0 if kind == b"\n" and after_cr else 1
                line = Line()
                continue
            line, shared = line.after_run(run)
            if shared and self._shared_line is None:
                self._shared_line = number
            if kind == b"[":
                self._values += 1 if self._depth == 0 else 0
                self._depth += len(run)
            elif kind == b"]":
                self._depth = max(0, self._depth - len(run))
            elif self._depth == 0:
                self._values += run.count(b"v")
        self._line = line

    # -- result ---------------------------------------------------------------------------------------------------

    def finish(self) -> JsonShape:
        """The layout Spark must read the file with, or the problem that makes it unreadable either way."""
        if not self._started:
            return JsonShape("lines")
        if self._values <= 1:
            return JsonShape("array", self._values)
        if self._shared_line is not None:
            return JsonShape("lines", self._values, shared_line_problem(self._shared_line), self._shared_line)
        return JsonShape("lines", self._values)


def scan_bytes(data: bytes, chunk: int = SCAN_CHUNK) -> JsonShape:
    """:class:`JsonShapeScan` over ``data``, fed ``chunk`` bytes at a time."""
    scan = JsonShapeScan()
    for start in range(0, len(data), chunk):
        scan.feed(data[start:start + chunk])
        if scan.done:
            break
    return scan.finish()


def scan_stream(stream: BinaryIO, chunk: int = SCAN_CHUNK) -> JsonShape:
    """:class:`JsonShapeScan` over a binary stream, read ``chunk`` bytes at a time (stops early for JSON Lines).
    Closes the stream."""
    scan = JsonShapeScan()
    with contextlib.closing(stream):
        while not scan.done and (data := stream.read(chunk)):
            scan.feed(data)
    return scan.finish()
