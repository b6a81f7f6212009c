"""Time bounds given on the command line: ISO-8601 (``2024-05-01``, ``2024-05-01T10:00:00+02:00``) or relative to
now (``90m``, ``24h``, ``7d``, ``2w`` ago)."""

from __future__ import annotations

import datetime as dt
import re

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """The instant ``text`` names, in UTC. A relative value is that long before ``now`` (default: the current
    time); an ISO value without a timezone is UTC. Raises ``ValueError`` with an example for text it cannot read
    and for an instant outside the years 1 to 9999 (``99999999d`` ago)."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        match = _RELATIVE.match(text)
        if match:
            ago = dt.timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
            return (now - ago).astimezone(dt.UTC)
        value = text.strip()
        if value.endswith(("Z", "z")):
            value = value[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"cannot read the time {text!r}: use ISO-8601 (2024-05-01T10:00:00Z) or a duration "
                             f"ago (90m, 24h, 7d, 2w)") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"the time {text!r} is out of range: give an instant between the years 1 and 9999 "
                         "(2024-05-01T10:00:00Z) or a shorter duration ago (90m, 24h, 7d, 2w)") from None
