"""``mldp list``: FileListerAndDbPopulator, registering raw files in the tracking table (locally, and as the Glue
Python-shell job).

Its implementation is imported at module level on purpose: the Glue lister runs this command on Python 3.9, and
the tests check the module-level import closure of the command modules with ``vermin``. Keep every import here
Python 3.9-compatible and free of pyspark/pyarrow.

A prefix outside the raw prefix (``''``, an unset variable, ``raw-json-data`` without its slash) is a usage error
(exit 2, nothing registered). While another lister runs, this one waits up to ``--wait-seconds``, then says so in
one line and exits 0 without listing: the running lister is doing the work, and on Glue a non-zero exit would
mark the run FAILED, mail the failure and make the workflow skip the processor, which can drain what the running
lister registers. The skipped run publishes no lister figures, so a lister that holds the lock too long still
trips the lister heartbeat alarm.

``--from-inventory MANIFEST`` registers from an S3 Inventory report instead of listing
(:mod:`runtime.jobs.inventory`, which needs pyarrow: imported only then); ``--parallelism N`` lists disjoint key
ranges with N threads (:mod:`runtime.jobs.parallel_listing`), spread over ``--listing-processes`` processes
(:mod:`runtime.jobs.listing_processes`). ``--inventory-location URL`` (the scheduled lister
of ``discovery_mode`` inventory and events) registers from the newest complete report there when it is newer than
the last one registered, and lists only when no report can be trusted or the last listing is older than
``--full-listing-hours`` (:mod:`runtime.jobs.scheduled_discovery`).

Keys listed but not registered are reported by reason after the summary line (one line each, with up to five of the
keys and what to do; ``--json``: ``ignored`` and ``ignored_examples``) and published as ``FilesIgnored``.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

from platform_contract import defaults
from platform_contract.discovery import DEFAULT_FULL_LISTING_HOURS
from runtime.commands.common import connect_database, credentials_from_args, emit, open_database
from runtime.commands.list_from_queue import add_queue_options, run_from_queue
from runtime.commands.options import add_job_options, layout_from_args, non_negative_int, positive_int
from runtime.errors import UsageError
from runtime.jobs.lister import (
    ListerBusy,
    ListingSummary,
    RegistrationCounts,
    check_prefixes,
    ignored_lines,
    run_lister,
)
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
    parser.add_argument("--parallelism", type=positive_int, default=defaults.LISTER_PARALLELISM, metavar="N",
                        help="threads listing disjoint key ranges of each prefix at once; 1: one paginator "
                        "(default %(default)s)")
    parser.add_argument("--listing-processes", type=positive_int, metavar="N",
                        help="processes the --parallelism threads are spread over (each lists with its own "
                        "interpreter); 1: threads of this process only (default: usable CPUs, at most one per "
                        f"{defaults.LISTER_THREADS_PER_PROCESS} threads; docs/tuning.md)")
    parser.add_argument("--from-inventory", metavar="MANIFEST",
                        help="register from an S3 Inventory report (s3://…/manifest.json or a local path; Parquet) "
                        "instead of listing the store")
    parser.add_argument("--inventory-location", metavar="URL",
                        help="scheduled discovery: register from the newest complete S3 Inventory report under URL "
                        "(s3://bucket/<dest-prefix>/<bucket>/<config-id>/ or a local directory) when it is newer than "
                        "the last one registered; list only as the safety net (docs/discovery.md)")
    parser.add_argument("--full-listing-hours", type=non_negative_int, default=DEFAULT_FULL_LISTING_HOURS,
                        metavar="H", help="with --inventory-location: list the whole prefix when the last listing "
                        "is older than H hours; 0: on every run that registers no report (default %(default)s)")
    parser.add_argument("--wait-seconds", type=non_negative_int, default=0, metavar="S",
                        help="while another lister runs, wait up to S seconds for it, then exit 0 without listing "
                        "(default %(default)s)")
    add_queue_options(parser)  # --from-queue (issue 21): runtime/commands/list_from_queue.py
    parser.set_defaults(handler=run)


def requested_prefixes(args: argparse.Namespace) -> list[str] | None:
    """The prefixes of ``--prefix`` and ``--prefixes``, or ``None`` when neither is given (the reference prefixes).
    An empty one (an unset variable) is kept, so that it is refused like any prefix outside the raw prefix."""
    if args.prefixes is None and args.prefix_list is None:
        return None
    prefixes = list(args.prefixes or [])
    if args.prefix_list is not None:
        entries = [entry.strip() for entry in args.prefix_list.split(",")]
        if not all(entries):
            raise UsageError(f"--prefixes {args.prefix_list!r} has an empty entry (an unset variable?): each entry "
                             "must lie under the raw prefix; nothing was registered")
        prefixes += entries
    return prefixes


def run(args: argparse.Namespace) -> int:
    """List the prefixes, register what is new or changed, publish the lister's metrics. Another lister running:
    one line, exit 0, nothing listed (see the module docstring)."""
    layout = layout_from_args(args)
    prefixes = check_prefixes(requested_prefixes(args), layout)  # refused before any connection is opened
    if args.from_queue:
        return run_from_queue(args, prefixes)
    if args.from_inventory and args.inventory_location:
        raise UsageError("give --from-inventory (one report) or --inventory-location (the newest report), not both")
    store = open_store(args.store)
    credentials = credentials_from_args(args)
    conn = open_database(credentials, application_name="mldp-lister")
    connect = partial(connect_database, credentials, application_name="mldp-lister")  # a report's extra writers
    publisher = publisher_from_args(args)
    started = time.monotonic()
    try:
        try:
            extra: dict = {}
            if args.from_inventory:
                from runtime.jobs.inventory import register_inventory  # pyarrow: imported only for a report

                summary, stats = register_inventory(store, conn, args.from_inventory, prefixes or None,
                                                    chunk_size=args.chunk_size, layout=layout,
                                                    wait_seconds=args.wait_seconds, connect=connect)
                extra = stats.as_dict()
            elif args.inventory_location:
                from runtime.jobs.scheduled_discovery import run_scheduled_discovery

                summary, extra = run_scheduled_discovery(
                    store, conn, args.inventory_location, full_listing_hours=args.full_listing_hours,
                    prefixes=prefixes or None, chunk_size=args.chunk_size, layout=layout,
                    wait_seconds=args.wait_seconds, parallelism=args.parallelism, connect=connect,
                    processes=args.listing_processes)
            else:
                summary = run_lister(store, conn, prefixes or None, chunk_size=args.chunk_size, layout=layout,
                                     wait_seconds=args.wait_seconds, parallelism=args.parallelism,
                                     processes=args.listing_processes)
            figures = lister_figures(summary)
        except ListerBusy as busy:
            extra = {}
            summary = ListingSummary(RegistrationCounts(), time.monotonic() - started, prefixes, skipped=str(busy))
            figures = {}  # no lister heartbeat: a lister that holds the lock for too long is still alarmed on
        publisher.publish({**figures, **backlog_gauges(conn)})
    finally:
        publisher.report_failures()  # the run's failed publications, one warning, in the run's own log
        conn.close()
    emit({**summary.as_dict(), **extra}, args.json, lambda d: _human(d, layout.raw_prefix))
    return 0


def _human(d: dict, raw_prefix: str) -> str:
    """The report of a listing (or of a skipped one): one line, then one line per reason keys were ignored."""
    if d["skipped"]:
        return f"skipped: {d['skipped']}"
    if d.get("discovery") == "none":
        return f"nothing to register: {d['discovery_reason']}"
    extra = "".join(f", {d[key]:,} {key}" for key in ("stale", "deferred") if d[key])
    ignored = sum(d["ignored"].values())
    extra += f", {ignored:,} ignored" if ignored else ""
    line = (f"listed {d['listed']:,} files: {d['new']:,} new, {d['changed']:,} changed, "
            f"{d['unchanged']:,} unchanged{extra} ({d['seconds']}s)")
    why = [f"{d['discovery']}: {d['discovery_reason']}"] if d.get("discovery_reason") else []
    return "\n".join([*why, line, *ignored_lines(d["ignored"], d["ignored_examples"], raw_prefix)])
