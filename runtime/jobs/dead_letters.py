"""The dead letters a file's latest conversion replaces: removed once its new outcome is committed.

``mldp reprocess`` converts a SUCCEEDED file again from its archived copy (the same version, the same bytes); the
batch publishes the file's bad records under its own ``batch_id=<batch>/file_id=<id>/`` folder, and its Iceberg
commit replaces the file's rows. The folders of the file's earlier conversions of that version would stay beside the
new one, and a reader of the whole dead-letter prefix would see the file's bad records once per conversion: once
the tracking commit recorded the file SUCCEEDED in the batch, :func:`remove_replaced` deletes them, so the prefix
holds each file's bad records once, from its latest conversion (none when the current spec finds every record good:
the table then holds them, e.g. rescued by ``on_type_mismatch: rescue``; the archived copy keeps the raw bytes and
the history the old counts and folders). The same holds for a file QUARANTINED with its dead letters published,
then re-queued by ``mldp requeue`` (e.g. after a spec change) and SUCCEEDED: its latest conversion's dead letters
replace the earlier ones (the same version, the same bytes; a QUARANTINED file has no rows to keep).

Which folders: the tracking database's record of where each outcome published its dead letters (the history's
``dead_letter_path``, :meth:`runtime.db.tracking.TrackingStore.replaced_dead_letters`), never a listing of the whole
prefix; each folder is then listed alone (the narrowest prefix, ``batch_id=<earlier>/file_id=<id>/``) and its objects
deleted through the store (local or S3). Never the batch's own folder nor a later conversion's, never one of
another version (a new version is other content: its older version's dead letters stay), nothing for a file the
batch did not record SUCCEEDED (a reprocess that failed keeps its old rows, so its old dead letters too).

When: after the tracking commit, before the batch's staging is deleted
(:meth:`runtime.jobs.batch.BatchProtocol.finish`). The staging of a closed batch is the mark of work left (batch
staging never expires): a crash between the commit and the removal leaves it, and the next run, which deletes the
staging of closed batches first thing (:meth:`runtime.jobs.recovery.Recovery.clean_finished_staging`), removes the
replaced dead letters the batch's manifest and the history name before it deletes that staging. A removal that fails
keeps the staging for the next run; one that runs twice finds nothing left to delete.
"""

from __future__ import annotations

import logging

from runtime.db.states import FileState
from runtime.db.tracking import TrackingStore
from runtime.jobs import publish as pub
from runtime.layout import Layout
from runtime.storage.base import ObjectStore

log = logging.getLogger(__name__)


def succeeded_file_ids(manifest: pub.Manifest) -> list[int]:
    """The files of ``manifest`` that SUCCEEDED: only their earlier dead letters are replaced (a file converted
    before, of the same version: re-queued by ``mldp reprocess``, or by ``mldp requeue`` after it was QUARANTINED
    with its dead letters published)."""
    return sorted(o.file_id for o in manifest.outcomes if o.status is FileState.SUCCEEDED)


def is_file_folder(layout: Layout, path: str, file_id: int) -> bool:
    """``path`` is one file's dead-letter folder of one batch under the layout's prefix
    (:func:`runtime.jobs.publish.dead_letter_folder`), never a wider prefix."""
    rest = path.removeprefix(layout.dead_letter_prefix)
    parts = rest.split("/")
    return (rest != path and len(parts) == 3 and parts[0].startswith("batch_id=") and len(parts[0]) > 9
            and parts[1] == f"file_id={file_id}" and parts[2] == "")


def replaced_folders(tracking: TrackingStore, layout: Layout, manifest: pub.Manifest) -> list[str]:
    """The dead-letter folders of the earlier conversions of the reprocessed files ``manifest``'s batch recorded
    SUCCEEDED (empty when it has none, or has not recorded them yet)."""
    file_ids = succeeded_file_ids(manifest)
    if not file_ids:
        return []
    folders = []
    for file_id, path in tracking.replaced_dead_letters(manifest.batch_id, file_ids):
        if is_file_folder(layout, path, file_id):
            folders.append(path)
        else:  # another prefix (the layout changed since) or not a folder of ours: never deleted
            log.warning("batch %s: earlier dead letters of file %s at %s left in place (not a file folder under %s)",
                        manifest.batch_id, file_id, path, layout.dead_letter_prefix)
    return folders


def remove_replaced(store: ObjectStore, tracking: TrackingStore, layout: Layout, manifest: pub.Manifest) -> bool:
    """Delete the dead letters the reprocessed files of ``manifest``'s committed batch replace
    (:func:`replaced_folders`; see the module docstring). Idempotent. True when nothing is left to delete; False
    when the removal failed (logged): the caller keeps the batch's staging, so that the next run removes them."""
    try:
        folders = replaced_folders(tracking, layout, manifest)
        keys = [obj.key for folder in folders for obj in store.list(folder)]
        # the objects, then each folder (a local directory goes once empty; on S3 there is no folder object)
        failed = store.delete_many([*keys, *folders]) if folders else []
    except Exception as exc:  # the store refused, or the database is away: the staging stays, the next run retries
        log.error("batch %s: the dead letters its reprocessed files replace were not removed (%s: %s); the next run "
                  "removes them", manifest.batch_id, type(exc).__name__, exc)
        return False
    if failed:
        log.error("batch %s: %d replaced dead-letter objects not deleted, e.g. %s; the next run removes them",
                  manifest.batch_id, len(failed), failed[0])
        return False
    if keys:
        log.info("batch %s: %d dead-letter objects of earlier conversions removed from %s", manifest.batch_id,
                 len(keys), ", ".join(folders))
    return True


def clean_committed(store: ObjectStore, tracking: TrackingStore, layout: Layout, manifest: pub.Manifest) -> bool:
    """The last step of a committed batch: remove the dead letters its reprocessed files replace
    (:func:`remove_replaced`), then delete its staging. When the removal failed the staging stays (the mark of the
    work left, for the next run's :meth:`runtime.jobs.recovery.Recovery.clean_finished_staging`); returns whether
    the staging was deleted."""
    if not remove_replaced(store, tracking, layout, manifest):
        return False
    pub.clean_staging(store, layout, manifest.batch_id)
    return True
