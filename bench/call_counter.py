"""Counting the API calls a boto3 client makes (botocore events), for benchmarks and tests of call budgets."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class CallCounter:
    """Counts the API operations (of ``service``) a client makes (``before-call``) and the most in flight at once."""

    def __init__(self, client: Any, service: str = "s3") -> None:
        self.ops: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        events = client.meta.events
        events.register(f"before-call.{service}", self._before)
        events.register(f"after-call.{service}", self._after)
        events.register(f"after-call-error.{service}", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.ops[model.name] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _after(self, **_: Any) -> None:
        with self._lock:
            self.in_flight -= 1

    @property
    def total(self) -> int:
        """All API calls counted so far."""
        return sum(self.ops.values())

    def reset(self) -> None:
        """Forget the counts (e.g. after a test's setup)."""
        with self._lock:
            self.ops.clear()
            self.max_in_flight = self.in_flight
