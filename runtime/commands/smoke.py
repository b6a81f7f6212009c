"""``mldp smoke``: the step after ``cdk deploy``: run both Glue jobs on a few files of its own and check the result.

This module is imported by every ``mldp`` command (the CLI registers all parsers), the Glue lister included, so it
stays Python 3.9-compatible and imports :mod:`runtime.smoke` only inside its handler.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from runtime.commands.common import user_input
from runtime.commands.options import add_json_option, add_layout_options
from runtime.errors import UsageError
from runtime.layout import PREFIX_OPTIONS


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp smoke``."""
    parser = sub.add_parser(
        "smoke", help="after cdk deploy: run the deployed lister and processor on a few files, check, clean up",
        description="Upload a few JSON files (good, malformed lines, poison) under a unique raw prefix, run the "
                    "deployed lister and processor through the Glue API, check in S3 what only a working "
                    "deployment produces, print a verdict and delete the run's objects. Exit status 0 when it "
                    "passed, 1 when it failed, 2 when it could not start.")
    parser.add_argument("--stack", metavar="NAME", help="read bucket, prefixes and job names from this stack's "
                                                        "outputs (e.g. MlDataPlatform-dev)")
    parser.add_argument("--region", help="AWS region of the stack (default: the AWS configuration's)")
    parser.add_argument("--profile", help="AWS profile (default: the AWS configuration's)")
    given = parser.add_argument_group("explicit resources (instead of --stack, or overriding its outputs)")
    given.add_argument("--bucket", help="the data-lake bucket")
    given.add_argument("--lister-job", metavar="NAME", help="the FileListerAndDbPopulator Glue job")
    given.add_argument("--processor-job", metavar="NAME", help="the JsonToParquetBatchProcessor Glue job")
    given.add_argument("--workflow", metavar="NAME", help="the Glue workflow (reported only)")
    given.add_argument("--iceberg-table", metavar="DATABASE.TABLE",
                       help="the curated Iceberg table in the Glue Data Catalog (the IcebergTable output): the "
                            "run's rows are read back through the catalog")
    add_layout_options(given, metavar="PREFIX",
                       help_text="bucket layout (default: the stack output, else the reference layout)")
    parser.add_argument("--timeout-minutes", type=float, default=30.0,
                        help="how long to wait, in all, for both runs and their outcome (default 30)")
    parser.add_argument("--poll-seconds", type=float, default=15.0, help="polling interval (default 15)")
    parser.add_argument("--processor-max-minutes", type=float, default=10.0,
                        help="drain budget of the processor run (--max-minutes; default 10)")
    parser.add_argument("--keep", action="store_true", help="leave the run's objects in the bucket")
    parser.add_argument("--good-only", action="store_true",
                        help="upload only good files: no dead letters and no quarantined file, so no pipeline "
                             "alarm fires")
    add_json_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, clients: Any = None, **timing: Callable[..., Any]) -> int:
    """Run the smoke test; 0 when it passed, 1 when it failed. ``clients`` (a
    :class:`runtime.smoke.target.SmokeClients`) replaces the clients of ``--region`` / ``--profile``, and
    ``timing`` (``clock``, ``sleep``) the real clock, for tests."""
    from runtime.smoke.runner import SmokeOptions, run_smoke
    from runtime.smoke.target import SmokeClients, SmokeTarget, target_from_stack

    if clients is None:
        clients = _create_clients(SmokeClients, args.region, args.profile)
    with user_input():  # the stack --stack names, and the resources and options given: checked before any upload
        target = target_from_stack(clients.cloudformation, args.stack) if args.stack else SmokeTarget()
        target = target.with_overrides(
            bucket=args.bucket, lister_job=args.lister_job, processor_job=args.processor_job,
            workflow=args.workflow, iceberg_table=args.iceberg_table,
            **{name: getattr(args, name) for name in PREFIX_OPTIONS}).validate()
        options = SmokeOptions(timeout_minutes=args.timeout_minutes, poll_seconds=args.poll_seconds,
                               processor_max_minutes=args.processor_max_minutes, keep=args.keep,
                               good_only=args.good_only).validate()
    result = run_smoke(target, clients, options, **timing)
    print(json.dumps(result.as_dict(), default=str) if args.json else result.render())
    return 0 if result.passed else 1


def _create_clients(factory: Any, region: str | None, profile: str | None) -> Any:
    """AWS clients, with a one-line error for missing credentials, region or profile."""
    from botocore.exceptions import BotoCoreError

    try:
        return factory.create(region=region, profile=profile)
    except BotoCoreError as exc:
        raise UsageError(f"cannot create AWS clients: {exc}") from exc
