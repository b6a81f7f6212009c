"""Validation of the AWS cron expressions that Glue scheduled triggers take (``cron(...)``, six fields).

Glue (like EventBridge) uses ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``; one of
day-of-month and day-of-week must be ``?``. A bad expression would only fail at deploy time, in
CloudFormation; :func:`glue_cron_problem` (and :func:`validate_glue_cron`) make it fail at synth with a message
that says what to fix.
"""

from __future__ import annotations

import re

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
_FIELDS: tuple[tuple[str, int, int, str], ...] = (
    # name, min, max, extra single-value tokens
    ("minutes", 0, 59, ""),
    ("hours", 0, 23, ""),
    ("day-of-month", 1, 31, "L|W|LW|\\d{1,2}W"),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, f"{_DAYS}|L|\\d#\\d|\\dL"),
    ("year", 1970, 2199, ""),
)
_EXAMPLE = "cron(0/15 * * * ? *) (every 15 minutes)"


def _value_ok(token: str, low: int, high: int, extra: str) -> bool:
    if token.isdigit():
        return low <= int(token) <= high
    return bool(extra) and re.fullmatch(f"(?:{extra})", token, flags=re.IGNORECASE) is not None


def _field_ok(field: str, low: int, high: int, extra: str) -> bool:
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) < 1):
            return False
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        if dash:
            if not (_value_ok(start, low, high, extra) and _value_ok(end, low, high, extra)):
                return False
        elif not _value_ok(base, low, high, extra):
            return False
    return True


def glue_cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a valid Glue ``cron(...)`` schedule (``None`` if it is); the text starts with the
    expression and names the part to fix."""
    match = re.fullmatch(r"cron\((.*)\)", expression.strip()) if isinstance(expression, str) else None
    if match is None:
        return f"{expression!r} must be an AWS cron expression like {_EXAMPLE}"
    fields = match.group(1).split()
    if len(fields) != len(_FIELDS):
        return (
            f"{expression!r} has {len(fields)} fields; AWS cron needs 6 "
            f"(minutes hours day-of-month month day-of-week year), e.g. {_EXAMPLE}"
        )
    for value, (name, low, high, extra) in zip(fields, _FIELDS, strict=True):
        if name in ("day-of-month", "day-of-week") and value == "?":
            continue
        if not _field_ok(value, low, high, extra):
            return f"{expression!r}: the {name} field {value!r} is invalid ({low}-{high})"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return (
            f"{expression!r}: exactly one of day-of-month ({day_of_month!r}) and day-of-week "
            f"({day_of_week!r}) must be '?', e.g. {_EXAMPLE}"
        )
    return None


def validate_glue_cron(expression: str, field_name: str = "schedule") -> str:
    """Return ``expression`` if it is a valid Glue ``cron(...)`` schedule, else raise ``ValueError``.

    The message names ``field_name`` and the part to fix (:func:`glue_cron_problem`).
    """
    problem = glue_cron_problem(expression)
    if problem is not None:
        raise ValueError(f"{field_name} {problem}")
    return expression.strip()


_DAY_NAMES = {name: i + 1 for i, name in enumerate(_DAYS.split("|"))}


def _expand(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a plain cron field (numbers, names, ranges, steps, ``*``/``?``) selects; ``None`` for special
    tokens (``L``, ``W``, ``#``)."""
    names = names or {}
    values: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        step = int(step_text) if slash else 1
        if base in ("*", "?"):
            start, end = low, high
        else:
            first, dash, last = base.partition("-")
            try:
                start = names.get(first.upper()) or int(first)
                end = (names.get(last.upper()) or int(last)) if dash else (high if slash else start)
            except ValueError:
                return None
        values.update(range(start, end + 1, step))
    return values


def max_interval_minutes(expression: str) -> int | None:
    """The longest gap, in minutes, between two starts of a valid Glue ``cron(...)`` schedule that repeats every
    day or every week (month, day-of-month and year unrestricted); ``None`` for any other schedule."""
    minutes, hours, day_of_month, month, day_of_week, year = expression.strip()[5:-1].split()
    if day_of_month not in ("*", "?") or month != "*" or year != "*":
        return None
    expanded = (_expand(minutes, 0, 59), _expand(hours, 0, 23), _expand(day_of_week, 1, 7, _DAY_NAMES))
    if any(values is None or not values for values in expanded):
        return None
    minute_set, hour_set, day_set = expanded
    week = 7 * 1440
    starts = sorted((d - 1) * 1440 + h * 60 + m for d in day_set for h in hour_set for m in minute_set)
    return max(later - earlier for earlier, later in zip(starts, [*starts[1:], starts[0] + week], strict=True))
