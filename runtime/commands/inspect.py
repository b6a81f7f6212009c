"""``mldp inspect KEY``: the whole history of one raw file."""

from __future__ import annotations

import argparse
import sys

from runtime.commands.common import current_database, emit, open_database
from runtime.commands.options import add_db_option, add_json_option


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp inspect``."""
    parser = sub.add_parser("inspect", help="the whole history of one file: versions, attempts, batches, errors, "
                                            "dead letters, archive, curated Parquet")
    parser.add_argument("key", help="the raw key (relative to the bucket), its s3:// URL or its archived key")
    add_db_option(parser)
    parser.add_argument("--store", help="s3://bucket or a local directory: list the curated Parquet files that hold "
                                        "the file's rows (default: none; their batch ids and name pattern are shown)")
    parser.add_argument("--curated-under", default="", metavar="PARTITION",
                        help="with --store, only list curated files under this partition prefix, written as the "
                             "partitions are (numbers without leading zeros), e.g. year=2024/month=1/ "
                             "(default: the whole curated prefix)")
    add_json_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the file's history; exit status 1 when the key is not tracked."""
    from runtime.operator.inspection import UnknownFile, inspect_file, render_inspection
    from runtime.storage.factory import open_store

    store = open_store(args.store) if args.store else None
    conn = open_database(args.db, application_name="mldp-inspect")
    try:
        report = inspect_file(conn, args.key, store=store, curated_under=args.curated_under)
    except UnknownFile as exc:
        print(f"error: {exc}; searched {current_database()}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    emit(report, args.json, render_inspection)
    return 0
