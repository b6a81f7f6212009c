"""``mldp snapshot create|list|show``: pinned training snapshots of the Iceberg table (tags)."""

from __future__ import annotations

import argparse
import json

from runtime.commands.options import add_db_option, add_iceberg_location_options, add_json_option, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp snapshot``."""
    parser = sub.add_parser("snapshot", help="pin the Iceberg table's current data as a named snapshot (a tag), "
                                             "list the pinned ones, show how to read one",
                            description="Pinned training snapshots of the Iceberg table (--table-format iceberg): "
                                        "a tag names one snapshot,\nso the exact rows a model was trained on can be "
                                        "read again later (docs/iceberg.md).")
    actions = parser.add_subparsers(dest="action", required=True, metavar="create|list|show")
    create = actions.add_parser("create", help="tag the current snapshot")
    create.add_argument("name", help="the tag's name, e.g. training-2024-06")
    create.add_argument("--retain-days", type=positive_int, metavar="N",
                        help="keep the tag N days (default: for good; snapshot expiry never removes a tagged one)")
    listing = actions.add_parser("list", help="every tag: name, snapshot id, time, rows, files, batches included")
    show = actions.add_parser("show", help="how to read exactly the tagged data: pyiceberg, Spark on Glue, Athena")
    show.add_argument("name")
    for action in (create, listing, show):
        add_db_option(action)
        add_iceberg_location_options(action)
        add_json_option(action)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Create, list or show tags."""
    from runtime.operator.table_access import open_operator_table
    from runtime.table.snapshots import create_tag, list_tags, show_tag

    table = open_operator_table(args)
    if args.action == "create":
        result = create_tag(table, args.name, args.retain_days)
        print(json.dumps(result, default=str) if args.json else
              f"tagged snapshot {result['snapshot_id']} as {result['name']}: {result['rows']:,} rows, "
              f"{result['files']:,} files, {result['batches']} batches"
              + (f", kept {result['retain_days']} days" if result["retain_days"] else ", kept for good")
              + f"\nread it: mldp snapshot show {result['name']}")
    elif args.action == "list":
        tags = list_tags(table)
        if args.json:
            print(json.dumps(tags, default=str))
        else:
            print(f"{'NAME':<24} {'SNAPSHOT':<20} {'TIME':<26} {'ROWS':>10} {'FILES':>7} {'BATCHES':>8}")
            for t in tags:
                print(f"{t['name']:<24} {t['snapshot_id']:<20} {t['time']:<26} {t['rows']:>10,} {t['files']:>7,} "
                      f"{t['batches']:>8,}")
            if not tags:
                print("no tag yet: mldp snapshot create NAME")
    else:
        shown = show_tag(table, args.name)
        if args.json:
            print(json.dumps(shown, default=str))
        else:
            print(f"tag {shown['name']}: snapshot {shown['snapshot_id']} of {shown['time']}, {shown['rows']:,} rows, "
                  f"{shown['files']:,} files, {shown['batches']} batches")
            for tool, text in shown["read"].items():
                print(f"\n# {tool}\n{text}")
    return 0
