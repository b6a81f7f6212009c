"""What a failed conversion is recorded as: its root cause, not the Py4J call site.

A Spark failure reaches Python as ``Py4JJavaError: An error occurred while calling o284.parquet`` (the cause is
only in the Java stack) or as a pyspark ``CapturedException`` (whose Java origin may be attached); a Python UDF's
error as ``PythonException`` holding the worker's traceback. :func:`root_cause` walks the Java causes
(``getCause()``) to the innermost exception and gives its class and message, or the last line of a Python
traceback; :func:`signature` makes two failures comparable (paths and numbers removed), which is how the
narrowing of a failed batch tells "every file fails the same way" from a file of its own.
"""

from __future__ import annotations

import re
from typing import Any

#: Longest root cause recorded (the tracking table keeps it as the file's error).
MAX_CAUSE_CHARS = 500
_MAX_DEPTH = 50
_PATH = re.compile(r"\S*[/\\]\S*")
_NUMBER = re.compile(r"\d+")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _java_throwable(exc: BaseException) -> Any:
    """The Java exception behind a Py4J or pyspark error, or ``None``."""
    throwable = getattr(exc, "java_exception", None)  # py4j.protocol.Py4JJavaError
    if throwable is None:
        throwable = getattr(exc, "_origin", None)  # pyspark.errors.exceptions.captured.CapturedException
    return throwable


def _innermost_java(throwable: Any) -> str | None:
    """``class: message`` of the innermost cause of a Java throwable (``None`` if the JVM cannot be asked)."""
    try:
        seen = 0
        while seen < _MAX_DEPTH:
            cause = throwable.getCause()
            if cause is None or cause.equals(throwable):
                break
            throwable, seen = cause, seen + 1
        message = throwable.getMessage()
        name = throwable.getClass().getName()
    except Exception:  # the gateway is gone, or not a Java object after all
        return None
    return f"{name}: {_one_line(str(message))}" if message else name


def _python_traceback_tail(text: str) -> str | None:
    """The last line of a Python traceback in ``text`` (``ValueError: ...``), or ``None``."""
    if "Traceback (most recent call last)" not in text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def root_cause(exc: BaseException) -> str:
    """The root cause of ``exc`` as one line of at most :data:`MAX_CAUSE_CHARS` characters (see the module
    docstring); for a plain Python exception, the innermost of its ``__cause__`` chain as ``Type: message``."""
    throwable = _java_throwable(exc)
    found = _innermost_java(throwable) if throwable is not None else None
    if found is None:
        while exc.__cause__ is not None and exc.__cause__ is not exc:
            exc = exc.__cause__
        text = str(exc)
        tail = _python_traceback_tail(text)
        if tail is not None:
            found = f"{type(exc).__name__}: {tail}"
        else:
            found = f"{type(exc).__name__}: {_one_line(text)}" if text.strip() else type(exc).__name__
    return found[:MAX_CAUSE_CHARS]


def signature(cause: str) -> str:
    """``cause`` without what differs between two runs of the same failure (paths, URIs, numbers)."""
    return _NUMBER.sub("N", _PATH.sub("<path>", cause))
