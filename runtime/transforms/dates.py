"""The date formats a ``date`` column of a transform spec accepts (``yyyy-MM-dd``, ``dd.MM.yyyy``, ...), compiled
into digit masks and field positions that Spark SQL can match without its own date parser."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import SpecError

#: Date formats of a ``date`` column that names none.
DEFAULT_DATE_FORMATS = ("yyyy-MM-dd", "yyyy/MM/dd")

_DATE_LITERALS = frozenset(" -/._,")
_DATE_FIELDS = ("yyyy", "MM", "dd")


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
    ``yyyyMMdd`` would then accept numbers as dates; they must be errors. Raises
    :class:`~runtime.errors.SpecError`.
    """
    if not isinstance(pattern, str) or not pattern:
        raise SpecError("a date format must be a non-empty string such as 'yyyy-MM-dd'")
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
                raise SpecError(f"date format {pattern!r}: unsupported {token!r}; use yyyy, MM and dd "
                                "with separators from ' -/._,'")
            if token in positions:
                raise SpecError(f"date format {pattern!r} uses {token!r} twice")
            if previous_was_field:
                raise SpecError(f"date format {pattern!r} needs a separator between fields: without one a "
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
            raise SpecError(f"date format {pattern!r}: unsupported character {char!r}; "
                            "separators are ' -/._,'")
    if set(positions) != set(_DATE_FIELDS):
        raise SpecError(f"date format {pattern!r} must contain a year (yyyy), a month (MM) and a day (dd)")
    return DateFormat(pattern, "".join(mask), positions["yyyy"], positions["MM"], positions["dd"])
