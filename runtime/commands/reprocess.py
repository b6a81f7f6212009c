"""``mldp reprocess``: convert SUCCEEDED raw files again with the current spec, from their archived copies (see
:mod:`runtime.operator.reprocess`: the Parquet format refuses, naming the Iceberg format)."""

from __future__ import annotations

import argparse
import sys

from runtime.commands.common import emit, open_database
from runtime.commands.options import add_db_option, add_iceberg_location_options, add_json_option
from runtime.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp reprocess``."""
    parser = sub.add_parser("reprocess", help="convert SUCCEEDED files again with the current spec, from their "
                                              "archived copies (Iceberg table format only)")
    add_db_option(parser)
    parser.add_argument("--spec-version", metavar="V", help="files converted with spec version V ('none': before "
                                                            "versions were recorded)")
    parser.add_argument("--since", metavar="WHEN", help="files whose last outcome is at or after WHEN (ISO-8601 or "
                                                        "24h, 7d ago)")
    parser.add_argument("--until", metavar="WHEN", help="files whose last outcome is before WHEN")
    parser.add_argument("--key", action="append", metavar="KEY", help="this raw key (repeatable)")
    parser.add_argument("--prefix", help="raw keys under this prefix")
    parser.add_argument("--all", action="store_true", help="every SUCCEEDED file")
    parser.add_argument("--table-format", default="parquet", choices=("parquet", "iceberg"),
                        help="the curated table's format (default %(default)s: refused, rows cannot be replaced; "
                             "iceberg: re-queued, the table commit replaces each file's rows; the table must exist)")
    add_iceberg_location_options(parser)
    parser.add_argument("--store", help="s3://bucket or a local directory: check that each archived copy is there")
    parser.add_argument("--reason", default="reprocess with the current spec", help="recorded with each file")
    parser.add_argument("--dry-run", action="store_true", help="show the selection, change nothing")
    add_json_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Show the selection; requeue it (or say why not). Exit status 1 when refused."""
    from platform_contract.table import ICEBERG
    from runtime.operator.reprocess import (
        ReprocessRefused,
        ReprocessSelection,
        plan_reprocess,
        render_plan,
        requeue_for_reprocess,
    )
    from runtime.operator.timewindow import parse_time
    from runtime.storage.factory import open_store

    try:
        selection = ReprocessSelection(
            spec_version=args.spec_version, since=parse_time(args.since) if args.since else None,
            until=parse_time(args.until) if args.until else None,
            keys=tuple(args.key) if args.key else None, prefix=args.prefix, all_files=args.all)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    store = open_store(args.store) if args.store else None
    conn = open_database(args.db, application_name="mldp-reprocess")
    try:
        plan = plan_reprocess(conn, selection, store)
        emit(plan.as_dict(), args.json, lambda _: render_plan(plan))
        if args.dry_run:
            return 0
        if args.table_format == ICEBERG and plan.ready:
            # re-queued for a table that is not there, the files would be held by every processor run (uncharged, but
            # stuck until someone notices); say so now, before anything moves
            from runtime.operator.table_access import open_operator_table

            open_operator_table(args)
        try:
            moved = requeue_for_reprocess(conn, plan, args.table_format, args.reason)
        except ReprocessRefused as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"re-queued {moved} file(s) to be converted again from their archived copies (recorded as REPROCESS:"
              f" {args.reason}); next: mldp process --table-format iceberg",
              file=sys.stderr if args.json else sys.stdout)
    finally:
        conn.close()
    return 0
