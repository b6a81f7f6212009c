"""The Iceberg table's part of ``mldp status``: current snapshot, rows, data files, files per partition (median and
worst) and the last commit (:func:`runtime.table.view.table_summary`), when the tracking database's catalog (or
the Glue database named by ``--iceberg-database``) holds the table."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def iceberg_status(args: argparse.Namespace) -> dict[str, Any] | None:
    """The table's summary, ``None`` without a table; an error reading it is reported in it, never raised (the
    rest of the status report stands)."""
    from runtime.operator.table_access import open_operator_table
    from runtime.table.view import table_summary

    try:
        table = open_operator_table(args, required=False)
        return None if table is None else table_summary(table.load(), table.location)
    except Exception as exc:  # the status report of the tracking database must not fail on the table
        log.warning("the Iceberg table could not be read: %s", exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def render_with_table(report: dict[str, Any]) -> str:
    """The status report's text, the table's lines after it."""
    from runtime.operator.status import render_status
    from runtime.table.view import render_table_summary

    text = render_status(report)
    table = report.get("iceberg")
    if table is None:
        return text
    if "error" in table:
        return f"{text}\n\niceberg table: could not be read ({table['error']})"
    return f"{text}\n\n{render_table_summary(table)}"
