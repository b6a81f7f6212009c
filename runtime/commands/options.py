"""The options several ``mldp`` commands share, each defined once: ``--db``, ``--json``, the job options of the
lister and the processor (the same locally and on Glue) and the bucket layout. Defaults come from
:mod:`runtime.defaults` and ``--help`` shows them. Python 3.9-compatible: the Glue Python-shell lister imports it.
"""

from __future__ import annotations

import argparse

from runtime import defaults
from runtime.commands.common import user_input
from runtime.layout import PREFIX_OPTIONS, Layout


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db URL``: the tracking database (else ``$DATABASE_URL``, else the embedded server)."""
    parser.add_argument("--db", metavar="URL", help="PostgreSQL URL (default: $DATABASE_URL, else the embedded server)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json``: print the command's result as one JSON document."""
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


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
    parser.add_argument("--db-secret-arn", help="Secrets Manager secret of the database (Glue)")
    parser.add_argument("--job-run-id", help="run id recorded with each outcome (Glue passes JOB_RUN_ID)")
    parser.add_argument("--environment", default=defaults.LOCAL_ENVIRONMENT,
                        help="metrics dimension value (default %(default)s)")
    parser.add_argument("--metrics-namespace", default=defaults.METRICS_NAMESPACE,
                        help="CloudWatch namespace (default %(default)s)")
    parser.add_argument("--no-metrics", action="store_true", help="write metrics to the log only")
    add_layout_options(parser, defaults_from=Layout())
    add_json_option(parser)


def layout_from_args(args: argparse.Namespace) -> Layout:
    """The bucket layout named by a job's ``--raw-prefix`` ... options (the reference layout by default); a prefix
    that is not a key prefix is a :class:`~runtime.errors.UsageError`."""
    with user_input():
        return Layout(**{name: getattr(args, name) for name in PREFIX_OPTIONS})


def positive_int(text: str) -> int:
    """``type=`` of an option that counts something (batch size, attempts, ...): an integer of at least 1."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """``type=`` of an option that may be 0 (a lease of 0 seconds, 0 rows to show): an integer of at least 0."""
    return _int_at_least(text, 0, "an integer >= 0")


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value
