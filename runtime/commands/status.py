"""``mldp status``: files and bytes by state, backlog and its oldest file, throughput and time to drain, the last
batches and the most frequent errors."""

from __future__ import annotations

import argparse

from runtime.commands.common import emit, open_database
from runtime.commands.options import MAX_COUNT, add_db_option, add_iceberg_location_options, add_json_option
from runtime.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp status``."""
    parser = sub.add_parser("status", help="what is left, how fast it goes, what failed and why, what is stuck",
                            description="The tracking database's answer to the morning questions of a backfill: "
                                        "what is left,\nhow fast it goes, what failed and why, what is stuck.")
    add_db_option(parser)
    add_iceberg_location_options(parser)
    parser.add_argument("--batches", type=int, default=10, metavar="N",
                        help="last batches to show (default %(default)s)")
    parser.add_argument("--errors", type=int, default=10, metavar="N",
                        help="most frequent errors to show; 0 leaves the list out and says so (default %(default)s)")
    add_json_option(parser)
    parser.set_defaults(handler=run)


def _check_counts(args: argparse.Namespace) -> None:
    """``--batches`` and ``--errors`` from 0 to :data:`MAX_COUNT`, refused in one line before anything is opened."""
    if args.batches < 0 or args.errors < 0:
        raise UsageError("--batches and --errors must not be negative")
    for option, value in (("--batches", args.batches), ("--errors", args.errors)):
        if value > MAX_COUNT:
            raise UsageError(f"{option} {value} is too large: give at most {MAX_COUNT:,}")


def run(args: argparse.Namespace) -> int:
    """Print the status report (text, or JSON with ``--json``)."""
    from runtime.operator.status import build_status
    from runtime.operator.table_status import iceberg_status, render_with_table

    _check_counts(args)
    conn = open_database(args.db, application_name="mldp-status")
    try:
        report = build_status(conn, batches=args.batches, errors=args.errors)
    finally:
        conn.close()
    report["iceberg"] = iceberg_status(args)  # the Iceberg table, if the tracking database's catalog has one
    emit(report, args.json, render_with_table)
    return 0
