"""``mldp inspect KEY``: the whole history of one raw file."""

from __future__ import annotations

import argparse
import sys

from runtime.commands.common import current_database, emit, open_database
from runtime.commands.options import add_db_option, add_iceberg_location_options, add_json_option


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
    add_iceberg_location_options(parser)
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
    report["iceberg_snapshots"] = iceberg_snapshots(args, report["curated"]["batch_ids"])
    emit(report, args.json, lambda r: render_inspection(r) + render_snapshots(r["iceberg_snapshots"]))
    return 0


def iceberg_snapshots(args: argparse.Namespace, batch_ids: list) -> list | None:
    """For each batch that recorded the file SUCCEEDED, the first snapshot of the Iceberg table holding its rows
    (``None``: no Iceberg table)."""
    from runtime.operator.table_access import open_operator_table
    from runtime.table.snapshots import first_snapshots

    table = open_operator_table(args, required=False)
    return first_snapshots(table, batch_ids) if table is not None and batch_ids else None


def render_snapshots(found: list | None) -> str:
    """The Iceberg lines of ``mldp inspect``."""
    if not found:
        return ""
    lines = [f"  batch {s['batch_id']}: first in snapshot {s['snapshot_id']} ({s['at']})" if s["snapshot_id"]
             else f"  batch {s['batch_id']}: in no snapshot of the table" for s in found]
    return "\n\nIceberg table: the file's records first appear in\n" + "\n".join(lines)
