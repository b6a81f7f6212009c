"""Rendering helpers of the operator commands: aligned text tables, human sizes and durations, JSON-ready values."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runtime.progress import format_duration

if TYPE_CHECKING:
    from psycopg2.extensions import cursor as Cursor

__all__ = ["count_of", "format_duration", "human_bytes", "jsonable", "render_table", "rows_as_dicts", "shorten", "when"]


def human_bytes(value: float | None) -> str:
    """``0 B``, ``512 B``, ``1.5 KiB``, ``9.0 TiB`` (binary units); ``-`` when unknown."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def count_of(count: int, noun: str, plural: str | None = None) -> str:
    """``1 file``, ``0 files``, ``1,234 files`` (``plural`` when it is not ``noun + "s"``)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def shorten(text: str | None, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis; ``-`` for None."""
    if text is None:
        return "-"
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = (),
                 indent: str = "  ") -> str:
    """An aligned text table; the columns whose index is in ``right`` are right-aligned (numbers)."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO-8601 strings, UUIDs as strings and decimals as numbers (recursively)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def rows_as_dicts(cursor: Cursor) -> list[dict[str, Any]]:
    """The rows of the last query of ``cursor`` as dicts keyed by column name."""
    names = [column[0] for column in cursor.description]
    return [{name: row[i] for i, name in enumerate(names)} for row in cursor.fetchall()]


def when(value: dt.datetime | str | None) -> str:
    """A timestamp (or its ISO-8601 text, as in the JSON reports) for tables: ``2024-05-01 10:02:03Z`` (UTC,
    seconds); ``-`` when unknown."""
    if not value:
        return "-"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
