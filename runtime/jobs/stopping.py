"""Clean stops: SIGINT (Ctrl-C) and SIGTERM (what Glue sends on a timeout or a stop) end a run at its next safe
point instead of in the middle of a step.

:class:`StopSignal` turns the first signal into a flag (and asks Spark to cancel its running jobs, so a long
conversion ends early); the batch protocol checks the flag at its safe points (:mod:`runtime.jobs.batch`: before
the claim, at every stage the batch reaches, before Spark starts and around each conversion) and, as
:class:`runtime.jobs.batch.OnStop` says from the batch's stage alone, raises :class:`StopRequested` there while the
batch has no manifest, or goes on to finish it once it has one. The processor gives a batch so stopped back without
charging its files an attempt, and exits with ``128 + signal``: 130 for SIGINT, 143 for SIGTERM. A second signal
stops at once (exit ``128 + signal``); the batch is then recovered by the next run as a dead run's.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

#: The signals that stop a run cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(BaseException):
    """A stop signal arrived and the run reached a safe point.

    An internal signal, not an error: it derives from ``BaseException`` (like ``KeyboardInterrupt``), outside the
    root of the errors the CLI reports, on purpose. It must travel from the safe point up to
    :class:`runtime.jobs.processor.BatchProcessor` through every ``except Exception`` on the way (the conversion's,
    the narrowing's, a file's pre-check) without being mistaken for a failure of a file or of the batch, which
    would charge an attempt. The processor always catches it, gives the batch back and ends with ``128 + signal``;
    it never reaches the CLI's error handling."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal_name(signum)}")
        self.signum = signum


def signal_name(signum: int) -> str:
    """``SIGINT``, ``SIGTERM``, ... for a signal number."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopSignal:
    """The stop flag of one run, set by :meth:`request` (the signal handler of :meth:`installed`)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None
        self._on_stop: Callable[[], None] = lambda: None
        self._handler_installed = False

    @property
    def requested(self) -> bool:
        """A stop was requested."""
        return self._event.is_set()

    @property
    def exit_status(self) -> int:
        """``128 + signal`` once a stop was requested (130 SIGINT, 143 SIGTERM), else 0."""
        return 128 + self.signum if self.signum is not None else 0

    def request(self, signum: int) -> None:
        """Ask the run to stop at its next safe point (what the signal handler does)."""
        if self.signum is None:
            self.signum = signum
        self._event.set()

    def check(self) -> None:
        """A safe point: raise :class:`StopRequested` if a stop was requested."""
        if self.signum is not None and self.requested:
            raise StopRequested(self.signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            log.warning("%s again: stopping now", signal_name(signum))
            raise SystemExit(128 + signum)
        log.warning("%s received: stopping at the next safe point (send it again to stop now)", signal_name(signum))
        self.request(signum)
        self._on_stop()

    @contextmanager
    def installed(self, on_stop: Callable[[], None] = lambda: None) -> Iterator[StopSignal]:
        """Within the block, SIGINT and SIGTERM set this flag (and call ``on_stop``) instead of their default
        action; the previous handlers are restored afterwards. Outside the main thread (where Python cannot set
        handlers) nothing is installed."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
        self._on_stop = on_stop
        self._handler_installed = True
        try:
            for signum in STOP_SIGNALS:
                signal.signal(signum, self._handle)
            yield self
        finally:
            self._handler_installed = False
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def reinstall(self) -> None:
        """Take the signals back if something replaced the handlers meanwhile (creating a SparkContext installs
        PySpark's own SIGINT handler, which cancels the jobs and raises ``KeyboardInterrupt``)."""
        if not self._handler_installed or threading.current_thread() is not threading.main_thread():
            return
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) != self._handle:
                signal.signal(signum, self._handle)


def cancel_spark_jobs() -> None:
    """Ask the active SparkContext, if any, to cancel its running jobs (in a thread of its own: a signal handler
    must not block); a conversion so cancelled fails, and the run gives its batch back."""
    pyspark = sys.modules.get("pyspark")
    context: Any = getattr(getattr(pyspark, "SparkContext", None), "_active_spark_context", None)
    if context is None:
        return

    def cancel() -> None:
        try:
            context.cancelAllJobs()
        except Exception as exc:  # the JVM may be going away too
            log.info("could not cancel the Spark jobs: %s", exc)

    threading.Thread(target=cancel, name="cancel-spark-jobs", daemon=True).start()
