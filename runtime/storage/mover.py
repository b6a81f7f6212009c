"""Parallel moves (copy, then delete) inside one object store: how processed raw files are archived.

Cost on S3 with sizes known: one ``CopyObject`` per file plus one ``DeleteObjects`` per 1,000 files. Only the
recovery path (a source already gone) adds a ``HeadObject`` on the destination.

Safety: a source is deleted only after every copy of it succeeded, and only while it is still the version that
was copied (a conditional delete on the move's expected ETag), and a batch that could overwrite what it
is about to delete (two sources onto one destination, a destination that is also a source) is refused for
the moves involved, so a failure never loses a file. Re-running the same moves is harmless: a source that is
already gone while its destination exists counts as moved.

A refusal (:class:`StoragePermissionError`, S3's 403) belongs to no file: it is raised, never reported as one
move's failure, so the run stops instead of retrying every file forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from runtime.storage.base import ObjectNotFound, ObjectStore, ObjectStoreError, SourceChanged, StoragePermissionError
from runtime.storage.sdk_check import SdkTooOld

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Move:
    """Move ``source`` to ``destination``; ``size`` (from the listing) lets S3 copy in one request."""

    source: str
    destination: str
    size: int | None = None
    #: only move the source while it still has this ETag (what was processed), never a newer version
    expected_etag: str | None = None


@dataclass
class MoveReport:
    """What :func:`move_objects` did: moves now complete, and the sources it kept with the reason."""

    moved: list[Move] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # source key -> error message
    #: sources copied whose delete failed (kept in place for a failure, not because a newer version replaced them)
    not_deleted: list[str] = field(default_factory=list)


_COPIED = "copied"
_ALREADY = "already moved"


def _plan(moves: Sequence[Move], failed: dict[str, str]) -> list[Move]:
    """The moves that are safe to run together; the others go to ``failed``. Drops exact duplicates."""
    sources = {m.source for m in moves}
    claimed: dict[str, str] = {}  # destination -> the source that owns it
    seen: set[tuple[str, str]] = set()
    plan: list[Move] = []
    for move in moves:
        pair = (move.source, move.destination)
        if pair in seen:
            continue
        seen.add(pair)
        if move.source == move.destination:
            failed[move.source] = "source and destination are the same key"
        elif move.destination in sources:
            failed[move.source] = f"destination {move.destination} is also a source in this batch"
        elif claimed.setdefault(move.destination, move.source) != move.source:
            failed[move.source] = (
                f"destination {move.destination} is also the destination of {claimed[move.destination]}"
            )
        else:
            plan.append(move)
    return plan


def _copy_one(store: ObjectStore, move: Move) -> str:
    """Copy one move; returns ``_COPIED``, ``_ALREADY`` or an error message (raises only
    :class:`StoragePermissionError`)."""
    try:
        store.copy(move.source, move.destination, size=move.size, if_match=move.expected_etag)
        return _COPIED
    except SourceChanged as err:
        return f"not moved: {err} (a new version; the lister registers it)"
    except ObjectNotFound:
        try:
            if store.exists(move.destination):
                return _ALREADY
        except StoragePermissionError:
            raise
        except Exception as err:
            return f"source {move.source} is missing and checking {move.destination} failed: {err}"
        return f"source {move.source} does not exist and neither does {move.destination}"
    except StoragePermissionError:
        raise  # belongs to no file: stops the run
    except Exception as err:
        return f"copy to {move.destination} failed: {err}"


def _gone(store: ObjectStore, source: str) -> bool:
    """``source`` no longer exists, and its copy is done, so the move is: a delete reported as failed may have
    happened (S3 carried a ``DeleteObjects`` out and its answer was lost)."""
    try:
        store.head(source)
    except ObjectNotFound:
        return True
    except StoragePermissionError:
        raise
    except Exception:  # unreadable: not known to be gone, the delete's failure stands
        return False
    return False


def _changed_reason(store: ObjectStore, source: str, etag: str | None) -> str | None:
    """Why a conditional delete kept ``source``, when it is because a newer version replaced it."""
    if etag is None:
        return None
    try:
        current = store.head(source).etag
    except StoragePermissionError:
        raise
    except Exception:  # gone or unreadable: the generic reason stands
        return None
    if current == etag:
        return None
    return f"it changed after the copy (ETag {current}, copied {etag}): the newer version is kept"


def _copy_all(store: ObjectStore, moves: list[Move], max_workers: int) -> Iterator[tuple[Move, str]]:
    """Run the copies with at most ``max_workers`` in flight, keeping a bounded number of futures queued."""
    window = max_workers * 4
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="mover") as pool:
        pending: dict[Future[str], Move] = {}
        queue = iter(moves)
        for move in queue:
            pending[pool.submit(_copy_one, store, move)] = move
            if len(pending) >= window:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        for future, move in list(pending.items()):
            yield move, future.result()


def move_objects(store: ObjectStore, moves: Sequence[Move], max_workers: int = 16) -> MoveReport:
    """Copy every source to its destination in parallel (``max_workers`` copies in flight), then delete the
    copied sources with :meth:`ObjectStore.delete_many` (1,000 keys per request on S3).

    A move that fails is reported in ``failed`` (keyed by source) and its source is kept; a copied source whose
    delete failed (not because a newer version replaced it) is also listed in ``not_deleted``. A source that is
    gone while its destination exists counts as moved (idempotent re-runs). ``moved`` keeps input order.
    A :class:`StoragePermissionError`, and an SDK that cannot send the deletes
    (:class:`~runtime.storage.sdk_check.SdkTooOld`), are raised, not reported: they belong to no file and stop the
    run (see the module docstring); a delete's carries in ``keys`` the sources it left in place.
    """
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    failed: dict[str, str] = {}
    plan = _plan(moves, failed)
    outcomes: dict[Move, str] = {}
    if plan:
        for move, outcome in _copy_all(store, plan, min(max_workers, len(plan))):
            outcomes[move] = outcome
            if outcome not in (_COPIED, _ALREADY):
                failed.setdefault(move.source, outcome)

    copied = (m.source for m in plan if outcomes[m] == _COPIED and m.source not in failed)
    to_delete = list(dict.fromkeys(copied))
    destination_of = {m.source: m.destination for m in plan}
    # the delete is conditional on the ETag that was copied: an upload landing between copy and delete is kept
    expected = {m.source: m.expected_etag for m in plan if m.expected_etag}
    not_deleted: list[str] = []
    if to_delete:
        try:
            undeleted = store.delete_many(to_delete, if_match=expected)
        except (StoragePermissionError, SdkTooOld) as stopping:  # the run's, never a file's: raised, not reported
            stopping.keys = stopping.keys or list(to_delete)  # the sources not deleted, for the run's tally
            stopping.failed_moves = dict(failed)  # and those whose copy had failed: the tally counts both
            raise
        except ObjectStoreError as err:
            undeleted = to_delete
            reason = str(err)
        else:
            reason = "delete failed"
        for source in undeleted:
            if _gone(store, source):  # deleted though the answer was lost (retries used up): moved, not failed
                continue
            changed = _changed_reason(store, source, expected.get(source))
            if changed is None:
                not_deleted.append(source)
            failed[source] = f"copied to {destination_of[source]} but the source was not deleted: " + (
                changed or reason)

    moved = [m for m in plan if outcomes[m] in (_COPIED, _ALREADY) and m.source not in failed]
    if failed:
        log.warning("moved %d objects, %d sources kept after failures", len(moved), len(failed))
    else:
        log.info("moved %d objects", len(moved))
    return MoveReport(moved=moved, failed=failed, not_deleted=not_deleted)
