"""The structure of JSON bytes, as the shape scan (:class:`runtime.jobs.json_shape.JsonShapeScan`) reduces a chunk
to it: the alphabet a chunk is mapped to (brackets, quotes, line ends), the regular expressions over that alphabet,
the collapsing passes that turn every whole object or array into one marker, and the state of one line as Spark's
JSON Lines reader reads it (:class:`Line`).

Everything here is a pure function of the bytes given: the scan's state across chunks (strings begun in an earlier
chunk, depth, counts, the result) is :mod:`runtime.jobs.json_shape`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CR_BLANKS", "CR_GAP_LF", "GROUP", "LINE_END", "LINE_GROUP", "MAX_PASSES", "OTHER", "QUOTE_IS_CONTENT",
    "SHARED_FIRST_LINE", "SHARED_LINE", "SIMPLE_RUN", "STRING", "STRING_REST", "TABLE", "TOKENS", "Line", "collapse",
    "line_breaks",
]

#: Collapsing passes over one chunk before the exact loop takes over (nesting deeper than this in one chunk).
MAX_PASSES = 12

# -- the alphabet the chunk is mapped to ----------------------------------------------------------------------------
# '[' any opener, ']' any closer, '"' and '\\' as they are, '\n' '\r' line ends; everything else (blanks, ',' ':',
# numbers, literals, bytes of strings) is dropped, or mapped to ' ' and dropped once the strings are erased. A string
# becomes 'c': content, which matters only as the first thing on a line (such a line is no value Spark reads: it is
# dead-lettered whole), so that content becomes one 'a' and the rest of it is dropped. 'v' is written by the passes
# only: a whole object or array.
_STRUCTURE = b'[]{}"\\\n\r'
_table = bytearray(b" " * 256)
for _byte in b'[]"\\\n\r':
    _table[_byte] = _byte
_table[ord("{")], _table[ord("}")] = ord("["), ord("]")
#: The mapping of a chunk's bytes to the alphabet (``bytes.translate``).
TABLE = bytes(_table)
#: Everything but structure, dropped at once when the chunk holds no backslash (nothing shifts what one escapes).
OTHER = bytes(byte for byte in range(256) if byte not in _STRUCTURE)
#: Something dropped between '\r' and '\n' would merge the two line ends into one.
CR_GAP_LF = re.compile(rb'\r[^\[\]{}"\n\r]+\n')

#: A string, closed by its quote or (unterminated: Spark's line reader cuts it) by a line end.
STRING = re.compile(rb'"(?:[^"\\\n\r]++|\\[^\n\r])*+(?:"|\\?(?=[\n\r]))')
#: Text up to the first string holding a bracket or a line end (or up to the end): its other strings hold nothing
#: that matters (an escape may be in them), and become content once their quotes (and backslashes) do.
SIMPLE_RUN = re.compile(rb'(?:[^"]*+"(?:[^"\[\]\n\r\\]++|\\[^\[\]\n\r])*+")*+[^"]*+')
QUOTE_IS_CONTENT = bytes.maketrans(b'"', b"c")  # blanks and backslashes are dropped on the way
#: The rest of a string that began in an earlier chunk.
STRING_REST = re.compile(rb'(?:[^"\\\n\r]++|\\[^\n\r])*+')
#: An innermost object or array on one line / across lines.
LINE_GROUP = re.compile(rb"\[[^\[\]\n\r]*+\]")
GROUP = re.compile(rb"\[[^\[\]]*+\]")
#: A line that starts with a whole value, with an object or array starting after it on the same line.
SHARED_LINE = re.compile(rb"[\n\r]v[^\[v\n\r]*+[\[v]")
SHARED_FIRST_LINE = re.compile(rb"v[^\[v\n\r]*+[\[v]")
#: The runs the exact loop steps through.
TOKENS = re.compile(rb"\[+|\]+|[av]+|[\n\r]")
LINE_END = re.compile(rb"[\n\r]")
CR_BLANKS = re.compile(rb"\r[ \\]+(?=\n)")  # what will be dropped between '\r' and '\n' (no string starts there)

# per-line state of the line being read (as JSON Lines would read it)
_START, _GROUP_OPEN, _AFTER, _DONE = "start", "group", "after", "done"


def line_breaks(data: bytes) -> int:
    """Line ends in ``data`` as Spark's line reader counts them (``\\n``, ``\\r\\n``, bare ``\\r``)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def collapse(buf: bytes, group: re.Pattern[bytes], prefix: int = 0) -> bytes | None:
    """``buf`` after ``prefix`` openers, every object or array in it collapsed to ``v`` (innermost first); ``None``
    when :data:`MAX_PASSES` passes were not enough (deep nesting: the caller falls back to the exact loop)."""
    buf = b"[" * prefix + buf
    for _ in range(MAX_PASSES):
        buf, count = group.subn(b"v", buf)
        if not count:
            return buf
    return None


@dataclass(frozen=True)
class Line:
    """The line being read, as JSON Lines reads it: nothing yet (``start``), inside its first object or array
    (``group``, ``depth`` unclosed), after that first value whole (``after``), or nothing more to learn (``done``:
    it does not start with an object or array, or it was already found to hold a second value)."""

    state: str = _START
    depth: int = 0

    @classmethod
    def of(cls, text: bytes) -> Line:
        """The state of a line whose collapsed bytes so far are ``text``."""
        if not text:
            return cls()
        if text[:1] == b"[":  # the first value is still open: every opener left is unclosed
            return cls(_GROUP_OPEN, text.count(b"["))
        if text[:1] == b"v" and not any(mark in text[1:] for mark in (b"[", b"v")):
            return cls(_AFTER)
        return cls(_DONE)

    def extended(self, part: bytes) -> tuple[bytes, Line] | None:
        """The collapsed bytes of this line followed by ``part`` (its next bytes, no line end), for
        :data:`SHARED_LINE`, and the line's state after them; ``None`` when nesting defeated the passes."""
        if self.state == _DONE:
            return b"a", self
        if self.state == _AFTER:
            text = b"v" + part
        elif self.state == _START:
            text = part
        elif self.depth > (closers := part.count(b"]")):  # the first value stays open all along ``part``
            return b"[", Line(_GROUP_OPEN, self.depth + part.count(b"[") - closers)
        else:
            collapsed = collapse(part, LINE_GROUP, self.depth)
            if collapsed is None:
                return None
            text = collapsed
        return text, Line.of(text)

    def after_run(self, run: bytes) -> tuple[Line, bool]:
        """The state after one run of the exact loop (``[``s, ``]``s, or values and other content), and whether
        the run starts a value after a whole first one."""
        kind, size = run[:1], len(run)
        if self.state == _START:
            if kind == b"[":
                return Line(_GROUP_OPEN, size), False
            if kind == b"v":
                shared = b"v" in run[1:]
                return Line(_DONE if shared else _AFTER), shared
            return Line(_DONE), False
        if self.state == _GROUP_OPEN:
            if kind == b"[":
                return Line(_GROUP_OPEN, self.depth + size), False
            if kind == b"]":
                return (Line(_GROUP_OPEN, self.depth - size) if self.depth > size else Line(_AFTER)), False
            return self, False
        if self.state == _AFTER and (kind == b"[" or b"v" in run):
            return Line(_DONE), True
        return self, False
