"""Parsing date strings into dates with regular expressions and arithmetic only.

Spark's own date parsers depend on ``spark.sql.legacy.timeParserPolicy`` (``EXCEPTION`` by default, which
fails a whole job on input the legacy parser would have read differently) and on ANSI mode. Matching each
accepted format with an anchored regex and building the date with guarded ``make_date`` gives the same answer
under every setting, and an invalid calendar date (2024-02-30) is a null, never an exception.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from runtime.transforms.spec import ColumnSpec, DateFormat

#: ISO-8601 date-time: date, 'T' or space, hh:mm[:ss[.fraction]], optional Z / +hh:mm / +hhmm / +hh.
ISO_TIMESTAMP_REGEX = (
    r"^(\d{4})-(\d{2})-(\d{2})[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:[.,]\d{1,9})?)?"
    r"(Z|z|([+-])(0\d|1[0-8]):?([0-5]\d)?)?$"
)


def _int(text: Column, pattern: str, group: int) -> Column:
    return F.regexp_extract(text, pattern, group).cast("int")


def _safe_make_date(year: Column, month: Column, day: Column) -> Column:
    """``make_date`` that yields null instead of failing for out-of-range parts (ANSI-safe)."""
    month_ok = year.between(1, 9999) & month.between(1, 12)
    first_of_month = F.when(month_ok, F.make_date(year, month, F.lit(1)))
    day_ok = day.between(1, F.dayofmonth(F.last_day(first_of_month)))
    return F.when(month_ok & day_ok, F.make_date(year, month, day))


def _format_date(text: Column, fmt: DateFormat) -> Column:
    return F.when(
        text.rlike(fmt.regex),
        _safe_make_date(_int(text, fmt.regex, fmt.year_group), _int(text, fmt.regex, fmt.month_group),
                        _int(text, fmt.regex, fmt.day_group)),
    )


def _iso_timestamp_date(text: Column) -> Column:
    """The date of an ISO timestamp: as written without an offset, in UTC with one."""
    regex = ISO_TIMESTAMP_REGEX
    local_date = _safe_make_date(_int(text, regex, 1), _int(text, regex, 2), _int(text, regex, 3))
    local_minutes = _int(text, regex, 4) * 60 + _int(text, regex, 5)
    sign = F.when(F.regexp_extract(text, regex, 8) == "-", F.lit(-1)).otherwise(F.lit(1))
    offset_minutes = sign * (
        F.coalesce(F.nullif(F.regexp_extract(text, regex, 9), F.lit("")).cast("int"), F.lit(0)) * 60
        + F.coalesce(F.nullif(F.regexp_extract(text, regex, 10), F.lit("")).cast("int"), F.lit(0))
    )
    day_shift = F.floor((local_minutes - offset_minutes) / F.lit(1440)).cast("int")
    return F.when(text.rlike(regex), F.date_add(local_date, day_shift))


def parse_date(text: Column, column: ColumnSpec) -> Column:
    """A ``date`` column from the string ``text`` using the column's accepted formats; null if none match."""
    candidates = [_format_date(text, fmt) for fmt in column.formats]
    if column.iso_timestamps:
        candidates.append(_iso_timestamp_date(text))
    return F.coalesce(*candidates) if len(candidates) > 1 else candidates[0]
