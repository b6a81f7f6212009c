"""The dead letters a file's latest conversion replaces: removed once its new outcome is committed.

A file can be converted more than once with the same bytes (the same version): ``mldp reprocess`` converts a
SUCCEEDED file again from its archived copy, and ``mldp requeue`` sends a QUARANTINED one (its dead letters
published) back after a spec change. Each conversion publishes the file's bad records under its own
``batch_id=<batch>/file_id=<id>/`` folder. The folders of the earlier conversions would stay beside the new one, and a
reader of the whole dead-letter prefix would see the file's bad records once per conversion. Once the tracking commit
recorded an outcome that replaces them, :func:`remove_replaced` deletes them, so the prefix holds each file's bad
records once, from its latest conversion:

* **SUCCEEDED**: the new rows and the new dead letters hold every record (none left when the current spec finds
  every record good: the table then holds them, e.g. rescued by ``on_type_mismatch: rescue``; the archived copy keeps
  the raw bytes and the history the old counts and folders);
* **QUARANTINED with its own dead letters, no earlier conversion of that version SUCCEEDED**: no rows anywhere, the
  new dead letters are all there is (a re-queued file that is QUARANTINED again);
* not a **QUARANTINED reprocess** (it keeps the old rows, so the old dead letters that go with them; its own are
  published beside them: docs/iceberg.md), nor a FAILED or given-back file (nothing published);
* a **newer version's** final outcome (SUCCEEDED or QUARANTINED) leaves each older version one folder: that of its
  last SUCCEEDED conversion, which goes with its rows (none if it had no bad record), else of its last QUARANTINED
  one: the older version never succeeds again, so the folders a QUARANTINED reprocess left beside each other would
  otherwise stay for good.

Which folders: the tracking database's record of where each outcome published its dead letters (the history's
``dead_letter_path``, :meth:`runtime.db.tracking.TrackingStore.replaced_dead_letters`, from the batch id alone),
never a listing of the whole prefix; each folder is then listed alone (the narrowest prefix,
``batch_id=<earlier>/file_id=<id>/``) and its objects deleted through the store (local or S3). Never the batch's own
folder nor a later conversion's, never the kept folder of another version (a new version is other content: its
older version's dead letters stay, once), never a folder outside the layout's dead-letter prefix (an older layout's:
logged, left).

When: after the tracking commit, before the batch's staging is deleted
(:meth:`runtime.jobs.batch.BatchProtocol.finish`). The staging of a closed batch is the mark of work left (batch
staging never expires): a crash between the commit and the removal leaves it, and the next run, which deletes the
staging of closed batches first thing (:meth:`runtime.jobs.recovery.Recovery.clean_finished_staging`), removes the
replaced dead letters the history names for that batch before it deletes that staging (its manifest is not needed:
an unreadable one changes nothing). A removal that fails keeps the staging for the next run; one that runs twice
finds nothing left to delete.
"""

from __future__ import annotations

import logging

from runtime.db.tracking import TrackingStore
from runtime.jobs import publish as pub
from runtime.layout import Layout
from runtime.storage.base import ObjectStore

log = logging.getLogger(__name__)


def is_file_folder(layout: Layout, path: str, file_id: int) -> bool:
    """``path`` is one file's dead-letter folder of one batch under the layout's prefix
    (:func:`runtime.jobs.publish.dead_letter_folder`), never a wider prefix."""
    rest = path.removeprefix(layout.dead_letter_prefix)
    parts = rest.split("/")
    return (rest != path and len(parts) == 3 and parts[0].startswith("batch_id=") and len(parts[0]) > 9
            and parts[1] == f"file_id={file_id}" and parts[2] == "")


def replaced_folders(tracking: TrackingStore, layout: Layout, batch_id: str) -> list[str]:
    """The dead-letter folders of the earlier conversions that the outcomes ``batch_id`` recorded replace (empty when
    there are none, or the batch has recorded no outcome yet)."""
    folders = []
    for file_id, path in tracking.replaced_dead_letters(batch_id):
        if is_file_folder(layout, path, file_id):
            folders.append(path)
        else:  # another prefix (the layout changed since) or not a folder of ours: never deleted
            log.warning("batch %s: earlier dead letters of file %s at %s left in place (not a file folder under %s)",
                        batch_id, file_id, path, layout.dead_letter_prefix)
    return folders


def remove_replaced(store: ObjectStore, tracking: TrackingStore, layout: Layout, batch_id: str) -> bool:
    """Delete the dead letters the outcomes of the committed batch ``batch_id`` replace (:func:`replaced_folders`;
    see the module docstring). Idempotent. True when nothing is left to delete; False when the removal failed
    (logged): the caller keeps the batch's staging, so that the next run removes them."""
    try:
        folders = replaced_folders(tracking, layout, batch_id)
        keys = [obj.key for folder in folders for obj in store.list(folder)]
        # the objects, then each folder (a local directory goes once empty; on S3 there is no folder object)
        failed = store.delete_many([*keys, *folders]) if folders else []
    except Exception as exc:  # the store refused, or the database is away: the staging stays, the next run retries
        log.error("batch %s: the dead letters its files' latest conversions replace were not removed (%s: %s); the "
                  "next run removes them", batch_id, type(exc).__name__, exc)
        return False
    if failed:
        log.error("batch %s: %d replaced dead-letter objects not deleted, e.g. %s; the next run removes them",
                  batch_id, len(failed), failed[0])
        return False
    if keys:
        log.info("batch %s: %d dead-letter objects of earlier conversions removed from %s", batch_id, len(keys),
                 ", ".join(folders))
    return True


def clean_committed(store: ObjectStore, tracking: TrackingStore, layout: Layout, batch_id: str) -> bool:
    """The last step of a committed batch: remove the dead letters its outcomes replace (:func:`remove_replaced`),
    then delete its staging. When the removal failed the staging stays (the mark of the work left, for the next run's
    :meth:`runtime.jobs.recovery.Recovery.clean_finished_staging`); returns whether the staging was deleted."""
    if not remove_replaced(store, tracking, layout, batch_id):
        return False
    pub.clean_staging(store, layout, batch_id)
    return True
