"""Archiving: moving SUCCEEDED raw files to the processed prefix (``raw-json-data-processed/``), after a batch's
outcome is committed and, at the start of every run, for files an earlier run left unarchived (a crash between
commit and archive, or a move that failed).

A move copies only the processed version (``CopySourceIfMatch`` on its ETag) and deletes the source after the copy;
the archived key of each moved file is recorded in bulk, in two halves, so an interrupted archive has recorded what
it moved. A file overwritten since it was processed is not moved (the lister registers its new version). A row
processed before the processed ETag was recorded (none stored) is moved only while the object in place was not
modified after the file's last outcome, with that object's ETag as the condition: never unconditionally.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from runtime.db.records import ArchiveItem, FileOutcome
from runtime.db.states import FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs.checkpoints import Checkpoint, CrashHook, no_crash
from runtime.layout import Layout
from runtime.storage.base import ObjectNotFound, ObjectStore, StoragePermissionError
from runtime.storage.mover import Move, move_objects
from runtime.storage.sdk_check import SdkTooOld

log = logging.getLogger(__name__)

#: How many leftover files one run archives before it claims new work.
LEFTOVER_LIMIT = 10_000


def succeeded_items(outcomes: Sequence[FileOutcome]) -> list[ArchiveItem]:
    """The files of ``outcomes`` to archive: the SUCCEEDED ones, as processed (key, size, ETag, version); never a
    reprocessed one (read from its archived copy: archiving it again would move whatever the raw key holds now, a
    newer upload or nothing, over that copy)."""
    return [ArchiveItem(o.file_id, o.key, o.size, o.etag, o.version)
            for o in outcomes if o.status is FileState.SUCCEEDED and o.archived_key is None]


@dataclass
class ArchiveCounts:
    """What the archivers of one run could not do, summed over the run (published as a metric at its end)."""

    #: raw files copied to their archived key whose delete failed (a newer upload kept on purpose is not counted)
    delete_failures: int = 0
    #: raw files not archived, for any reason (the delete failures included)
    failures: int = 0


@dataclass
class Archiver:
    """Moves raw files to their archived key and records it. ``enabled=False`` (``ProcessorSettings.archive``)
    leaves raw files in place."""

    store: ObjectStore
    tracking: TrackingStore
    layout: Layout
    io_workers: int
    #: a test's hook at the crash checkpoint between the two halves (the product's does nothing)
    checkpoint: CrashHook = no_crash
    enabled: bool = True
    #: the run's tally, shared by every archiver of the run (a fresh one when not given)
    counts: ArchiveCounts = field(default_factory=ArchiveCounts)

    def archive(self, items: Sequence[ArchiveItem]) -> int:
        """Move ``items`` in parallel, then record their archived keys in bulk, in two halves (the checkpoint
        ``mid_archive`` between them). Returns how many files were archived."""
        if not items or not self.enabled:
            return 0
        half = (len(items) + 1) // 2
        archived = self._archive_group(items[:half])
        self.checkpoint(Checkpoint.MID_ARCHIVE)
        return archived + self._archive_group(items[half:])

    def archive_leftovers(self, limit: int = LEFTOVER_LIMIT) -> int:
        """Archive SUCCEEDED files a crash or a failed move left in the raw prefix (up to ``limit``)."""
        return self.archive(self.tracking.unarchived(limit))

    def _archive_group(self, items: Sequence[ArchiveItem]) -> int:
        items = self._with_processed_etags(items)
        if not items:
            return 0
        destination = {item.file_id: self.layout.archived_key(item.key, item.version) for item in items}
        moves = [Move(item.key, destination[item.file_id], item.size, item.etag) for item in items]
        try:
            report = move_objects(self.store, moves, max_workers=self.io_workers)
        except (StoragePermissionError, SdkTooOld) as stopping:  # the run's, never a file's: counted all the same
            if isinstance(stopping, SdkTooOld) or stopping.action == "s3:DeleteObject":
                # exactly the copied sources the refused (or unsendable) deletes left in place (mover sets keys)
                self.counts.delete_failures += len(stopping.keys)
                self.counts.failures += len(stopping.keys) + len(stopping.failed_moves)
            raise
        for source, error in report.failed.items():
            log.error("could not archive %s (kept in place, retried next run): %s", source, error)
        self.counts.failures += len(report.failed)
        self.counts.delete_failures += len(report.not_deleted)
        moved = {move.source for move in report.moved}
        archived = {item.file_id: destination[item.file_id] for item in items if item.key in moved}
        self.tracking.record_archived(archived)
        if report.failed:
            self.tracking.record_archive_failures([item.file_id for item in items if item.key in report.failed])
        return len(archived)

    def _with_processed_etags(self, items: Sequence[ArchiveItem]) -> list[ArchiveItem]:
        """``items``, each with the ETag of the version to move. A row processed before the processed version was
        recorded has none: the object in place is that version only if it was not modified after the file's last
        outcome (the lister's rule for such rows, :data:`runtime.db.queries.REGISTER_INCOMING`); a newer one is
        left in place for the lister to register, never moved unprocessed."""
        known = [item for item in items if item.etag is not None]
        unknown = [item for item in items if item.etag is None]
        if not unknown:
            return known
        with ThreadPoolExecutor(max_workers=min(self.io_workers, len(unknown))) as pool:
            found = list(pool.map(self._processed_version, unknown))
        return known + [item for item in found if item is not None]

    def _processed_version(self, item: ArchiveItem) -> ArchiveItem | None:
        try:
            info = self.store.head(item.key)
        except ObjectNotFound:  # already moved (or gone): the move itself tells which
            return item
        if item.processed_at is not None and info.last_modified > item.processed_at:
            log.warning("not archiving %s: modified at %s, after it was processed at %s (no ETag was recorded); "
                        "the lister registers it as a new version", item.key, info.last_modified, item.processed_at)
            return None
        return replace(item, etag=info.etag)
