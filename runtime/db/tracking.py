"""The tracking store: every statement the processor (and the demo) runs against the tracking database, behind
named methods that return typed rows (:mod:`runtime.db.records`). Callers never hold a cursor.

Each method is one transaction: it commits what it did, or rolls back and re-raises. The SQL text is in
:mod:`runtime.db.queries`. Python 3.9-compatible (the lister's metrics import it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from runtime.db import dead_letter_queries, lease_queries, operator_queries, queries
from runtime.db.records import (
    ArchiveItem,
    BacklogGauges,
    ClaimedFile,
    FileOutcome,
    FileProblem,
    LeaseStatus,
    OpenBatch,
    Owner,
    RetryRule,
)
from runtime.db.states import BatchState, FileState
from runtime.errors import MldpError

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection
    from psycopg2.extensions import cursor as Cursor


class LeaseLost(MldpError, RuntimeError):
    """Another run took this batch over (our lease expired): stop without publishing or recording. Under ``mldp
    process`` it is one ``error:`` line and a failed run, exit status 1 as when it ended the run with a traceback
    (the batch is its new owner's to finish; run again for the next one)."""

    exit_status = 1


def _owner_params(owner: Owner | None) -> dict[str, object]:
    owner = owner or Owner(None)
    return {"owner_host": owner.host, "owner_pid": owner.pid, "owner_node": owner.node,
            "owner_glue_job": owner.glue_job}


class TrackingStore:
    """The tracking database of one run, on one psycopg2 connection (autocommit off).

    ``owner``: the facts about this process recorded on every batch it claims or takes over (host, pid, node,
    Glue job; :func:`runtime.jobs.owner.current_owner`), so that another run can tell when it is gone."""

    def __init__(self, conn: Connection, owner: Owner | None = None) -> None:
        self.conn = conn
        self.owner = owner

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        """A cursor whose work is committed when the block ends, rolled back when it raises."""
        try:
            with self.conn.cursor() as cur:
                yield cur
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise

    # -- the batch protocol ------------------------------------------------------------------------------------

    def claim(self, batch_id: str, job_run_id: str, batch_size: int, lease_seconds: int) -> list[ClaimedFile]:
        """Claim up to ``batch_size`` claimable files for a new batch (one statement, ``SKIP LOCKED``) and insert
        its batch row, in one transaction; the files by file id (a batch is split the same way every time it is
        narrowed). An empty list: nothing is claimable (no batch row is written)."""
        params = {"batch_id": batch_id, "job_run_id": job_run_id, "batch_size": batch_size,
                  "lease_seconds": lease_seconds, **_owner_params(self.owner)}
        with self._transaction() as cur:
            cur.execute(queries.CLAIM_BATCH, params)
            rows = cur.fetchall()
            if rows:
                cur.execute(queries.INSERT_BATCH, {**params, "file_count": len(rows),
                                                   "bytes": sum(row[3] or 0 for row in rows)})
        return sorted((ClaimedFile(*row) for row in rows), key=lambda f: f.file_id)  # RETURNING has no order

    def renew_lease(self, batch_id: str, job_run_id: str, lease_seconds: int) -> LeaseStatus:
        """Extend the lease of ``batch_id`` if it is still this run's, in one statement; the answer says whether it
        was, and if not, what became of it."""
        with self._transaction() as cur:
            cur.execute(queries.RENEW_BATCH_LEASE, {"batch_id": batch_id, "job_run_id": job_run_id,
                                                    "lease_seconds": lease_seconds})
            row = cur.fetchone()
        if row is None:
            return LeaseStatus(renewed=False, state=None, owner=None)
        renewed, state, owner, _files = row
        return LeaseStatus(renewed=bool(renewed), state=BatchState(state), owner=owner)

    def ensure_lease(self, batch_id: str, job_run_id: str, lease_seconds: int) -> None:
        """:meth:`renew_lease`, raising :class:`LeaseLost` when the batch is no longer this run's."""
        lease = self.renew_lease(batch_id, job_run_id, lease_seconds)
        if not lease.renewed:
            raise LeaseLost(f"batch {batch_id} was taken over by {lease.owner} ({lease.state}); not publishing")

    def begin_publish(self, batch_id: str, job_run_id: str, lease_seconds: int, partitions: Sequence[str]) -> None:
        """:meth:`ensure_lease`, then record that ``batch_id`` publishes from now on, into ``partitions`` (fenced:
        raises :class:`LeaseLost` when the batch is no longer this run's). A batch so marked is never abandoned by
        recovery as if nothing were published (:meth:`publish_marker`)."""
        self.ensure_lease(batch_id, job_run_id, lease_seconds)
        with self._transaction() as cur:
            cur.execute(lease_queries.MARK_PUBLISHING, {"batch_id": batch_id, "job_run_id": job_run_id,
                                                        "partitions": list(partitions)})
            if cur.fetchone() is None:
                raise LeaseLost(f"batch {batch_id} was taken over; not publishing")

    def publish_marker(self, batch_id: str) -> tuple[bool, list[str]]:
        """Whether ``batch_id`` may have published anything (:meth:`begin_publish` ran), and its partitions."""
        with self._transaction() as cur:
            cur.execute(lease_queries.PUBLISH_MARKER, {"batch_id": batch_id})
            row = cur.fetchone()
        return (bool(row[0]), list(row[1])) if row else (False, [])

    # -- owners, the run-wide heartbeat, hand-backs ----------------------------------------------------------------

    def open_batches(self, batch_id: str | None = None, limit: int = 1000) -> list[OpenBatch]:
        """The CLAIMED batches (or only ``batch_id``), those recoverable by their lease first."""
        with self._transaction() as cur:
            cur.execute(lease_queries.OPEN_BATCHES, {"batch_id": batch_id, "limit": limit})
            rows = cur.fetchall()
        return [OpenBatch(str(r[0]), Owner(r[1], r[2], r[3], r[4], r[5]), r[6], r[7], r[8], r[9], r[10], r[11])
                for r in rows]

    def take_over(self, batch: OpenBatch, job_run_id: str, lease_seconds: int, owner_gone: bool,
                  allow_held: bool = False) -> bool:
        """Make ``batch`` this run's if it is still as the caller saw it (same owner, still CLAIMED) and its lease
        expired, it was handed back, or ``owner_gone`` (the caller proved its owner gone). ``allow_held``: also a
        batch held for the operator (``mldp recover``). False: someone changed it first."""
        with self._transaction() as cur:
            cur.execute(lease_queries.TAKE_OVER_BATCH, {
                "batch_id": batch.batch_id, "expected_run_id": batch.owner.job_run_id, "job_run_id": job_run_id,
                "lease_seconds": lease_seconds, "owner_gone": owner_gone, "allow_held": allow_held,
                **_owner_params(self.owner)})
            return cur.fetchone() is not None

    def renew_run_leases(self, job_run_id: str, lease_seconds: int) -> list[str]:
        """Extend the lease of every batch run ``job_run_id`` holds (the run-wide heartbeat); the batches renewed."""
        with self._transaction() as cur:
            cur.execute(lease_queries.RENEW_RUN_LEASES, {"job_run_id": job_run_id, "lease_seconds": lease_seconds})
            rows = cur.fetchall()
        return [str(row[0]) for row in rows]

    def record_recovery_failure(self, batch_id: str, job_run_id: str, error: str, max_tries: int) -> tuple[int, bool]:
        """Count a failed recovery of ``batch_id`` (this run's, taken over): its error kept, recoverable again at
        once by another run, held for the operator once it failed ``max_tries`` times. Returns (failures so far,
        held); (0, False) when the batch is no longer this run's."""
        with self._transaction() as cur:
            cur.execute(lease_queries.RECORD_RECOVERY_FAILURE, {"batch_id": batch_id, "job_run_id": job_run_id,
                                                                "error": error, "max_tries": max_tries})
            row = cur.fetchone()
        return (int(row[0]), bool(row[1])) if row else (0, False)

    def hand_back(self, batch_id: str, job_run_id: str, reason: str, released_by: str | None = None) -> bool:
        """A batch past its manifest that this run will not finish: still CLAIMED, recoverable at once by the next
        run (which rolls it forward). False when it is no longer this run's."""
        with self._transaction() as cur:
            cur.execute(lease_queries.HAND_BACK_BATCH, {"batch_id": batch_id, "job_run_id": job_run_id,
                                                        "reason": reason, "released_by": released_by or job_run_id})
            return cur.fetchone() is not None

    def release(self, batch_id: str, job_run_id: str, reason: str, rule: RetryRule) -> int | None:
        """A batch before its manifest that this run gives back without it being its files' fault: the batch
        ABANDONED (``reason``), its files back where they were before the claim, as ``rule`` resolves a file given
        back (:meth:`runtime.jobs.retry.RetryPolicy.give_back`: PENDING, FAILED if it had failed before, the attempt
        not counted), claimable at once, one UNCLAIMED history row each; one transaction. The number of files
        returned, ``None`` when the batch is no longer this run's."""
        params = {"batch_id": batch_id, "job_run_id": job_run_id, "reason": reason, "released_by": job_run_id}
        with self._transaction() as cur:
            cur.execute(lease_queries.RELEASE_BATCH, params)
            if cur.fetchone() is None:
                return None
            cur.execute(queries.BATCH_ATTEMPTS, {"batch_id": batch_id})
            attempts = sorted(cur.fetchall())
            resolved = [rule.give_back(count) for _file_id, count in attempts]
            cur.execute(lease_queries.UNCLAIM_FILES, {
                **params, "file_ids": [file_id for file_id, _count in attempts],
                "states": [r.state.value for r in resolved], "attempts": [r.attempts for r in resolved]})
            return len(cur.fetchall())

    def record_operator_recovery(self, batch_id: str, actor: str, reason: str) -> int:
        """One RECOVER history row per PROCESSING file of ``batch_id`` (who and why); the number of files."""
        with self._transaction() as cur:
            cur.execute(lease_queries.RECORD_OPERATOR_RECOVERY, {"batch_id": batch_id, "actor": actor,
                                                                 "reason": reason})
            return len(cur.fetchall())

    def batch_ids_like(self, prefix: str) -> list[str]:
        """Up to two batch ids starting with ``prefix`` (one: the prefix names a batch)."""
        with self._transaction() as cur:
            cur.execute(lease_queries.BATCH_IDS_LIKE, {"prefix": prefix})
            rows = cur.fetchall()
        return [str(row[0]) for row in rows]

    def limit_claims(self, file_ids: Sequence[int], claim_limit: int) -> None:
        """The largest batch the files ``file_ids`` may next be claimed in (cleared when one succeeds)."""
        with self._transaction() as cur:
            cur.execute(queries.SET_CLAIM_LIMIT, {"file_ids": list(file_ids), "claim_limit": claim_limit})

    def batch_files(self, batch_id: str) -> list[ClaimedFile]:
        """The files still PROCESSING in ``batch_id``, by file id."""
        with self._transaction() as cur:
            cur.execute(queries.BATCH_FILES, {"batch_id": batch_id})
            rows = cur.fetchall()
        return [ClaimedFile(*row) for row in rows]

    def record_outcomes(self, batch_id: str, job_run_id: str, outcomes: Sequence[FileOutcome],
                        state: BatchState, policy: RetryRule, error: str | None = None) -> dict[str, int]:
        """Close batch ``batch_id`` (``COMMITTED`` or ``ABANDONED``) and record each file's outcome, as ``policy``
        resolves it from the file's attempts, with one bulk statement (plus its history rows), all in one
        transaction (:data:`runtime.db.queries.FINISH_FILES`: a row without an ETag gets the one processed; a
        PENDING outcome gives its file back uncharged; a file found overwritten since it was listed gets its new
        version registered, :data:`runtime.db.queries.REGISTER_SEEN_VERSIONS`). The batch row is the fence: raises
        :class:`LeaseLost` when the batch is no longer this run's, or when any of its files is no longer PROCESSING
        in it. Returns the count of files by final state (files given back count as PENDING)."""
        closing = {
            "job_run_id": job_run_id, "batch_id": batch_id, "state": BatchState(state), "error": error,
            "records_good": sum(o.records_good or 0 for o in outcomes),
            "records_bad": sum(o.records_bad or 0 for o in outcomes),
            "records_rescued": sum(o.records_rescued or 0 for o in outcomes),
            "spec_version": next((o.spec_version for o in outcomes if o.spec_version), None),
        }
        with self._transaction() as cur:
            cur.execute(queries.CLOSE_BATCH, closing)
            if cur.fetchone() is None:
                raise LeaseLost(f"batch {batch_id} is no longer ours to finish")
            cur.execute(queries.BATCH_ATTEMPTS, {"batch_id": batch_id})
            attempts = dict(cur.fetchall())
            resolved = [policy.resolve(o, attempts.get(o.file_id, 0)) for o in outcomes]
            cur.execute(queries.FINISH_FILES, {
                "job_run_id": job_run_id, "batch_id": batch_id,
                "file_ids": [o.file_id for o in outcomes], "states": [r.state.value for r in resolved],
                "errors": [r.error for r in resolved], "dead_letter_paths": [o.dead_letter_path for o in outcomes],
                "records_good": [o.records_good for o in outcomes], "records_bad": [o.records_bad for o in outcomes],
                "retry_in_seconds": [r.retry_in_seconds for r in resolved],
                "etags": [o.etag for o in outcomes], "sizes": [o.size if o.etag else None for o in outcomes],
                "claim_limits": [o.claim_limit for o in outcomes], "attempts": [r.attempts for r in resolved],
                "given_back": [r.given_back for r in resolved],
                "records_rescued": [o.records_rescued for o in outcomes],
                "spec_versions": [o.spec_version for o in outcomes], "held": [o.held for o in outcomes],
            })
            final = Counter(row[0] for row in cur.fetchall())
            if sum(final.values()) != len(outcomes):  # never close a batch with files left PROCESSING
                raise LeaseLost(f"batch {batch_id}: {len(outcomes) - sum(final.values())} of its files are no "
                                "longer PROCESSING in it; outcome not recorded")
            sightings = [(o.file_id, *item) for o in outcomes for item in (o.rescued_fields or ())]
            if sightings and BatchState(state) is BatchState.COMMITTED:
                cur.execute(queries.INSERT_SIGHTINGS, {
                    "batch_id": batch_id, "spec_version": closing["spec_version"],
                    "file_ids": [item[0] for item in sightings], "paths": [item[1] for item in sightings],
                    "kinds": [item[2] for item in sightings], "json_types": [item[3] for item in sightings],
                    "records": [item[4] for item in sightings], "examples": [item[5] for item in sightings]})
            seen = [o for o in outcomes if o.new_etag]
            if seen:  # overwritten after listing: their new version now, not attempt after attempt of the old one
                cur.execute(queries.SET_ACTOR, {"actor": job_run_id})
                cur.execute(queries.REGISTER_SEEN_VERSIONS, {
                    "file_ids": [o.file_id for o in seen], "etags": [o.new_etag for o in seen],
                    "sizes": [o.size for o in seen]})
        return dict(final)

    def open_batches_among(self, batch_ids: Sequence[str]) -> set[str]:
        """Which of ``batch_ids`` are still CLAIMED (their staging belongs to a run)."""
        with self._transaction() as cur:
            cur.execute(queries.OPEN_BATCHES_AMONG, {"batch_ids": list(batch_ids)})
            rows = cur.fetchall()
        return {str(row[0]) for row in rows}

    def replaced_dead_letters(self, batch_id: str) -> list[tuple[int, str]]:
        """(file id, dead-letter folder) of the earlier conversions of the same version of each file whose outcome
        ``batch_id`` recorded replaces them (:data:`runtime.db.dead_letter_queries.REPLACED_DEAD_LETTERS`: SUCCEEDED,
        or QUARANTINED with nothing converted before), and of older versions but the folder each keeps when the outcome
        is a newer version's final one; nothing for a batch that recorded no outcome."""
        with self._transaction() as cur:
            cur.execute(dead_letter_queries.REPLACED_DEAD_LETTERS, {"batch_id": batch_id})
            rows = cur.fetchall()
        return [(int(file_id), str(path)) for file_id, path in rows]

    # -- archive bookkeeping -------------------------------------------------------------------------------------

    def unarchived(self, limit: int) -> list[ArchiveItem]:
        """SUCCEEDED files whose archive move has not happened yet (a crash or a failed move), the longest waiting
        first (a failed move goes to the back, :meth:`record_archive_failures`)."""
        with self._transaction() as cur:
            cur.execute(queries.UNARCHIVED, {"limit": limit})
            rows = cur.fetchall()
        return [ArchiveItem(*row) for row in rows]

    def record_archive_failures(self, file_ids: Sequence[int]) -> None:
        """These files' moves failed: they go to the back of the leftovers' queue (:meth:`unarchived`)."""
        with self._transaction() as cur:
            cur.execute(queries.ARCHIVE_FAILED, {"file_ids": list(file_ids)})

    def record_archived(self, archived: dict[int, str]) -> None:
        """Record the archived key of each moved file (file id -> key), in bulk."""
        with self._transaction() as cur:
            cur.execute(queries.SET_ARCHIVED_KEYS, {"file_ids": list(archived),
                                                    "archived_keys": list(archived.values())})

    # -- gauges and summaries ------------------------------------------------------------------------------------

    def backlog_gauges(self) -> BacklogGauges:
        """Files still to process (PENDING, PROCESSING, FAILED), the age of the oldest, and files QUARANTINED."""
        with self._transaction() as cur:
            cur.execute(queries.BACKLOG)
            backlog, oldest_age, quarantined = cur.fetchone()
        return BacklogGauges(int(backlog), float(oldest_age), int(quarantined))

    def files_by_state(self) -> dict[str, int]:
        """How many files are in each state (only the states that have files), by state name."""
        with self._transaction() as cur:
            cur.execute(operator_queries.FILES_BY_STATE)
            rows = cur.fetchall()
        return {state: int(files) for state, files, _bytes in sorted(rows)}

    def files_needing_attention(self) -> list[FileProblem]:
        """The files FAILED or QUARANTINED, by key, with their error."""
        with self._transaction() as cur:
            cur.execute(queries.FILES_NEEDING_ATTENTION)
            rows = cur.fetchall()
        return [FileProblem(key, FileState(state), error) for key, state, error in rows]
