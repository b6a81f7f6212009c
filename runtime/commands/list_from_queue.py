"""``mldp list --from-queue URL``: drain an SQS queue of S3 "Object Created" events (EventBridge) and register
their keys with the lister's rules (:mod:`runtime.jobs.events`). Locally against moto's SQS (``AWS_ENDPOINT_URL``),
on AWS as the scheduled Glue Python-shell job ``FileEventConsumer`` (docs/discovery.md).

Not a command of its own: options of ``mldp list`` (registered by :func:`add_queue_options`), run by
:func:`run_from_queue` when ``--from-queue`` is given. Module-level imports stay Python 3.9-clean and free of
pyspark/pyarrow (the Glue Python-shell job imports this module)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from runtime.commands.common import credentials_from_args, emit, open_database
from runtime.commands.options import layout_from_args, non_negative_int, positive_int
from runtime.db.registration import ListerBusy

__all__ = ["add_queue_options", "queue_region", "run_from_queue"]


def add_queue_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--from-queue`` and its tuning options to ``mldp list``."""
    group = parser.add_argument_group("event-driven registration (--from-queue)")
    group.add_argument("--from-queue", metavar="URL",
                       help="drain this SQS queue of S3 Object Created events (EventBridge) instead of listing: "
                       "register each event's key as a listing would, delete messages after the commit")
    group.add_argument("--max-seconds", type=positive_int, default=600, metavar="S",
                       help="with --from-queue: stop after S seconds even if messages remain (default %(default)s)")
    group.add_argument("--poll-seconds", type=non_negative_int, default=20, metavar="S",
                       help="with --from-queue: long-poll wait of each receive, 0-20; the drain stops at the first "
                       "empty one (default %(default)s)")
    group.add_argument("--chunk-messages", type=positive_int, default=1000, metavar="N",
                       help="with --from-queue: messages registered per transaction (default %(default)s)")


def queue_region(url: str) -> str | None:
    """The region of an SQS queue URL (``https://sqs.<region>.amazonaws.com/...``), or ``None``."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    return parts[1] if len(parts) > 3 and parts[0] == "sqs" else None


def _sqs_client(url: str) -> Any:
    import boto3  # only a drain needs it

    return boto3.client("sqs", region_name=queue_region(url))


def run_from_queue(args: argparse.Namespace, prefixes: list[str]) -> int:
    """Drain ``--from-queue`` into the tracking table and print the summary; another lister running: one line,
    exit 0, nothing drained (the messages wait in the queue)."""
    from runtime.jobs.events import EventDrainSummary, drain_queue
    from runtime.metrics import backlog_gauges, publisher_from_args
    from runtime.storage.factory import open_store

    layout = layout_from_args(args)
    store = open_store(args.store)
    bucket = args.store[len("s3://"):].split("/", 1)[0] if args.store.startswith("s3://") else None
    conn = open_database(credentials_from_args(args), application_name="mldp-event-consumer")
    started = time.monotonic()
    try:
        try:
            summary = drain_queue(_sqs_client(args.from_queue), args.from_queue, store, conn, bucket=bucket,
                                  prefixes=prefixes or None, layout=layout, max_seconds=args.max_seconds,
                                  chunk_messages=args.chunk_messages, poll_seconds=min(args.poll_seconds, 20),
                                  wait_seconds=args.wait_seconds)
        except ListerBusy as busy:
            summary = EventDrainSummary(seconds=time.monotonic() - started, skipped=str(busy))
        publisher_from_args(args).publish(backlog_gauges(conn))
    finally:
        conn.close()
    emit(summary.as_dict(), args.json, _human)
    return 0


def _human(d: dict) -> str:
    """One line: what the drain received, registered, ignored and left."""
    if d["skipped"]:
        return f"skipped: {d['skipped']}"
    ignored = ", ".join(f"{n:,} {reason}" for reason, n in d["ignored"].items() if n)
    return (f"drained {d['messages']:,} messages: {d['new']:,} new, {d['changed']:,} changed, "
            f"{d['unchanged']:,} unchanged, {d['malformed']:,} malformed (left for the dead-letter queue)"
            + (f", ignored: {ignored}" if ignored else "") + f" ({d['seconds']}s)")
