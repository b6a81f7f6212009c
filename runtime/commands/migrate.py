"""``mldp migrate``: apply the tracking-schema migrations (every job also does it at start)."""

from __future__ import annotations

import argparse

from runtime.commands.common import connect_database
from runtime.commands.options import add_db_option
from runtime.db.migrations import apply_migrations


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp migrate``."""
    parser = sub.add_parser("migrate", help="apply the tracking-schema migrations")
    add_db_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Apply the pending migrations and say which."""
    conn = connect_database(args.db, application_name="mldp-migrate")
    try:
        applied = apply_migrations(conn)
    finally:
        conn.close()
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0
