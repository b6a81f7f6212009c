"""Progress for long runs: a live line on a terminal, a periodic log line otherwise (Glue, CI, pipes)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("mldp.progress")


class Progress:
    """Report ``done`` (and, when the total is known, an estimate of the time left) as work advances.

    On a terminal the line is redrawn at most every ``tty_interval`` seconds; elsewhere a structured log line is
    written every ``log_interval`` seconds, so Glue logs show progress without flooding.
    """

    def __init__(self, label: str, unit: str = "items", total: int | None = None,
                 stream: TextIO | None = None, tty_interval: float = 0.5, log_interval: float = 30.0,
                 enabled: bool = True) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interactive = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = tty_interval if self.interactive else log_interval
        self.started = time.monotonic()
        self.last_report = self.started
        self.done = 0
        self._drew = False

    def advance(self, count: int, **extra: object) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self.last_report >= self.interval:
            self.last_report = now
            self._report(now, extra)

    def line(self, now: float | None = None, extra: dict | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {self.done:,} {self.unit} in {elapsed:,.0f}s ({rate:,.0f} {self.unit}/s)"
        if self.total:
            left = max(self.total - self.done, 0)
            eta = left / rate if rate > 0 else float("inf")
            text += f", {left:,} left, ETA {format_duration(eta)}"
        if extra:
            text += ", " + ", ".join(f"{k}={v}" for k, v in extra.items())
        return text

    def figures(self, now: float, extra: dict | None = None) -> dict:
        """The progress as data, for the structured half of a log line (Glue / CloudWatch Logs Insights)."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        data = {"progress": self.label, "done": self.done, "unit": self.unit, "seconds": round(elapsed, 1),
                "rate_per_s": round(rate, 2)}
        if self.total:
            left = max(self.total - self.done, 0)
            data.update(total=self.total, left=left, eta_seconds=round(left / rate) if rate > 0 else None)
        return {**data, **(extra or {})}

    def _report(self, now: float, extra: dict) -> None:
        text = self.line(now, extra)
        if self.interactive:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
            self._drew = True
        else:
            log.info("%s | %s", text, json.dumps(self.figures(now, extra), default=str))

    def finish(self) -> None:
        if self._drew:
            self.stream.write("\n")
            self.stream.flush()


def format_duration(seconds: float) -> str:
    """``1h02m``, ``4m05s``, ``12s``; ``?`` when unknown."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
