"""The states of a tracked file and of a batch, as the schema's CHECK constraints spell them (migration 0001).

``str`` subclasses: a state is its text in SQL parameters, JSON and f-strings, and compares equal to the text a
query returns (``FileState.FAILED == "FAILED"``). ``tests/runtime/db/test_tracking.py`` reads the CHECK
constraints from a migrated database and proves the enums list exactly the same values.

:data:`TRANSITIONS` is the state model: every move of a file or a batch from one state to another, with the
function or store method that makes it and the SQL statement that writes it. ``tests/runtime/db/test_states.py``
proves each named function exists and runs its statement, and that every statement under ``runtime/db`` that
writes a state is listed here. Python 3.9-compatible.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Union


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


State = Union[FileState, BatchState]


@dataclass(frozen=True)
class Transition:
    """One move of the state model: a file (``file_processing_status.processing_status``) or a batch
    (``processing_batches.state``) in one of ``from_states`` (empty: a row that does not exist yet) goes to
    ``to_state``, made by ``method`` (the dotted path of the function or store method) through ``statement``
    (``module.CONSTANT`` of the SQL under ``runtime/db``), for the reason ``why``."""

    from_states: tuple[State, ...]
    to_state: State
    method: str
    statement: str
    why: str


_F = FileState
_B = BatchState
_STORE = "runtime.db.tracking.TrackingStore."
_REGISTER = "runtime.db.registration.register_page"
_OPERATOR = "runtime.operator.requeue."
#: A file not being processed: what a new version of its key replaces.
_AT_REST = (_F.PENDING, _F.SUCCEEDED, _F.FAILED, _F.QUARANTINED, _F.RETIRED)

#: Every state transition, files first, then batches.
TRANSITIONS: tuple[Transition, ...] = (
    # -- files: the lister ---------------------------------------------------------------------------------------
    Transition((), _F.PENDING, _REGISTER, "queries.REGISTER_INCOMING", "a new key is listed"),
    Transition(_AT_REST, _F.PENDING, _REGISTER, "queries.REGISTER_INCOMING",
               "a new version of the key is listed (never over a PROCESSING file): attempts reset"),
    Transition((), _F.PENDING, _REGISTER, "queries.REGISTER_INCOMING_ON_CONFLICT",
               "a new key is listed, the page registered again after another session inserted one of its keys"),
    Transition(_AT_REST, _F.PENDING, _REGISTER, "queries.REGISTER_INCOMING_ON_CONFLICT",
               "a new version of the key is listed, the page registered again (as above)"),
    Transition(_AT_REST, _F.PENDING, _REGISTER, "registration_queries.REGISTER_CONFIRMED",
               "a version listed older than the registered one that HeadObject shows is current (a multipart "
               "upload completed after it): a new version, attempts reset"),
    # -- files: the batch protocol -------------------------------------------------------------------------------
    Transition(CLAIMABLE_STATES, _F.PROCESSING, _STORE + "claim", "queries.CLAIM_BATCH",
               "claimed into a batch (a FAILED file once its backoff is over): one attempt counted"),
    Transition((_F.PROCESSING,), _F.SUCCEEDED, _STORE + "record_outcomes", "queries.FINISH_FILES",
               "converted and published; its batch committed"),
    Transition((_F.PROCESSING,), _F.FAILED, _STORE + "record_outcomes", "queries.FINISH_FILES",
               "a transient failure, retried after its backoff (runtime.jobs.retry.RetryPolicy.resolve)"),
    Transition((_F.PROCESSING,), _F.QUARANTINED, _STORE + "record_outcomes", "queries.FINISH_FILES",
               "bad input, or a failure after the last attempt (RetryPolicy.resolve)"),
    Transition((_F.PROCESSING,), _F.PENDING, _STORE + "record_outcomes", "queries.FINISH_FILES",
               "given back uncharged by its batch, never failed before (RetryPolicy.give_back)"),
    Transition((_F.PROCESSING,), _F.FAILED, _STORE + "record_outcomes", "queries.FINISH_FILES",
               "given back uncharged by its batch, failed before (RetryPolicy.give_back)"),
    Transition((_F.FAILED, _F.QUARANTINED), _F.PENDING, _STORE + "record_outcomes", "queries.REGISTER_SEEN_VERSIONS",
               "the pre-check found it overwritten since it was listed: its new version registered at once"),
    Transition((_F.PROCESSING,), _F.PENDING, _STORE + "release", "lease_queries.UNCLAIM_FILES",
               "its run released the batch before its manifest, never failed before (RetryPolicy.give_back)"),
    Transition((_F.PROCESSING,), _F.FAILED, _STORE + "release", "lease_queries.UNCLAIM_FILES",
               "its run released the batch before its manifest, failed before (RetryPolicy.give_back)"),
    # -- files: the operator -------------------------------------------------------------------------------------
    Transition(REQUEUE_SELECTABLE_STATES, _F.PENDING, _OPERATOR + "requeue", "operator_queries.REQUEUE",
               "mldp requeue: a fresh attempt budget, claimable at once (RETIRED: a retirement undone)"),
    Transition(REQUEUABLE_STATES, _F.PENDING, _OPERATOR + "release", "operator_queries.REQUEUE",
               "mldp release KEY: named files back to PENDING"),
    Transition(RETIRABLE_STATES, _F.RETIRED, _OPERATOR + "retire", "operator_queries.REQUEUE",
               "mldp retire: an operator gave up on the file (never claimed, not in the backlog)"),
    Transition((_F.SUCCEEDED,), _F.PENDING, "runtime.operator.reprocess.requeue_for_reprocess",
               "operator_queries.REPROCESS",
               "mldp reprocess (Iceberg format): converted again from its archived copy with the current spec, "
               "its rows replaced in the table commit; archived_key kept (read from it, never archived again)"),
    # -- batches -------------------------------------------------------------------------------------------------
    Transition((), _B.CLAIMED, _STORE + "claim", "queries.INSERT_BATCH", "a run claimed files into a new batch"),
    Transition((_B.CLAIMED,), _B.COMMITTED, _STORE + "record_outcomes", "queries.CLOSE_BATCH",
               "its outcomes recorded (fenced: only by the run that holds it)"),
    Transition((_B.CLAIMED,), _B.ABANDONED, _STORE + "record_outcomes", "queries.CLOSE_BATCH",
               "recovery abandoned it without a manifest, its one file charged (RetryPolicy.after_abandon)"),
    Transition((_B.CLAIMED,), _B.ABANDONED, _STORE + "release", "lease_queries.RELEASE_BATCH",
               "given back before its manifest (a clean stop, a run-stopping error, a batch of several files "
               "abandoned by recovery): its files given back uncharged"),
)
