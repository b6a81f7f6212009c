"""``mldp process``: JsonToParquetBatchProcessor (one batch, or ``--drain`` until the backlog is empty)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from platform_contract import defaults
from runtime import metrics as m
from runtime.commands.common import credentials_from_args, emit, open_database
from runtime.commands.options import (
    add_job_options,
    add_table_options,
    layout_from_args,
    non_negative_int,
    positive_int,
)
from runtime.errors import RunStopped
from runtime.operator.summary import summarize

if TYPE_CHECKING:
    from runtime.transforms.model import TransformSpec


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp process``."""
    parser = sub.add_parser("process", help="JsonToParquetBatchProcessor: convert claimed batches to Parquet",
                            description="JsonToParquetBatchProcessor: finish or recover what earlier runs left, then "
                                        "claim a batch of PENDING\n(and due FAILED) files, convert it to Parquet, "
                                        "publish, record the outcomes and archive the raw files;\none batch, or "
                                        "with --drain until nothing is claimable.")
    add_job_options(parser)
    parser.add_argument("--batch-size", type=positive_int, default=defaults.BATCH_SIZE,
                        help="files per batch (default %(default)s)")
    parser.add_argument("--drain", action="store_true",
                        help="repeat until nothing is claimable (default: process one batch)")
    parser.add_argument("--max-minutes", type=float, default=None, metavar="M",
                        help="time budget of --drain (default: none, drain until nothing is claimable)")
    parser.add_argument("--max-attempts", type=attempts, default=defaults.MAX_ATTEMPTS,
                        help=f"attempts before a file is quarantined, 1 to {defaults.MAX_ATTEMPTS_LIMIT} "
                             "(default %(default)s)")
    parser.add_argument("--lease-seconds", type=lease_seconds, default=defaults.LEASE_SECONDS,
                        help="seconds a claimed batch is owned before another run may recover it, at least "
                             f"{defaults.MIN_LEASE_SECONDS}: the heartbeat renews it every fifth of it "
                             "(default %(default)s)")
    parser.add_argument("--transform-spec", metavar="FILE", help="transform spec (JSON or YAML; s3:// on Glue; "
                                                                "default: the packaged default spec)")
    add_table_options(parser)
    parser.set_defaults(handler=run)


def table_from_args(args: argparse.Namespace, store: Any, credentials: Any, spec: Any) -> Any:
    """The Iceberg table of ``--table-format iceberg`` (``None`` for Parquet): in the Glue Data Catalog with
    ``--iceberg-database``, else a SqlCatalog in the tracking database. Opened here, before anything is claimed: a
    catalog that cannot be opened stops the run (exit status 3) before a batch is converted for nothing. The
    SqlCatalog is refused to the application role (``--db-host``: IAM tokens as ``mldp_app``), which may not
    create its schema and whose single token the catalog's engine would keep: on AWS the Glue Data Catalog is the
    catalog."""
    from platform_contract.table import ICEBERG

    if getattr(args, "table_format", None) != ICEBERG:
        return None
    from runtime.table.catalog import TableUnavailable, table_location
    from runtime.table.commit import IcebergTable

    refuse_local_catalog_as_app(args)
    database_url = None if args.iceberg_database else credentials.connection_url()
    location = table_location(store, database_url, args.iceberg_database, args.iceberg_table,
                              args.iceberg_warehouse)
    table = IcebergTable(location, spec.partition_names)
    try:
        table.load()  # the catalog opened, the table read if it exists (created by the first batch otherwise)
    except TableUnavailable:
        raise
    except Exception as exc:
        raise TableUnavailable(f"the Iceberg table {location.name} cannot be opened: {type(exc).__name__}: "
                               f"{(str(exc).splitlines() or [''])[0][:300]}") from exc
    return table


def refuse_local_catalog_as_app(args: argparse.Namespace) -> None:
    """Raise :class:`~runtime.table.catalog.TableUnavailable` (exit status 3) for ``--table-format iceberg`` with
    ``--db-host`` (the application role, IAM tokens) and no ``--iceberg-database``: that role may not open the
    local catalog in the tracking database (it cannot create its schema; the catalog's engine would keep one
    15-minute token). Checked first, before anything is claimed."""
    from platform_contract.table import ICEBERG
    from runtime.table.catalog import TableUnavailable

    if getattr(args, "table_format", None) == ICEBERG and not args.iceberg_database and getattr(args, "db_host",
                                                                                                 None):
        raise TableUnavailable("--table-format iceberg with --db-host (the application role) needs "
                               "--iceberg-database: the local catalog in the tracking database is for local runs, "
                               "the Glue Data Catalog is the catalog on AWS")


def lease_seconds(text: str) -> int:
    """``type=`` of ``--lease-seconds``: an integer of at least :data:`platform_contract.defaults.MIN_LEASE_SECONDS`."""
    from runtime.jobs.settings import lease_too_short

    value = non_negative_int(text)
    if value < defaults.MIN_LEASE_SECONDS:
        raise argparse.ArgumentTypeError(lease_too_short(value).replace("lease-seconds ", "", 1))
    return value


def attempts(text: str) -> int:
    """``type=`` of ``--max-attempts``: an integer from 1 to :data:`platform_contract.defaults.MAX_ATTEMPTS_LIMIT`."""
    value = positive_int(text)
    if value > defaults.MAX_ATTEMPTS_LIMIT:
        raise argparse.ArgumentTypeError(f"must be at most {defaults.MAX_ATTEMPTS_LIMIT}, got {text!r}")
    return value


def batch_figures(report: Any) -> dict[str, float]:
    """Metric values of one batch (a :class:`BatchReport` of the processor)."""
    from runtime.db.states import FileState

    return {
        m.FILES_SUCCEEDED: report.files.get(FileState.SUCCEEDED, 0),
        m.FILES_FAILED: report.files.get(FileState.FAILED, 0),
        m.FILES_QUARANTINED: report.files.get(FileState.QUARANTINED, 0),
        m.RECORDS_GOOD: report.records_good,
        m.RECORDS_DEAD_LETTERED: report.records_bad,
        m.RECORDS_WITH_RESCUED_DATA: report.records_rescued,
        m.BYTES_PROCESSED: report.bytes,
        m.BATCH_DURATION_SECONDS: report.seconds,
    }


def load_spec_from(location: str | None) -> TransformSpec:
    """The transform spec: default, a local file, or an ``s3://bucket/key`` object (Glue)."""
    from runtime.transforms.spec import load_spec

    if location and location.startswith("s3://"):
        import tempfile
        from pathlib import Path

        from runtime.storage.factory import open_store

        bucket, _, key = location[len("s3://"):].partition("/")
        data = open_store(f"s3://{bucket}").get_bytes(key)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(key).name
            path.write_bytes(data)
            return load_spec(str(path))
    return load_spec(location)


def run(args: argparse.Namespace) -> int:
    """Process one batch (after recovering expired ones), or every claimable batch with ``--drain``."""
    from runtime.db.connection import connect
    from runtime.jobs.processor import BatchProcessor, ProcessorSettings
    from runtime.progress import Progress
    from runtime.storage.factory import open_store
    from runtime.storage.sdk_check import check_store

    refuse_local_catalog_as_app(args)  # before anything is opened or claimed
    settings_kwargs = {"batch_size": args.batch_size, "max_attempts": args.max_attempts,
                       "lease_seconds": args.lease_seconds}
    if args.job_run_id:
        settings_kwargs["job_run_id"] = args.job_run_id
    settings = ProcessorSettings(**settings_kwargs)
    spec = load_spec_from(args.transform_spec)
    store = open_store(args.store)
    check_store(store, settings.archive)  # an SDK that cannot send the archive's deletes stops the run here
    publisher = m.publisher_from_args(args)
    credentials = credentials_from_args(args)  # asked afresh for every connection, the heartbeat's reconnects too
    conn = open_database(credentials, application_name="mldp-processor")
    table = table_from_args(args, store, credentials, spec)
    started = time.monotonic()
    processor = None
    try:
        def spark() -> Any:
            from runtime.spark.session import get_spark

            return get_spark("JsonToParquetBatchProcessor")

        processor = BatchProcessor(store, conn, spark, spec, settings, layout_from_args(args),
                                   heartbeat_connect=lambda: connect(credentials, application_name="mldp-lease"),
                                   handle_signals=True, table=table)
        progress = Progress("processing", unit="files", total=_backlog(conn) if args.drain else None)

        def on_batch(report: Any) -> None:
            publisher.publish({**batch_figures(report), **m.backlog_gauges(conn)})
            finished = sum(n for state, n in report.files.items() if state != "PENDING")  # given-back files wait
            progress.advance(finished, good=report.records_good, bad=report.records_bad)

        if args.drain:
            reports = processor.drain(args.max_minutes, on_batch=on_batch)
        else:
            reports = processor.run_once()
            for report in reports:
                on_batch(report)
        progress.finish()
        if not reports:
            publisher.publish(m.backlog_gauges(conn))
    except RunStopped as stopped:  # no file's fault, no file charged: one line, and a failed run for Glue
        print(f"error: {stopped}", file=sys.stderr)
        return stopped.exit_status
    finally:
        try:
            if processor is not None:  # every run, 0 included: a failed delete is a counted outcome
                publisher.publish(m.archive_figures(processor.archive_counts))
            if table is not None:  # every Iceberg run, 0 included: the commit-failure alarm sees every run
                publisher.publish(m.table_figures(table.counts))
        finally:
            publisher.report_failures()  # the run's failed publications, one warning, in the run's own log
            conn.close()
    summary = summarize(reports, time.monotonic() - started)
    emit(summary, args.json, lambda d: (
        f"{d['batches']} batches: files {d['files']}, {d['records_good']:,} records written, "
        f"{d['records_bad']:,} dead-lettered, {d['partitions_written']} partitions ({d['seconds']}s)"))
    return processor.exit_status  # 130 / 143 after a clean stop on SIGINT / SIGTERM


def _backlog(conn: Any) -> int:
    return int(m.backlog_gauges(conn)[m.BACKLOG_FILES])
