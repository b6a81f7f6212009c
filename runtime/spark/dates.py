"""Parsing date strings into dates without Spark's datetime formatters.

Spark's formatter-based parsers (``to_date(s, fmt)``) depend on ``spark.sql.legacy.timeParserPolicy``
(``EXCEPTION`` by default, which fails a whole job on input the legacy parser would have read differently)
and on ANSI mode. Here each accepted format is recognised by its digit mask (e.g. ``0000-00-00``: an ASCII digit
where the mask has ``0``, every other character as it is; matched as one anchored regular expression, about three
times cheaper per record than ``translate`` of every digit to ``0`` and a comparison with the mask, measured), then
rearranged into ``yyyy-MM-dd`` with fixed-position substrings,
and converted with ``try_cast(... AS DATE)``: the same answer under every setting, and an impossible calendar
date (2024-02-30) is a null, never an exception. The expression is kept small on purpose: generated methods
over 8,000 bytes of bytecode are never JIT-compiled, which made an earlier version several times slower.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from runtime.transforms.spec import ColumnSpec, DateFormat

#: ISO-8601 date-time: yyyy-MM-dd, 'T' or space, HH:mm[:ss[.fraction]], optional Z, +HH:mm or +HHmm (at most
#: +-18:00, the range Java accepts).
ISO_TIMESTAMP_REGEX = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?"
    r"(Z|[+-](0[0-9]|1[0-7]):?[0-5][0-9]|[+-]18:?00)?$"
)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def mask_regex(mask: str) -> str:
    """A Java regular expression that matches exactly the texts of ``mask``'s shape: ``[0-9]`` for each ``0``, a
    letter or digit as itself, any other character as a class of that one character (``[.]``), anchored at both
    ends (``(?s)`` and ``(?!.)``: the end of the text; ``$`` would also accept a final line break). It holds no
    backslash: the SQL parser keeps a string literal's backslashes as they are under
    ``spark.sql.parser.escapedStringLiterals``, where ``\\.`` would stop matching a dot. A mask character that
    cannot stand alone in a class (``\\ [ ] ^ &``, or a quote) raises ``ValueError``; date formats have none."""
    if any(char in "\\[]^&'\"" for char in mask):
        raise ValueError(f"mask {mask!r}: a character that cannot be matched without a backslash")
    pattern = "".join("[0-9]" if char == "0" else char if char.isalnum() else f"[{char}]" for char in mask)
    return f"(?s)^{pattern}(?!.)"


def _canonical_sql(source: str, fmt: DateFormat) -> str:
    """``yyyy-MM-dd`` text of ``source`` when it has the shape of ``fmt``, else null."""
    if fmt.pattern == "yyyy-MM-dd":
        text = source
    else:
        text = (f"concat(substring({source}, {fmt.year_position}, 4), '-', "
                f"substring({source}, {fmt.month_position}, 2), '-', substring({source}, {fmt.day_position}, 2))")
    return (f"CASE WHEN {source} RLIKE {_sql_string(mask_regex(fmt.mask))} "
            f"AND substring({source}, {fmt.year_position}, 4) <> '0000' THEN {text} END")


def _iso_sql(source: str) -> str:
    """The date of an ISO timestamp: as written without an offset (or with Z), the UTC date with one.

    With an offset, the timestamp is rewritten as ``yyyy-MM-ddTHH:mm:00+HH:MM`` (a shape Spark's cast always
    reads, also when the input had no seconds or no colon in the offset) and its UTC day is computed from the
    epoch seconds, independent of the session time zone.
    """
    offset = (f"CASE WHEN substring({source}, -6, 1) IN ('+', '-') THEN substring({source}, -6, 6) "
              f"WHEN substring({source}, -5, 1) IN ('+', '-') "
              f"THEN concat(substring({source}, -5, 3), ':', substring({source}, -2, 2)) END")
    instant = f"try_cast(concat(substring({source}, 1, 16), ':00', {offset}) AS TIMESTAMP)"
    utc_date = f"date_from_unix_date(int(floor(unix_seconds({instant}) / 86400)))"
    local_date = f"try_cast(substring({source}, 1, 10) AS DATE)"
    regex = _sql_string(ISO_TIMESTAMP_REGEX)
    return (f"CASE WHEN {source} RLIKE {regex} AND substring({source}, 1, 10) BETWEEN '0001-01-02' AND "
            f"'9999-12-30' THEN coalesce({utc_date}, {local_date}) END")


def parse_date_sql(source: str, column: ColumnSpec) -> str:
    """SQL expression: the date in the string ``source`` (a SQL column reference) using the column's accepted
    formats, first match wins; null if none matches or the date does not exist."""
    candidates: list[str] = []
    if column.formats:
        canonical = [_canonical_sql(source, fmt) for fmt in column.formats]
        text = canonical[0] if len(canonical) == 1 else f"coalesce({', '.join(canonical)})"
        candidates.append(f"try_cast({text} AS DATE)")
    if column.iso_timestamps:
        candidates.append(_iso_sql(source))
    return candidates[0] if len(candidates) == 1 else f"coalesce({', '.join(candidates)})"


def parse_date(source: str, column: ColumnSpec) -> Column:
    """:func:`parse_date_sql` as a Column."""
    return F.expr(parse_date_sql(source, column))
