"""The root of the runtime's user-facing errors.

An error of this family is the user's to fix (a bad option value, an unusable spec file, an unreachable database,
a missing bucket) or a run's failure with a known cause: ``mldp`` prints it as one ``error: <message>`` line and
exits with its ``exit_status`` (2 unless the class says otherwise; ``-v`` adds the traceback). Every other exception
is a bug and ends the command with its traceback. Raise a subclass, with a message that names what to fix.
Python 3.9-compatible: the Glue Python-shell lister imports it.

Every exception class of the runtime derives from :class:`MldpError`, except the few internal signals of
:data:`INTERNAL_SIGNALS`, which never reach the CLI and say why in their docstring (``tests/runtime/test_errors.py``
walks the runtime's exception classes and holds this).
"""

from __future__ import annotations


class MldpError(Exception):
    """An error the person running ``mldp`` can act on: printed as one ``error:`` line, exit status
    :attr:`exit_status` (2, a usage error, unless the subclass says otherwise)."""

    #: The status ``mldp`` exits with when this error ends a command.
    exit_status = 2


class UsageError(MldpError, ValueError):
    """A value the user gave is wrong: an option, a time, a setting, a name. Also a ``ValueError``, so callers
    of the library that catch ``ValueError`` for bad arguments keep working."""


class SpecError(UsageError):
    """A transform spec (or its hook) that cannot be used; the message names the key or file to fix."""


class RunStopped(MldpError):
    """A failure that belongs to no file (a broken spec or hook, unwritable staging, missing permissions, Spark
    itself failing): the run stops before any file is charged an attempt. ``mldp process`` prints it as one
    ``error:`` line and exits with :attr:`exit_status`; ``cause`` is the root cause (for Spark, the innermost Java
    exception)."""

    exit_status = 3

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause or message


#: The exception classes outside the :class:`MldpError` family on purpose, by dotted name, and why.
INTERNAL_SIGNALS = {
    "runtime.jobs.stopping.StopRequested":
        "a stop signal reached a safe point: a BaseException, like KeyboardInterrupt, so that no except Exception "
        "mistakes it for a failure of the batch; the processor ends the run on it",
    "runtime.jobs.codecs.CorruptData":
        "broken compressed data: the pre-check makes it the file's outcome (QUARANTINED)",
    "runtime.jobs.codecs.CodecUnavailable":
        "a codec this environment cannot decode: the pre-check makes it the file's outcome (QUARANTINED)",
    "runtime.transforms.exact_json._HoldsNumber":
        "json.dumps met an exact number it cannot write: caught in exact_json.dumps, which lays that value out itself",
    "runtime.transforms.rescue.DuplicateKey":
        "a record gives a name twice in one object: caught in rescue_record, which makes the record malformed (a "
        "dead letter), never raised to a command",
}


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` of ``exc`` on one line (white space folded, the message cut at ``limit`` characters): how
    an error is recorded as a file's reason."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:limit]}" if text else type(exc).__name__
