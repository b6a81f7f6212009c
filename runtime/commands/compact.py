"""``mldp compact``: rewrite the Iceberg table's small files into files near a target size, one atomic commit."""

from __future__ import annotations

import argparse
import json

from runtime.commands.options import add_db_option, add_iceberg_location_options, add_json_option, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp compact``."""
    parser = sub.add_parser("compact", help="rewrite the Iceberg table's small files into files near a target size "
                                            "(one atomic commit; readers see every row once)",
                            description="Compact the Iceberg table (--table-format iceberg): each partition with "
                                        "several data files is\nrewritten into files near --target-file-mb in one "
                                        "atomic commit; files per partition before and after.")
    parser.add_argument("--partition", metavar="PREFIX",
                        help="only partitions under this prefix, e.g. year=2024/month=1 (default: every partition)")
    parser.add_argument("--target-file-mb", type=positive_int, default=128, metavar="N",
                        help="target size of a compacted file (default %(default)s)")
    add_db_option(parser)
    add_iceberg_location_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Compact, serialized with the processors' commits by the tracking database's advisory lock."""
    from runtime.commands.common import connect_database
    from runtime.db.iceberg_catalog import advisory_lock
    from runtime.operator.table_access import open_operator_table
    from runtime.table.commit import lock_key
    from runtime.table.compact import compact

    table = open_operator_table(args)
    conn = connect_database(args.db, application_name="mldp-compact")
    try:
        report = compact(table, args.partition, args.target_file_mb,
                         lock=lambda: advisory_lock(conn, lock_key(table.location)))
    finally:
        conn.close()
    data = report.as_dict()
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"{data['partitions']} partitions: {data['files_before']} data files before, {data['files_after']} after "
          f"({data['rows_rewritten']:,} rows rewritten, {data['seconds']}s"
          + (f", snapshot {data['snapshot_id']})" if data["snapshot_id"] else ", nothing to compact)"))
    for path, counts in data["by_partition"].items():
        if counts["before"] != counts["after"]:
            print(f"  {path}: {counts['before']} -> {counts['after']}")
    return 0
