"""Step 3 of the batch protocol: Spark converts the batch's readable files into its staging, and every failure is
charged to the file that causes it, or to no file at all.

:meth:`BatchConversion.run` converts all readable files at once (the normal case: one Spark conversion). When
that fails, :class:`runtime.jobs.narrowing.Narrowing` finds the culprits with dry runs, each culprit is recorded
FAILED with the root cause of its own failure (retried with backoff, quarantined after ``--max-attempts``), and
the other files are converted together again, for real: the staging holds one conversion of exactly the good
files, so the manifest, the publish and their exactly-once guarantees are those of any batch. A file that got a
new ETag while Spark read it is FAILED the same way (its new version is registered by the lister) and the others
are converted again without it.

A failure that belongs to no file raises :class:`~runtime.errors.RunStopped` and charges no file: a spec or hook
that cannot be used (:class:`~runtime.errors.SpecError`), a probe that fails without any file, every file failing
the same way, or a conversion of files that each convert on their own failing again. A refused storage request
(:class:`~runtime.storage.base.StoragePermissionError`) stops the run as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.db.records import FileOutcome
from runtime.db.states import FileState
from runtime.errors import RunStopped, SpecError
from runtime.jobs import publish as pub
from runtime.jobs.narrowing import Attempt, Narrowing
from runtime.jobs.precheck import PrecheckResult, verify_unchanged
from runtime.jobs.spark_staging import SparkPaths, spark_paths
from runtime.layout import Layout
from runtime.spark.failures import root_cause
from runtime.spark.names import spark_alias
from runtime.storage.base import ObjectStore, StoragePermissionError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from runtime.spark.convert import ConversionResult, FileCounts, SourceFile
    from runtime.transforms.spec import TransformSpec

log = logging.getLogger(__name__)

#: Prefix of the error of a file found to fail the conversion on its own.
CULPRIT_PREFIX = "conversion fails on this file alone: "


def classify(check: PrecheckResult, counts: FileCounts, unreadable: str | None = None) -> FileOutcome:
    """The outcome of a file Spark read: SUCCEEDED with at least one good record (``records_good`` is what was
    written, after the hook); QUARANTINED when it cannot yield one (unreadable, every record bad, or no record at
    all). Retrying is :mod:`runtime.jobs.retry`'s."""
    file, good, bad = check.file, counts.records_good, counts.records_bad
    if unreadable:
        return FileOutcome(file.file_id, file.key, FileState.QUARANTINED, unreadable, 0, 0, size=check.size)
    if good > 0:
        return FileOutcome(file.file_id, file.key, FileState.SUCCEEDED, None, counts.written, bad, size=check.size,
                           etag=check.processed.etag, version=file.version)
    if bad > 0:
        reason = f"no good record: all {bad} records malformed or invalid (see the dead-letter prefix)"
    else:
        reason = "no JSON record in the file (empty or whitespace-only)"
    return FileOutcome(file.file_id, file.key, FileState.QUARANTINED, reason, good, bad, size=check.size)


def lineage_uri(store: ObjectStore, key: str) -> str:
    """The ``source_s3_path`` of a raw file: ``s3://bucket/key`` on S3, the absolute file path locally."""
    return store.url.rstrip("/") + "/" + key


def conversion_failure(exc: BaseException) -> str:
    """The error recorded for the files of a batch whose conversion failed in a way nothing narrowed."""
    return f"batch conversion failed: {root_cause(exc)}"


def _failed(check: PrecheckResult, reason: str) -> FileOutcome:
    return FileOutcome(check.file.file_id, check.file.key, FileState.FAILED, reason, size=check.size)


@dataclass
class BatchConversion:
    """The conversion of one batch's readable files (see the module docstring)."""

    store: ObjectStore
    spark_factory: Callable[[], SparkSession]
    spec: TransformSpec
    layout: Layout
    batch_id: str
    io_workers: int = 16
    _spark: SparkSession | None = None

    def spark(self) -> SparkSession:
        """The Spark session, asked of the factory once (again only after the factory failed)."""
        if self._spark is None:
            self._spark = self.spark_factory()
        return self._spark

    def run(self, readable: Sequence[PrecheckResult]) -> dict[int, FileOutcome]:
        """The outcome of every file of ``readable``, the staging holding the output of the SUCCEEDED ones."""
        checks = {c.file.file_id: c for c in readable}
        aliases = {c.file.key: (alias, c.processed.etag) for c in readable
                   if (alias := spark_alias(c.file.file_id, c.file.key))}
        root = pub.staging_root(self.layout, self.batch_id)
        with spark_paths(self.store, [c.file.key for c in readable], pub.curated_staging(self.layout, self.batch_id),
                         pub.dead_letter_staging(self.layout, self.batch_id), self.io_workers,
                         scratch_prefix=root + "scratch/", aliases=aliases) as paths:
            return self._convert_until_clean(checks, paths)

    def _convert_until_clean(self, checks: dict[int, PrecheckResult], paths: SparkPaths) -> dict[int, FileOutcome]:
        from runtime.spark.convert import SourceFile

        sources = {file_id: SourceFile(file_id=file_id, key=c.file.key, spark_path=paths.source_path(c.file.key),
                                       lineage_path=lineage_uri(self.store, c.file.key),
                                       json_layout=c.json_layout, source_version=c.file.version)
                   for file_id, c in checks.items()}
        outcomes: dict[int, FileOutcome] = {}
        remaining, narrowed, wrote = list(checks), False, False
        while remaining:
            if wrote:  # an earlier conversion of this batch wrote output: start from empty
                paths.reset()
            wrote = True
            try:
                result = self._convert([sources[i] for i in remaining], paths.curated_path, paths.dead_letter_path)
            except (RunStopped, StoragePermissionError):
                raise
            except Exception as exc:
                cause = root_cause(exc)
                if narrowed:  # the files converted one part at a time, yet not together: not theirs
                    raise RunStopped(f"run stopped: the conversion fails though no file fails on its own ({cause}); "
                                     "no file was charged an attempt", cause) from exc
                log.warning("batch %s: conversion failed (%s): narrowing it to the files that cause it",
                            self.batch_id, cause)
                narrowed = True
                culprits = self._narrowing(paths).run([sources[i] for i in remaining], cause)
                for source, why in culprits:
                    outcomes[source.file_id] = _failed(checks[source.file_id], CULPRIT_PREFIX + why)
                remaining = [i for i in remaining if i not in outcomes]
                continue
            changed = verify_unchanged(self.store, [checks[i].processed for i in remaining], self.io_workers)
            if changed:  # overwritten between the pre-check and Spark's read: which version was read?
                for file in changed:
                    outcomes[file.file_id] = _failed(checks[file.file_id], (
                        "object changed while being read; the lister registers the new version"))
                remaining = [i for i in remaining if i not in outcomes]
                continue
            outcomes.update({i: classify(checks[i], result.counts[i], result.unreadable.get(i)) for i in remaining})
            break
        else:
            if wrote:  # every file ended FAILED: nothing of theirs may stay staged
                paths.reset()
        return outcomes

    def _convert(self, files: Sequence[SourceFile], curated: str | None, dead_letter: str | None) -> ConversionResult:
        """One conversion (``None`` paths: a dry run); a failure that is no file's raises :class:`RunStopped`."""
        from runtime.spark.convert import convert_batch

        try:
            return convert_batch(self.spark(), files, self.spec, curated_path=curated, dead_letter_path=dead_letter)
        except SpecError as exc:
            raise RunStopped(f"run stopped: {exc}; no file was charged an attempt", str(exc)) from exc

    def _narrowing(self, paths: SparkPaths) -> Narrowing[SourceFile]:
        def attempt(files: Sequence[SourceFile]) -> Attempt:
            try:
                result = self._convert(files, None, None)
            except (RunStopped, StoragePermissionError):
                raise
            except Exception as exc:
                return Attempt(root_cause(exc))
            return Attempt(None, sum(c.records_good for c in result.counts.values()))

        def probe() -> str | None:
            from runtime.spark.write import probe_output

            try:
                probe_output(self.spark(), paths.probe_path)
            except Exception as exc:
                return root_cause(exc)
            return None

        return Narrowing(attempt, probe)
