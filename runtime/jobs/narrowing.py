"""Narrowing a failed conversion to the file(s) that cause it, before anyone is charged an attempt.

When the conversion of a batch fails, :class:`Narrowing` decides whose fault it is:

1. **a probe** that needs no file (Spark starts and writes an empty frame into the batch's staging) fails ->
   no file's fault (unwritable staging, missing permissions, Spark down): :class:`~runtime.errors.RunStopped`;
2. **bisection**: the files are split in halves and each half is converted again as a *dry run* (everything
   computed, the hook and partition checks included, nothing written), recursing into the halves that fail,
   depth first, down to single files. A file that fails alone is a culprit, with the root cause of its own
   failure;
3. **every file fails the same way** -> no file's fault (a spec or hook broken for every record): as soon as
   the first few single files (:attr:`Narrowing.same_cause_limit`, at least two) have all failed with the same
   cause as the batch and no conversion with a good record has succeeded, the run stops. A batch of one file
   cannot tell: that file is the culprit.

The good files are then converted together for real, once, into the batch's staging (the caller's
:class:`runtime.jobs.batch.BatchProtocol`): one publish, the batch protocol unchanged. The cost is paid only by
a failed batch: about twice its data in dry runs for one culprit, about once for a broken spec.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from runtime.errors import RunStopped
from runtime.spark.failures import signature

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt:
    """The answer of one dry-run conversion: ``cause`` is ``None`` on success, else the root cause of the failure;
    ``good`` counts the records that went through the whole conversion (the hook included)."""

    cause: str | None = None
    good: int = 0

    @property
    def ok(self) -> bool:
        """The conversion succeeded."""
        return self.cause is None


@dataclass
class Narrowing(Generic[T]):
    """Finds the culprits of a failed conversion (see the module docstring).

    ``attempt`` converts some of the files as a dry run; ``probe`` runs the file-less conversion and returns the
    root cause of its failure (``None``: it worked).
    """

    attempt: Callable[[Sequence[T]], Attempt]
    probe: Callable[[], str | None]
    #: how many single files failing with the batch's cause, and nothing converting, prove the cause is no file's
    same_cause_limit: int = 3
    culprits: list[tuple[T, str]] = field(default_factory=list)
    attempts: int = 0
    _batch_signature: str = ""
    _good_seen: bool = False
    _total: int = 0

    def run(self, files: Sequence[T], cause: str) -> list[tuple[T, str]]:
        """The culprits of ``files``, whose conversion failed with root cause ``cause``, each with the cause of its
        own failure. Raises :class:`RunStopped` when the failure is no file's."""
        failed_probe = self.probe()
        if failed_probe is not None:
            raise RunStopped(f"run stopped: the conversion fails without any file ({failed_probe}); no file was "
                             "charged an attempt", failed_probe)
        self.culprits, self.attempts = [], 0
        self._batch_signature, self._good_seen, self._total = signature(cause), False, len(files)
        self._bisect(list(files), cause)
        log.info("narrowed a failed conversion of %d files in %d dry runs: %d culprit(s)", len(files),
                 self.attempts, len(self.culprits))
        return self.culprits

    def _bisect(self, files: list[T], cause: str) -> None:
        if len(files) == 1:
            self.culprits.append((files[0], cause))
            self._stop_if_no_file_is_to_blame()
            return
        middle = len(files) // 2
        for part in (files[:middle], files[middle:]):
            self.attempts += 1
            result = self.attempt(part)
            if result.ok:
                self._good_seen = self._good_seen or result.good > 0
            else:
                assert result.cause is not None
                self._bisect(part, result.cause)

    def _stop_if_no_file_is_to_blame(self) -> None:
        needed = max(2, min(self.same_cause_limit, self._total))
        if self._good_seen or self._total < 2 or len(self.culprits) < needed:
            return
        causes = {signature(cause) for _, cause in self.culprits}
        if causes == {self._batch_signature}:
            cause = self.culprits[0][1]
            raise RunStopped(f"run stopped: every file tried fails the same way, so the cause is not in the files "
                             f"({cause}); no file was charged an attempt", cause)
