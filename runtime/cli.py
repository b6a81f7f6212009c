"""``mldp``: the command-line interface of the runtime (local mode, operators, and the Glue entry scripts)."""

from __future__ import annotations

import argparse
import io
import logging
import os
import select
import sys
import traceback
from typing import TextIO

import psycopg2

from runtime.commands import COMMANDS
from runtime.commands.common import database_error_message
from runtime.commands.options import add_examples
from runtime.errors import MldpError

_NOISY_LOGGERS = ("py4j", "botocore", "boto3", "urllib3", "s3transfer")
#: Exit status when the reader of the output went away (``mldp status | head -1``): 128 + SIGPIPE, the status of a
#: Unix tool the signal ends, so ``set -o pipefail`` scripts see ``mldp`` as they see ``cat`` or ``grep``.
EXIT_CLOSED_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The ``mldp`` parser: ``-v`` and one subparser per command of :data:`runtime.commands.COMMANDS`, each with
    the examples of :data:`runtime.commands.options.EXAMPLES` under its ``--help``."""
    parser = argparse.ArgumentParser(prog="mldp", description=__doc__,
                                     epilog="mldp COMMAND --help shows a command's options, defaults and examples")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (and tracebacks of errors)")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    add_examples(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``mldp`` command and return its exit status.

    A user-facing error (:class:`~runtime.errors.MldpError`) is one ``error: <message>`` line on stderr and exit
    status 2, preceded by its traceback with ``-v``. So is a database that fails under the command (the server
    stopped or the connection dropped mid-run: ``psycopg2.OperationalError`` / ``InterfaceError``), the line
    naming the server, never the password. A closed output pipe ends the command quietly with status
    :data:`EXIT_CLOSED_PIPE`. Any other exception is a bug: it propagates with its traceback.
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
        status = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit (where it cannot be handled)
        return status
    except BrokenPipeError:
        if not _silence_closed_streams():
            raise  # a broken socket (S3, the Spark gateway), not our reader going away: keep its traceback
        return EXIT_CLOSED_PIPE
    except MldpError as exc:
        return _user_error(args, str(exc), exc.exit_status)
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        return _user_error(args, database_error_message(exc), MldpError.exit_status)


def _user_error(args: argparse.Namespace, message: str, status: int) -> int:
    if args.verbose:
        traceback.print_exc(file=sys.stderr)
    print(f"error: {message}", file=sys.stderr)
    return status


def _silence_closed_streams() -> bool:
    """Point stdout and stderr whose reader has gone at ``/dev/null`` (so nothing fails again when Python flushes
    them at exit); True when stdout or stderr was such a stream."""
    closed = False
    for stream in (sys.stdout, sys.stderr):
        if _reader_gone(stream):
            closed = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
    return closed


def _reader_gone(stream: TextIO) -> bool:
    """Whether ``stream`` is a pipe or socket whose reading end is closed (poll reports an error on it). A stream
    without a file descriptor (captured output) cannot break: False."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _fd, events in poller.poll(0))


if __name__ == "__main__":
    sys.exit(main())
