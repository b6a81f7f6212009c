"""``mldp status``: files and bytes by state, backlog and its oldest file, throughput and time to drain, the last
batches and the most frequent errors."""

from __future__ import annotations

import argparse

from runtime.commands.common import emit, open_database
from runtime.commands.options import add_db_option, add_json_option
from runtime.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp status``."""
    parser = sub.add_parser("status", help="what is left, how fast it goes, what failed and why, what is stuck")
    add_db_option(parser)
    parser.add_argument("--batches", type=int, default=10, metavar="N", help="last batches to show (default 10)")
    parser.add_argument("--errors", type=int, default=10, metavar="N",
                        help="most frequent errors to show (default 10)")
    add_json_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the status report (text, or JSON with ``--json``)."""
    from runtime.operator.status import build_status, render_status

    if args.batches < 0 or args.errors < 0:
        raise UsageError("--batches and --errors must not be negative")
    conn = open_database(args.db, application_name="mldp-status")
    try:
        report = build_status(conn, batches=args.batches, errors=args.errors)
    finally:
        conn.close()
    emit(report, args.json, render_status)
    return 0
