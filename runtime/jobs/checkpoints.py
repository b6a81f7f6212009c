"""Crash checkpoints: the named places of the batch protocol where a test injects a crash (or a take-over, a lost
connection, a clock step) to prove that the next run recovers the batch exactly once.

They exist for tests only. The product passes no hook (:func:`no_crash`, the default of
:class:`runtime.jobs.processor.BatchProcessor`), and no decision of the product reads a checkpoint's name: a clean
stop is decided from the batch's stage alone (:class:`runtime.jobs.batch.BatchStage`,
:class:`runtime.jobs.batch.OnStop`), so renaming, adding or removing a checkpoint cannot change what SIGINT or
SIGTERM does (``tests/runtime/jobs/test_batch_safe_points.py`` holds both to it).

The crash matrix
(``tests/runtime/jobs/test_processor.py::test_crash_at_every_step_then_a_normal_run_finishes_exactly_once``)
iterates over :class:`Checkpoint`: a crash between every two steps, and in the middle of the publish, the
dead-letter write and the archive. An Iceberg batch (``--table-format iceberg``) passes one more,
:attr:`Checkpoint.AFTER_TABLE_COMMIT` (after its Iceberg commit, before the tracking commit), and its
:attr:`Checkpoint.MID_PUBLISH` is the middle of the publish into the table's data location; its crash matrix
(``tests/runtime/table/test_commit_crashes.py``) iterates over :data:`ICEBERG_CHECKPOINTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

__all__ = ["CHECKPOINTS", "ICEBERG_CHECKPOINTS", "Checkpoint", "CrashHook", "no_crash"]


class Checkpoint(StrEnum):
    """The places a test may inject a crash, in the order a batch passes them (a string: a test hook may compare
    the name it is given to ``"after_claim"``)."""

    AFTER_CLAIM = "after_claim"
    AFTER_PRECHECK = "after_precheck"
    AFTER_STAGING_WRITE = "after_staging_write"
    AFTER_COMPLETION_MARKER = "after_completion_marker"
    MID_PUBLISH = "mid_publish"
    MID_DEAD_LETTER_WRITE = "mid_dead_letter_write"
    AFTER_PUBLISH = "after_publish"
    AFTER_TABLE_COMMIT = "after_table_commit"
    AFTER_COMMIT = "after_commit"
    MID_ARCHIVE = "mid_archive"
    AFTER_ARCHIVE = "after_archive"


#: Every checkpoint an Iceberg batch passes, in order (the Iceberg crash matrix's parameters).
ICEBERG_CHECKPOINTS: tuple[Checkpoint, ...] = tuple(Checkpoint)
#: Every checkpoint a Parquet batch passes, in order (the crash matrix's parameters): all but the Iceberg commit's.
_TABLE_COMMIT_AT = ICEBERG_CHECKPOINTS.index(Checkpoint.AFTER_TABLE_COMMIT)
CHECKPOINTS: tuple[Checkpoint, ...] = (ICEBERG_CHECKPOINTS[:_TABLE_COMMIT_AT]
                                       + ICEBERG_CHECKPOINTS[_TABLE_COMMIT_AT + 1:])

#: A test's hook, called with each checkpoint the batch passes; it may raise to simulate a crash.
CrashHook = Callable[[Checkpoint], None]


def no_crash(point: Checkpoint) -> None:
    """The product's hook: nothing happens at a checkpoint."""
