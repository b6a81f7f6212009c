"""``mldp list``: FileListerAndDbPopulator, registering raw files in the tracking table (locally, and as the Glue
Python-shell job).

Its implementation is imported at module level on purpose: the Glue lister runs this command on Python 3.9, and
the tests check the module-level import closure of the command modules with ``vermin``. Keep every import here
Python 3.9-compatible and free of pyspark/pyarrow.
"""

from __future__ import annotations

import argparse

from runtime import defaults
from runtime.commands.common import emit, open_database
from runtime.commands.options import add_job_options, layout_from_args, positive_int
from runtime.jobs.lister import run_lister
from runtime.metrics import backlog_gauges, lister_figures, publisher_from_args
from runtime.storage.factory import open_store


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp list``."""
    parser = sub.add_parser("list", help="FileListerAndDbPopulator: register raw files in the tracking table")
    add_job_options(parser)
    parser.add_argument("--prefix", action="append", dest="prefixes", metavar="P",
                        help="prefix to list (repeatable; default: the reference raw prefixes)")
    parser.add_argument("--prefixes", dest="prefix_list", metavar="A,B",
                        help="comma-separated prefixes (the Glue job argument form)")
    parser.add_argument("--chunk-size", type=positive_int, default=defaults.LISTER_CHUNK_SIZE,
                        help="keys registered per transaction (default %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """List the prefixes, register what is new or changed, publish the lister's metrics."""
    prefixes = list(args.prefixes or []) + [p for p in (args.prefix_list or "").split(",") if p.strip()]
    layout = layout_from_args(args)
    store = open_store(args.store)
    conn = open_database(args.db, args.db_secret_arn, application_name="mldp-lister")
    try:
        summary = run_lister(store, conn, prefixes or None, chunk_size=args.chunk_size, layout=layout)
        publisher_from_args(args).publish({**lister_figures(summary), **backlog_gauges(conn)})
    finally:
        conn.close()
    emit(summary.as_dict(), args.json, lambda d: (
        f"listed {d['listed']:,} files: {d['new']:,} new, {d['changed']:,} changed, "
        f"{d['unchanged']:,} unchanged ({d['seconds']}s)"))
    return 0
