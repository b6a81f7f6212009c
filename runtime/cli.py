"""``mldp``: the command-line interface of the runtime (local mode, operators, and the Glue entry scripts)."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from runtime.commands import COMMANDS
from runtime.errors import MldpError

_NOISY_LOGGERS = ("py4j", "botocore", "boto3", "urllib3", "s3transfer")


def build_parser() -> argparse.ArgumentParser:
    """The ``mldp`` parser: ``-v`` and one subparser per command of :data:`runtime.commands.COMMANDS`."""
    parser = argparse.ArgumentParser(prog="mldp", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (and tracebacks of errors)")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``mldp`` command and return its exit status.

    A user-facing error (:class:`~runtime.errors.MldpError`) is one ``error: <message>`` line on stderr and exit
    status 2, preceded by its traceback with ``-v``. Any other exception is a bug: it propagates with its traceback.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in _NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.handler(args)
    except MldpError as exc:
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
