"""The states of a tracked file and of a batch, as the schema's CHECK constraints spell them (migration 0001).

``str`` subclasses: a state is its text in SQL parameters, JSON and f-strings, and compares equal to the text a
query returns (``FileState.FAILED == "FAILED"``). ``tests/runtime/test_tracking_store.py`` reads the CHECK constraints
from a migrated database and proves the enums list exactly the same values. Python 3.9-compatible.
"""

from __future__ import annotations

from enum import Enum


class _TextState(str, Enum):
    """A state whose ``str()`` and ``format()`` are its value on every Python version (3.11 changed the default
    ``format()`` of mixed-in enums)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class FileState(_TextState):
    """``file_processing_status.processing_status``: ``PENDING -> PROCESSING -> SUCCEEDED | FAILED |
    QUARANTINED``; ``FAILED`` is claimed again after its backoff; ``RETIRED``: an operator gave up on a FAILED or
    QUARANTINED file (migration 0006)."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    QUARANTINED = "QUARANTINED"
    RETIRED = "RETIRED"


class BatchState(_TextState):
    """``processing_batches.state``: ``CLAIMED`` while a run owns the batch, then ``COMMITTED`` (its outcomes are
    recorded) or ``ABANDONED`` (its run died before staging was complete; its files are retried)."""

    CLAIMED = "CLAIMED"
    COMMITTED = "COMMITTED"
    ABANDONED = "ABANDONED"


#: The states a file waits in before it is claimed (again): the claim's and the backlog's selection.
CLAIMABLE_STATES = (FileState.PENDING, FileState.FAILED)
#: The states a run leaves a processed file in.
OUTCOME_STATES = (FileState.SUCCEEDED, FileState.FAILED, FileState.QUARANTINED)
#: The states an operator moves back to PENDING by default (``mldp requeue`` / ``release``), and those ``mldp
#: retire`` retires by default.
REQUEUABLE_STATES = (FileState.FAILED, FileState.QUARANTINED)
#: The states ``mldp requeue`` may select (``--state RETIRED`` undoes a retirement).
REQUEUE_SELECTABLE_STATES = (*REQUEUABLE_STATES, FileState.RETIRED)
#: The states ``mldp retire`` may select: a PENDING file too (one that can never be processed, set aside before a
#: run quarantines it; only with ``--state PENDING``), never a PROCESSING one.
RETIRABLE_STATES = (FileState.PENDING, *REQUEUABLE_STATES)
#: Every state an operator command may select.
OPERATOR_STATES = (FileState.PENDING, *REQUEUE_SELECTABLE_STATES)
