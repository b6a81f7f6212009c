"""``mldp demo``: the whole pipeline on one machine, on generated sample data (the README's main command).

This module is the command: its options and its printing. Where the demo may write (which databases and
folders), the staged trouble and the run are :mod:`runtime.operator.demo`; its SQL is :mod:`runtime.db.demo`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from platform_contract.table import DEFAULT_TABLE_FORMAT, TABLE_FORMATS
from runtime.commands.common import connect_database
from runtime.commands.options import add_db_option, add_json_option, positive_int
from runtime.operator import demo
from runtime.operator.demo import DEMO_BATCH_SIZE, MIN_FILES, DemoOptions


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp demo``."""
    parser = sub.add_parser(
        "demo", help="generate sample data and run lister + processor locally, end to end",
        description="Generate sample raw JSON (good files and one of every bad-input kind) in WORKDIR/bucket, "
                    "register it,\nsimulate trouble, process it with local Spark and show where every record "
                    "went. It writes into the\ndatabase the other commands read without --db, so mldp status "
                    "and mldp inspect show its results.\nIt refuses a database that tracks other files, and "
                    "a WORKDIR/bucket it did not create (unless --force).")
    add_db_option(parser)
    parser.add_argument("--workdir", default=".mldp/demo",
                        help="the local store goes to WORKDIR/bucket (default %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="delete WORKDIR/bucket even if an earlier demo did not create it (default: refuse)")
    parser.add_argument("--files", type=positive_int, default=36,
                        help=f"good sample files to generate, at least {MIN_FILES} (default %(default)s)")
    parser.add_argument("--records-per-file", type=positive_int, default=150,
                        help="records per good file (default %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=DEMO_BATCH_SIZE,
                        help="files per batch (default %(default)s)")
    parser.add_argument("--table-format", choices=TABLE_FORMATS, default=DEFAULT_TABLE_FORMAT,
                        help="the curated output: loose Parquet files, or an Iceberg table in a SqlCatalog in the "
                             "demo's database (docs/iceberg.md) (default %(default)s)")
    add_json_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate the sample, list it, process it, and check every record is accounted for (exit 1 if not)."""
    started = time.monotonic()
    if not args.verbose:  # the demo prints its own story; job logs stay available with -v
        logging.getLogger("runtime").setLevel(logging.WARNING)
    options = DemoOptions(db=args.db, workdir=Path(args.workdir), force=args.force, files=args.files,
                          records_per_file=args.records_per_file, batch_size=args.batch_size,
                          table_format=args.table_format)
    url = demo.prepare(options)
    conn = connect_database(url, application_name="mldp-demo")
    try:
        result = demo.run_demo(conn, url, options, (lambda *a, **k: None) if args.json else print, started)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0 if result["check_ok"] else 1
    return _print_result(result)


def _print_result(result: dict) -> int:
    """The demo's result as text; exit status 1 when a record is not accounted for."""
    summary = result["processing"]
    program = demo.program()
    print("\n=== demo result ===")
    print(f"tracking database:  {result['database']}")
    print("files by state:     " + ", ".join(f"{k} {v}" for k, v in result["files_by_state"].items()))
    print(f"batches:            {summary['batches']}")
    print(f"records written:    {summary['records_good']:,} (curated Parquet)")
    print(f"records dead-lettered: {summary['records_bad']:,}")
    print(f"partitions written: {summary['partitions_written']}")
    rescued = result["rescued_fields"]
    print(f"records with rescued data: {summary.get('records_rescued', 0):,} (fields the spec does not read, kept "
          f"in the _rescued_data column: {', '.join(rescued['paths']) or 'none'})")
    if rescued["example"]:
        print(f"  e.g. {rescued['example']['id']}: _rescued_data = {rescued['example']['_rescued_data']}")
    print(f"curated Parquet:    {result['curated_parquet']}")
    print(f"dead letters:       {result['dead_letter']}")
    print(f"archived raw files: {result['archived_raw']}")
    print(f"files needing attention ({program} inspect KEY / {program} requeue):")
    for problem in result["problems"]:
        print(f"  {problem['state']:<11} {problem['key']}\n              {problem['reason']}")
    matches = result["check_ok"]
    print(f"check:              {'OK' if matches else 'MISMATCH'}: expected {result['expected_good_records']:,} "
          f"written and {result['expected_bad_records']:,} dead-lettered")
    if "iceberg" in result:
        from runtime.operator.table_demo import render_table_result

        print(render_table_result(result["iceberg"]))
    print(f"total time:         {summary['seconds']:.1f}s")
    print("next, from this directory:")
    for command in result["next_commands"]:
        print(f"  {command}")
    return 0 if matches else 1
