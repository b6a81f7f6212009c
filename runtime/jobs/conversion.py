"""Step 3 of the batch protocol: Spark converts the batch's readable files into its staging, and every failure is
charged to the file that causes it, or to no file at all.

:meth:`BatchConversion.run` converts all readable files at once (the normal case: one Spark conversion). A file
that cannot be made readable to Spark (:mod:`runtime.jobs.spark_staging`: a download, alias copy or link that
fails) is FAILED on its own and the others are converted without it. When the conversion fails,
:class:`runtime.jobs.narrowing.Narrowing` finds the culprits with dry runs, each culprit is recorded FAILED with the
root cause of its own failure (retried with backoff, alone, quarantined after ``--max-attempts``), and the other
files are converted together again, for real: the staging holds one conversion of exactly the good files, so the
manifest, the publish and their exactly-once guarantees are those of any batch.

When the good files do not convert together although each part of them did (or no culprit was found), the largest
part proved good is converted and the other files are given back uncharged (a PENDING outcome), claimed next in
batches of at most that part's size: the run makes progress and never leaves the same batch to fail again. Should
that part fail when written although it converted in a dry run (a failure only the write shows), its files are
given back the same way in halves, down to a file alone, which is charged. A file that got a new ETag while Spark
read it is FAILED the same way (its new version is registered by the lister) and the others are converted again
without it.

A failure that belongs to no file raises :class:`~runtime.errors.RunStopped` and charges no file: a spec or hook
that cannot be used (:class:`~runtime.errors.SpecError`), a probe that fails without any file, every file failing
the same way. A refused storage request of every file (:class:`~runtime.storage.base.StoragePermissionError`)
stops the run as it is. ``stop_check`` is called before every conversion and dry run and after a failed one: a
conversion that a stop request cancelled is no file's failure, and nothing is narrowed or converted again after it.
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
from runtime.jobs.spark_staging import SparkInput, SparkPaths, spark_paths
from runtime.layout import Layout
from runtime.spark.failures import root_cause
from runtime.spark.names import id_name, spark_alias, unreadable_reason
from runtime.storage.base import ObjectStore, StoragePermissionError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from runtime.spark.convert import ConversionResult, FileCounts, SourceFile
    from runtime.transforms.spec import TransformSpec

log = logging.getLogger(__name__)

#: Prefix of the error of a file found to fail the conversion on its own.
CULPRIT_PREFIX = "conversion fails on this file alone: "


def classify(check: PrecheckResult, counts: FileCounts, unreadable: str | None = None,
             spec_version: str | None = None) -> FileOutcome:
    """The outcome of a file Spark read: SUCCEEDED with at least one good record (``records_good`` is what was
    written, after the hook); QUARANTINED when it cannot yield one (unreadable, every record bad, or no record at
    all). Retrying is :mod:`runtime.jobs.retry`'s. Records the rescued-data counts and evidence, and the spec
    version."""
    good, bad = counts.records_good, counts.records_bad
    if unreadable:
        return _outcome(check, FileState.QUARANTINED, unreadable, records_good=0, records_bad=0,
                        spec_version=spec_version)
    rescue = {"records_rescued": counts.records_rescued, "rescued_fields": counts.rescued_fields or None,
              "spec_version": spec_version}
    if good > 0:
        return _outcome(check, FileState.SUCCEEDED, None, records_good=counts.written, records_bad=bad, **rescue)
    if bad > 0:
        reason = f"no good record: all {bad} records malformed or invalid (see the dead-letter prefix)"
    else:
        reason = "no JSON record in the file (empty or whitespace-only)"
    return _outcome(check, FileState.QUARANTINED, reason, records_good=good, records_bad=bad, **rescue)


def schema_changed(new_fields: Sequence[str], spec_version: str, unchecked: int = 0) -> str:
    """The error of a file stopped by ``schema_policy: fail``: for its new fields, or for ``unchecked`` records whose
    fields could not be checked (read by a leniency of Spark's parser that the fallback's Python check lacks)."""
    if not new_fields:
        return (f"schema unchecked: {unchecked} record(s) only Spark's lenient JSON options (json.allow) read could "
                f"not be checked for new fields by the fallback parse (spec version {spec_version}); run where the "
                "native parse is usable (docs/rescued-data.md) or set schema_policy: rescue (which keeps such a record "
                "whole in _rescued_data), then mldp requeue")
    shown = ", ".join(new_fields[:20]) + (f" and {len(new_fields) - 20} more" if len(new_fields) > 20 else "")
    return (f"schema changed: new fields {shown} (spec version {spec_version}); add them to the spec (or set "
            "schema_policy: rescue or ignore), then mldp requeue")


def spark_read_alias(store: ObjectStore, file_id: int, key: str) -> str | None:
    """The name Spark must read ``key`` under, or ``None`` when its own path reads as intended: a name Spark would
    skip or decode with another codec (:func:`runtime.spark.names.spark_alias`), and a path Spark cannot open as
    the object it names (``//``, ``.`` or ``..`` in an S3 key Spark reads directly, as on Glue; a glob character
    with ``:``), which it then reads through a link or a staged copy (:mod:`runtime.jobs.spark_staging`)."""
    alias = spark_alias(file_id, key)
    if alias is None and unreadable_reason(store.spark_path(key)):
        return id_name(file_id, key)
    return alias


def lineage_uri(store: ObjectStore, key: str) -> str:
    """The ``source_s3_path`` of a raw file: ``s3://bucket/key`` on S3, the absolute file path locally."""
    return store.url.rstrip("/") + "/" + key


def _outcome(check: PrecheckResult, state: FileState, reason: str | None, **fields: object) -> FileOutcome:
    """An outcome of a file the pre-check read: with the ETag and size it read (the version processed)."""
    file = check.file
    return FileOutcome(file.file_id, file.key, state, reason, size=check.size, etag=check.processed.etag,
                       version=file.version, archived_key=file.archived_key, **fields)  # type: ignore[arg-type]


def _given_back(check: PrecheckResult, part_size: int,
                why: str = "its batch does not convert together although each part of it does") -> FileOutcome:
    return _outcome(check, FileState.PENDING, f"given back uncharged: {why}; claimed next in batches of at most "
                                              f"{part_size}", claim_limit=part_size)


@dataclass
class BatchConversion:
    """The conversion of one batch's readable files (see the module docstring)."""

    store: ObjectStore
    spark_factory: Callable[[], SparkSession]
    spec: TransformSpec
    layout: Layout
    batch_id: str
    io_workers: int = 16
    stop_check: Callable[[], None] = lambda: None
    #: the curated files keep their partition columns (an Iceberg table's staging)
    keep_partition_columns: bool = False
    _spark: SparkSession | None = None

    def spark(self) -> SparkSession:
        """The Spark session, asked of the factory once (again only after the factory failed)."""
        if self._spark is None:
            self._spark = self.spark_factory()
        return self._spark

    def run(self, readable: Sequence[PrecheckResult]) -> dict[int, FileOutcome]:
        """The outcome of every file of ``readable``, the staging holding the output of the SUCCEEDED ones."""
        inputs = [SparkInput(c.file.read_key, c.file.file_id, c.processed.etag,
                             spark_read_alias(self.store, c.file.file_id, c.file.read_key)) for c in readable]
        root = pub.staging_root(self.layout, self.batch_id)
        with spark_paths(self.store, inputs, pub.curated_staging(self.layout, self.batch_id),
                         pub.dead_letter_staging(self.layout, self.batch_id), self.io_workers,
                         scratch_prefix=root + "scratch/") as paths:
            outcomes = {c.file.file_id: _outcome(c, why.state, why.reason) for c in readable
                        if (why := paths.unavailable.get(c.file.read_key))}
            checks = {c.file.file_id: c for c in readable if c.file.file_id not in outcomes}
            outcomes.update(self._convert_until_clean(checks, paths))
            return outcomes

    def _convert_until_clean(self, checks: dict[int, PrecheckResult], paths: SparkPaths) -> dict[int, FileOutcome]:
        from runtime.spark.convert import SourceFile

        sources = {file_id: SourceFile(file_id=file_id, key=c.file.key, spark_path=paths.source_path(c.file.read_key),
                                       lineage_path=lineage_uri(self.store, c.file.key),
                                       json_layout=c.json_layout, source_version=c.file.version)
                   for file_id, c in checks.items()}
        outcomes: dict[int, FileOutcome] = {}
        remaining, wrote = list(checks), False
        narrowing: Narrowing[SourceFile] | None = None
        cut_to_a_good_part = False
        while remaining:
            self.stop_check()
            if wrote:  # an earlier conversion of this batch wrote output: start from empty
                paths.reset()
            wrote = True
            try:
                result = self._convert([sources[i] for i in remaining], paths.curated_path, paths.dead_letter_path)
            except (RunStopped, StoragePermissionError):
                raise
            except Exception as exc:
                self.stop_check()  # a conversion a stop cancelled is no file's failure: stop, narrow nothing
                cause = root_cause(exc)
                if cut_to_a_good_part:  # a part that converted in a dry run fails when written
                    outcomes.update(self._dry_runs_missed(checks, remaining, cause))
                    remaining = []
                    continue
                if narrowing is None:
                    log.warning("batch %s: conversion failed (%s): narrowing it to the files that cause it",
                                self.batch_id, cause)
                    narrowing = self._narrowing(paths)
                    for source, why in narrowing.run([sources[i] for i in remaining], cause):
                        outcomes[source.file_id] = _outcome(checks[source.file_id], FileState.FAILED,
                                                            CULPRIT_PREFIX + why, claim_limit=1)
                    remaining = [i for i in remaining if i not in outcomes]
                    if narrowing.culprits:
                        continue  # the good files together, once
                log.warning("batch %s: the files convert in parts but not together (%s): converting the largest part "
                            "proved good, giving the others back uncharged", self.batch_id, cause)
                part = self._largest_good_part(narrowing, remaining)
                for i in remaining:
                    if i not in part:
                        outcomes[i] = _given_back(checks[i], len(part))
                remaining, cut_to_a_good_part = [i for i in remaining if i in part], True
                continue
            changed = verify_unchanged(self.store, [checks[i].processed for i in remaining], self.io_workers)
            if changed:  # overwritten between the pre-check and Spark's read: which version was read?
                for file in changed:
                    outcomes[file.file_id] = _outcome(checks[file.file_id], FileState.FAILED, (
                        "object changed while being read; the lister registers the new version"))
                remaining = [i for i in remaining if i not in outcomes]
                continue
            version = self.spec.content_hash if self.spec is not None else None
            if self.spec is not None and self.spec.schema_policy == "fail":  # new fields stop a file; the rest again
                stopped = [i for i in remaining if result.counts[i].new_fields or result.counts[i].unchecked]
                for i in stopped:
                    outcomes[i] = _outcome(checks[i], FileState.FAILED, schema_changed(
                        result.counts[i].new_fields, str(version), result.counts[i].unchecked), held=True,
                        rescued_fields=result.counts[i].rescued_fields or None, spec_version=version)
                if stopped:
                    remaining = [i for i in remaining if i not in outcomes]
                    continue
            outcomes.update({i: classify(checks[i], result.counts[i], result.unreadable.get(i), version)
                             for i in remaining})
            break
        else:
            if wrote:  # every file ended FAILED or given back: nothing of theirs may stay staged
                paths.reset()
        return outcomes

    def _dry_runs_missed(self, checks: dict[int, PrecheckResult], failing: Sequence[int],
                         cause: str) -> dict[int, FileOutcome]:
        """Files that convert in a dry run but fail when written (a failure only the write shows): a file alone is
        the culprit; several are given back uncharged, claimed next in batches of half as many, so that across runs
        the one that fails is found alone and charged (never the same batch failing again and again)."""
        log.warning("batch %s: %d files convert in a dry run but fail when written (%s)", self.batch_id,
                    len(failing), cause)
        if len(failing) == 1:
            return {failing[0]: _outcome(checks[failing[0]], FileState.FAILED, CULPRIT_PREFIX + cause,
                                         claim_limit=1)}
        half = (len(failing) + 1) // 2
        return {i: _given_back(checks[i], half, "converts in a dry run but fails when written") for i in failing}

    @staticmethod
    def _largest_good_part(narrowing: Narrowing[SourceFile], remaining: Sequence[int]) -> set[int]:
        """The file ids of the largest part proved good whose files are all still to convert (at least one file:
        every file not blamed is in some part proved good)."""
        candidates = [{s.file_id for s in part} for part in narrowing.good_parts]
        left = set(remaining)
        usable = [part for part in candidates if part and part <= left]
        if not usable:  # cannot happen after a complete narrowing; convert one file rather than none
            return {remaining[0]}
        return max(usable, key=len)

    def _convert(self, files: Sequence[SourceFile], curated: str | None, dead_letter: str | None) -> ConversionResult:
        """One conversion (``None`` paths: a dry run); a failure that is no file's raises :class:`RunStopped`."""
        from runtime.spark.convert import convert_batch

        try:
            return convert_batch(self.spark(), files, self.spec, curated_path=curated, dead_letter_path=dead_letter,
                                 keep_partition_columns=self.keep_partition_columns)
        except SpecError as exc:
            raise RunStopped(f"run stopped: {exc}; no file was charged an attempt", str(exc)) from exc

    def _narrowing(self, paths: SparkPaths) -> Narrowing[SourceFile]:
        def attempt(files: Sequence[SourceFile]) -> Attempt:
            try:
                result = self._convert(files, None, None)
            except (RunStopped, StoragePermissionError):
                raise
            except Exception as exc:
                self.stop_check()
                return Attempt(root_cause(exc))
            return Attempt(None, sum(c.records_good for c in result.counts.values()))

        def probe() -> str | None:
            from runtime.spark.write import probe_output

            try:
                probe_output(self.spark(), paths.probe_path)
            except Exception as exc:
                self.stop_check()
                return root_cause(exc)
            return None

        return Narrowing(attempt, probe, stop_check=self.stop_check)
