"""Narrowing a failed conversion to the file(s) that cause it, before anyone is charged an attempt.

When the conversion of a batch fails, :class:`Narrowing` decides whose fault it is:

1. **a probe** that needs no file (Spark starts and writes an empty frame into the batch's staging) fails ->
   no file's fault (unwritable staging, missing permissions, Spark down): :class:`~runtime.errors.RunStopped`;
2. **bisection**: a failing part is split in halves and *both* halves are converted again as *dry runs*
   (everything computed, the hook and partition checks included, nothing written) before either is split further,
   so a good half is found before any conclusion is drawn; the halves that fail are split in turn, depth first,
   down to single files. A file that fails alone is a culprit, with the root cause of its own failure; a part that
   converts is proved good (:attr:`Narrowing.good_parts`);
3. **every file fails the same way** -> no file's fault (a spec or hook broken for every record). It is concluded
   only when the first few single files (:attr:`Narrowing.same_cause_limit`, at least two) have all failed with
   the batch's cause, no conversion with a good record has succeeded, and as many *control* files, spread over the
   batch and not yet tried alone, fail alone with that cause too (at least one of them; a control that converts
   without a good record proves nothing either way): then the run stops. A control that converts a good record
   refutes it, and the bisection goes on to the end. A batch with no file left to try as a control (a
   batch of one to three files, or files retried together after each failed alone) cannot tell: its files are the
   culprits, charged (each is then retried alone, and quarantined after ``--max-attempts``).

The caller (:class:`runtime.jobs.conversion.BatchConversion`) then converts the good files together for real, once,
into the batch's staging: one publish, the batch protocol unchanged. When they do not convert together although
every part of them did (or no culprit was found at all), it converts the largest part proved good and gives the
others back uncharged, claimed next in smaller batches: a run always makes progress for the files it proved good.
The cost is paid only by a failed batch: about twice its data in dry runs for one culprit, about twice for a broken
spec. ``stop_check`` is called before every dry run: a stop request ends the narrowing at once.
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
    root cause of its failure (``None``: it worked); ``stop_check`` raises to end the narrowing (a stop request).
    """

    attempt: Callable[[Sequence[T]], Attempt]
    probe: Callable[[], str | None]
    #: how many single files failing with the batch's cause, and nothing converting, make the cause suspect; as
    #: many control files failing alone with it too prove it is no file's
    same_cause_limit: int = 3
    stop_check: Callable[[], None] = lambda: None
    culprits: list[tuple[T, str]] = field(default_factory=list)
    #: the parts whose dry run converted (each a list of files), in the order they were proved
    good_parts: list[list[T]] = field(default_factory=list)
    attempts: int = 0
    _batch_signature: str = ""
    _good_seen: bool = False
    _files: list[T] = field(default_factory=list)
    _tried_alone: set[int] = field(default_factory=set)
    _controls_tried: bool = False

    def run(self, files: Sequence[T], cause: str) -> list[tuple[T, str]]:
        """The culprits of ``files``, whose conversion failed with root cause ``cause``, each with the cause of its
        own failure. Raises :class:`RunStopped` when the failure is no file's."""
        failed_probe = self.probe()
        if failed_probe is not None:
            raise RunStopped(f"run stopped: the conversion fails without any file ({failed_probe}); no file was "
                             "charged an attempt", failed_probe)
        self.culprits, self.good_parts, self.attempts = [], [], 0
        self._batch_signature, self._good_seen = signature(cause), False
        self._files, self._tried_alone, self._controls_tried = list(files), set(), False
        if len(self._files) == 1:
            self.culprits.append((self._files[0], cause))
        else:
            self._split(self._files)
        log.info("narrowed a failed conversion of %d files in %d dry runs: %d culprit(s), %d part(s) proved good",
                 len(files), self.attempts, len(self.culprits), len(self.good_parts))
        return self.culprits

    def _try(self, part: list[T]) -> Attempt:
        self.stop_check()
        self.attempts += 1
        result = self.attempt(part)
        if len(part) == 1:
            self._tried_alone.add(id(part[0]))
        if result.ok:
            self.good_parts.append(part)
            self._good_seen = self._good_seen or result.good > 0
        return result

    def _split(self, failing: list[T]) -> None:
        """Try both halves of a failing part, then split each half that fails (a single file that fails is a
        culprit)."""
        middle = len(failing) // 2
        halves = [failing[:middle], failing[middle:]]
        results = [self._try(half) for half in halves]
        for half, result in zip(halves, results, strict=True):
            if result.ok:
                continue
            assert result.cause is not None
            if len(half) == 1:
                self.culprits.append((half[0], result.cause))
                self._stop_if_no_file_is_to_blame()
            else:
                self._split(half)

    def _stop_if_no_file_is_to_blame(self) -> None:
        needed = max(2, min(self.same_cause_limit, len(self._files)))
        if self._good_seen or self._controls_tried or len(self.culprits) < needed:
            return
        if {signature(cause) for _, cause in self.culprits} != {self._batch_signature}:
            return
        self._controls_tried = True
        failed_alike = 0
        for control in self._controls(needed):
            result = self._try([control])
            if result.ok:
                if result.good > 0:
                    return  # a file converts a good record: the cause is in the files; bisect on
                continue  # converted, but no record reached the transform: proves nothing either way
            assert result.cause is not None
            if signature(result.cause) != self._batch_signature:
                return
            failed_alike += 1
        if not failed_alike:  # no control (every file was tried alone), or none failed as the batch did: nothing
            return            # shows the cause is not in the files, so the culprits are charged
        cause = self.culprits[0][1]
        raise RunStopped(f"run stopped: every file tried fails the same way, so the cause is not in the files "
                         f"({cause}); no file was charged an attempt", cause)

    def _controls(self, count: int) -> list[T]:
        """Up to ``count`` files not tried alone yet, spread evenly over the batch."""
        untried = [f for f in self._files if id(f) not in self._tried_alone]
        if not untried:
            return []
        picks = sorted({int((k + 0.5) * len(untried) / count) for k in range(min(count, len(untried)))})
        return [untried[i] for i in picks]
