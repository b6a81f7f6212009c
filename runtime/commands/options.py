"""The options several ``mldp`` commands share, each defined once: ``--db``, ``--json``, the job options of the
lister and the processor (the same locally and on Glue) and the bucket layout. Defaults come from
:mod:`platform_contract.defaults` and ``--help`` shows them. Python 3.9-compatible: the Glue Python-shell lister
imports it.
"""

from __future__ import annotations

import argparse

from platform_contract import defaults
from platform_contract.table import DEFAULT_TABLE_FORMAT, TABLE_FORMATS
from runtime.commands.common import user_input
from runtime.layout import PREFIX_OPTIONS, Layout

#: The largest value a counting option takes (rows to show, files per batch, a limit, lease seconds):
#: PostgreSQL's INTEGER, so no value a user types overflows a query parameter (it is refused in one line).
MAX_COUNT = 2_147_483_647


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db URL``: the tracking database (else ``$DATABASE_URL``, else the embedded server)."""
    parser.add_argument("--db", metavar="URL", help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json``: print the command's result as one JSON document."""
    parser.add_argument("--json", action="store_true", help="print the result as one JSON document")


def add_layout_options(parser: argparse._ActionsContainer, *, defaults_from: Layout | None = None,
                       metavar: str | None = None, help_text: str = "bucket layout (default %(default)s)") -> None:
    """``--raw-prefix`` ... ``--dead-letter-prefix`` (dest: the :class:`Layout` field), defaulting to the fields
    of ``defaults_from`` (``None``: no default, the command resolves the layout itself)."""
    for field_name, option in PREFIX_OPTIONS.items():
        default = getattr(defaults_from, field_name) if defaults_from is not None else None
        parser.add_argument(f"--{option}", dest=field_name, default=default, metavar=metavar, help=help_text)


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """Options every job (lister, processor) takes, locally and on Glue."""
    parser.add_argument("--store", required=True, help="s3://bucket or a local directory")
    add_db_option(parser)
    parser.add_argument("--db-secret-arn", metavar="ARN",
                        help="Secrets Manager secret of the database, used when --db and $DATABASE_URL are not "
                             "given (default: none; the Glue jobs pass it)")
    parser.add_argument("--db-host", metavar="HOST",
                        help="the RDS endpoint: connect with an RDS IAM token per connection as --db-iam-user, "
                             "reading no secret; without --db-secret-arn nothing is migrated, the schema is "
                             "checked (exit status 3 when a migration is pending) (default: none; the Glue jobs "
                             "pass it)")
    parser.add_argument("--db-port", type=positive_int, metavar="PORT", help="with --db-host (default 5432)")
    parser.add_argument("--db-name", metavar="NAME", help="with --db-host: the database (default data_platform_db)")
    parser.add_argument("--db-iam-user", metavar="USER",
                        help="with --db-host or --db-secret-arn: connect as USER with an RDS IAM token generated "
                             "for every connection (the secret's own user, the owner, runs the migrations) "
                             "(default: mldp_app with --db-host, else the secret's user)")
    parser.add_argument("--db-ca-bundle", metavar="PATH_OR_S3_URL",
                        help="with --db-host or --db-secret-arn: the RDS CA bundle (a path or s3:// URL) the "
                             "server's certificate is verified with (sslmode=verify-full); a bundle missing or not "
                             "a bundle is an error (default: 'packaged', the bundle shipped in the runtime)")
    parser.add_argument("--job-run-id", help="run id recorded with each outcome (default: local-<12 hex digits>; "
                                             "Glue passes JOB_RUN_ID)")
    parser.add_argument("--environment", default=defaults.LOCAL_ENVIRONMENT,
                        help="metrics dimension value (default %(default)s)")
    parser.add_argument("--metrics-namespace", default=defaults.METRICS_NAMESPACE,
                        help="CloudWatch namespace (default %(default)s)")
    parser.add_argument("--no-metrics", action="store_true", help="write metrics to the log only")
    add_layout_options(parser, defaults_from=Layout())
    add_json_option(parser)


def add_table_options(parser: argparse.ArgumentParser) -> None:
    """``--table-format parquet|iceberg`` and, for the Glue Data Catalog, where the Iceberg table is."""
    parser.add_argument("--table-format", choices=TABLE_FORMATS, default=DEFAULT_TABLE_FORMAT,
                        help="the curated output: loose Parquet files under the curated prefix, or an Apache "
                             "Iceberg table (one atomic commit per batch; docs/iceberg.md) (default %(default)s)")
    add_iceberg_location_options(parser)


def add_iceberg_location_options(parser: argparse.ArgumentParser) -> None:
    """``--iceberg-database``, ``--iceberg-table``, ``--iceberg-warehouse``: where the Iceberg table is."""
    parser.add_argument("--iceberg-database", metavar="NAME",
                        help="the Glue database of the Iceberg table: the Glue Data Catalog is its catalog (default: "
                             "none, a SqlCatalog in the tracking database, schema iceberg_catalog)")
    parser.add_argument("--iceberg-table", metavar="NAME", help="the Iceberg table's name (default json_parsed)")
    parser.add_argument("--iceberg-warehouse", metavar="URI",
                        help="the Iceberg warehouse (default: the store's curated-data-lake/iceberg/)")


def layout_from_args(args: argparse.Namespace) -> Layout:
    """The bucket layout named by a job's ``--raw-prefix`` ... options (the reference layout by default); a prefix
    that is not a key prefix is a :class:`~runtime.errors.UsageError`."""
    with user_input():
        return Layout(**{name: getattr(args, name) for name in PREFIX_OPTIONS})


def positive_int(text: str) -> int:
    """``type=`` of an option that counts something (batch size, attempts, ...): an integer from 1 to
    :data:`MAX_COUNT`."""
    return _int_in_range(text, 1)


def non_negative_int(text: str) -> int:
    """``type=`` of an option that may be 0 (a lease of 0 seconds, 0 rows to show): an integer from 0 to
    :data:`MAX_COUNT`."""
    return _int_in_range(text, 0)


def _int_in_range(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be an integer from {minimum} to {MAX_COUNT:,}, got {text!r}")
    return value


def add_examples(sub: argparse._SubParsersAction) -> None:
    """Give every command of ``sub`` with an entry in :data:`EXAMPLES` an ``examples:`` section at the end of its
    ``--help`` (a command that sets its own epilog keeps it). Descriptions and epilogs are shown as written."""
    for name, parser in sub.choices.items():
        examples = EXAMPLES.get(name)
        if examples and parser.epilog is None:
            lines = [f"  {command}\n      {what}" for command, what in examples]
            parser.epilog = "examples:\n" + "\n".join(lines)
            parser.formatter_class = argparse.RawDescriptionHelpFormatter


#: ``mldp COMMAND --help`` examples, (command line, what it does) per command; the tests parse every one with the
#: real parser, so an example never shows an option or value the command refuses.
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "db": (
        ("mldp db start", "create (first time) and start the embedded server, print its URL"),
        ("mldp db status", "running or stopped, its URL and data folder (exit status 3 when stopped)"),
        ("mldp db url", "the URL commands use without --db, e.g. psql \"$(mldp db url)\""),
        ("mldp db stop", "stop it; its data stays in .mldp/postgres"),
    ),
    "migrate": (
        ("mldp migrate", "migrate the embedded server's database (every job also does it at start)"),
        ("mldp migrate --db postgresql://admin@db.example.com:5432/data_platform_db", "migrate another database"),
    ),
    "list": (
        ("mldp list --store .mldp/demo/bucket", "register the raw files of a local directory"),
        ("mldp list --store s3://my-raw-bucket --prefix raw-json-data/2024/week05/ --json",
         "register one weekly drop of a bucket, print the counts as JSON"),
    ),
    "process": (
        ("mldp process --store .mldp/demo/bucket --drain", "convert batches until nothing is claimable"),
        ("mldp process --store s3://my-raw-bucket --drain --max-minutes 12 --batch-size 500",
         "a scheduled run: at most 12 minutes, 500 files per batch"),
        ("mldp process --store .mldp/demo/bucket --transform-spec my_spec.yaml",
         "one batch with your own columns and partitions"),
    ),
    "demo": (
        ("mldp demo", "the whole pipeline on generated data (make demo), into the embedded server's database"),
        ("mldp demo --files 200 --records-per-file 1000 --batch-size 50", "a bigger sample, more batches"),
        ("mldp demo --workdir /tmp/mldp-demo --db postgresql://postgres@127.0.0.1:54329/mldp_demo",
         "its own folder and database (a database on the embedded server is created if missing)"),
    ),
    "inspect": (
        ("mldp inspect raw-json-data/2024/week02/part-0002.jsonl", "the file's versions, attempts, batches, errors"),
        ("mldp inspect raw-json-data/2024/week02/part-0002.jsonl --store .mldp/demo/bucket "
         "--curated-under year=2024/month=1/day=1/",
         "also list its curated Parquet files under one partition (numbers unpadded: month=1)"),
        ("mldp inspect s3://my-raw-bucket/raw-json-data/2024/week05/part-0001.jsonl --json",
         "a key given as its s3:// URL, as JSON"),
    ),
    "status": (
        ("mldp status", "files by state, backlog, throughput, time to drain, last batches, top errors"),
        ("mldp status --batches 3 --errors 5", "fewer rows (--errors 0 leaves the error list out)"),
        ("mldp status --json", "the same report as one JSON document"),
        ("mldp status --db postgresql://ops@db.example.com:5432/data_platform_db", "the report of another database"),
    ),
    "recover": (
        ("mldp recover 9a1a7e29 --reason \"run killed by OOM\"",
         "hand the batch of a gone run to the next processor run (refused while its owner may be running)"),
        ("mldp recover 9a1a7e29 --reason \"manifest fixed by hand\" --store s3://my-raw-bucket",
         "recover a batch held after failed recoveries right here: roll it forward or abandon it"),
        ("mldp recover 9a1a7e29 --reason \"host lost, its process cannot be checked\" --force --actor alice",
         "take over a batch whose owner cannot be proved gone"),
    ),
    "requeue": (
        ("mldp requeue --error-contains \"no good record\" --reason \"parser fixed in v1.3\" --dry-run",
         "show which files a requeue would move, change nothing"),
        ("mldp requeue --state FAILED --since 24h --reason \"S3 outage over\"",
         "files that FAILED in the last 24 hours back to PENDING"),
        ("mldp requeue --state QUARANTINED --prefix raw-json-data/2024/week05/ --limit 100 --reason \"re-uploaded\"",
         "at most 100 QUARANTINED files of one drop"),
    ),
    "release": (
        ("mldp release raw-json-data/2024/week01/part-0001.jsonl --reason \"re-uploaded\" --dry-run",
         "show what releasing the file would change"),
        ("mldp release raw-json-data/2024/week01/part-0001.jsonl raw-json-data/2024/week03/part-0003.jsonl "
         "--reason \"checked by hand\"", "both files back to PENDING, or neither"),
    ),
}
