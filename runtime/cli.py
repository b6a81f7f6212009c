"""``mldp``: the command-line interface of the runtime (local mode, operators, and the Glue entry scripts)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Callable

from runtime.db.connection import DatabaseUnavailable
from runtime.db.embedded import EmbeddedPostgresError
from runtime.jobs.lister import DEFAULT_CHUNK_SIZE
from runtime.layout import PREFIX_OPTIONS, Layout
from runtime.storage.base import ObjectStoreError

log = logging.getLogger("mldp")

#: Errors that end a command with one clear line on stderr and exit status 2 (no traceback).
USER_FACING_ERRORS = (DatabaseUnavailable, EmbeddedPostgresError, ObjectStoreError, ValueError, FileNotFoundError)


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server)")


def _add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """Options every job (lister, processor) takes, locally and on Glue."""
    parser.add_argument("--store", required=True, help="s3://bucket or a local directory")
    _add_db_option(parser)
    parser.add_argument("--db-secret-arn", help="Secrets Manager secret of the database (Glue)")
    parser.add_argument("--job-run-id", help="run id recorded with each outcome (Glue passes JOB_RUN_ID)")
    parser.add_argument("--environment", default="local", help="metrics dimension value")
    parser.add_argument("--metrics-namespace", default=None, help="CloudWatch namespace (default MlDataPlatform)")
    parser.add_argument("--no-metrics", action="store_true", help="write metrics to the log only")
    defaults = Layout()
    for field_name, option in PREFIX_OPTIONS.items():
        parser.add_argument(f"--{option}", dest=field_name, default=getattr(defaults, field_name),
                            help=f"bucket layout (default {getattr(defaults, field_name)})")
    _add_json_option(parser)


def layout_from_args(args: argparse.Namespace) -> Layout:
    """The bucket layout named by a job's ``--raw-prefix`` ... options (the reference layout by default)."""
    return Layout(**{name: getattr(args, name) for name in PREFIX_OPTIONS})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mldp", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="manage the embedded PostgreSQL server")
    db.add_argument("action", choices=["start", "stop", "status", "url"])

    migrate = sub.add_parser("migrate", help="apply the tracking-schema migrations")
    _add_db_option(migrate)

    lister = sub.add_parser("list", help="FileListerAndDbPopulator: register raw files in the tracking table")
    add_job_options(lister)
    lister.add_argument("--prefix", action="append", dest="prefixes", metavar="P",
                        help="prefix to list (repeatable; default: the reference raw prefixes)")
    lister.add_argument("--prefixes", dest="prefix_list", metavar="A,B",
                        help="comma-separated prefixes (the Glue job argument form)")
    lister.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="keys registered per transaction")

    from runtime.commands import register_commands

    register_commands(sub, _add_db_option, _add_json_option)
    return parser


def _cmd_db(args: argparse.Namespace) -> int:
    from runtime.db.embedded import default_server

    server = default_server()
    if args.action == "start":
        print(server.start())
    elif args.action == "stop":
        print("stopped" if server.stop() else "not running")
    elif args.action == "status":
        running = server.is_running()
        print(f"{'running' if running else 'stopped'}: {server.url} (data in {server.data_dir})")
        return 0 if running else 3
    else:
        print(server.url)
    return 0


def open_database(db_url: str | None, secret_arn: str | None = None, application_name: str = "mldp"):
    """Resolve, connect and migrate: every job and command starts here."""
    from runtime.db.connection import connect, resolve_database_url
    from runtime.db.migrations import apply_migrations

    conn = connect(resolve_database_url(db_url, secret_arn), application_name=application_name)
    apply_migrations(conn)
    return conn


def _cmd_migrate(args: argparse.Namespace) -> int:
    from runtime.db.connection import connect, resolve_database_url
    from runtime.db.migrations import apply_migrations

    conn = connect(resolve_database_url(args.db))
    try:
        applied = apply_migrations(conn)
    finally:
        conn.close()
    print(f"applied migrations: {applied}" if applied else "schema is up to date")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from runtime.jobs.lister import run_lister
    from runtime.metrics import backlog_gauges, lister_figures, publisher_from_args
    from runtime.storage.factory import open_store

    prefixes = list(args.prefixes or []) + [p for p in (args.prefix_list or "").split(",") if p.strip()]
    store = open_store(args.store)
    conn = open_database(args.db, args.db_secret_arn, application_name="mldp-lister")
    try:
        summary = run_lister(store, conn, prefixes or None, chunk_size=args.chunk_size,
                             layout=layout_from_args(args))
        publisher_from_args(args).publish({**lister_figures(summary), **backlog_gauges(conn)})
    finally:
        conn.close()
    emit(summary.as_dict(), args.json, lambda d: (
        f"listed {d['listed']:,} files: {d['new']:,} new, {d['changed']:,} changed, "
        f"{d['unchanged']:,} unchanged ({d['seconds']}s)"))
    return 0


def emit(data: dict, as_json: bool, human: Callable[[dict], str]) -> None:
    """Print ``data`` as one JSON document or as the human text ``human(data)``."""
    print(json.dumps(data, default=str) if as_json else human(data))


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "db": _cmd_db,
    "migrate": _cmd_migrate,
    "list": _cmd_list,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    handler = COMMANDS.get(args.command) or args.handler
    try:
        return handler(args)
    except USER_FACING_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
