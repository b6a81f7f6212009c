"""One batch = one Iceberg commit, exactly once (docs/iceberg.md, "A batch is one commit").

The batch's curated files are first published into the table's data location under names derived from the batch
id (:mod:`runtime.jobs.publish`, after the manifest); :meth:`IcebergTable.commit_batch` then commits them in ONE
table transaction:

1. under a PostgreSQL advisory lock in the tracking database (the project's own commits to one table are
   serialized across processors);
2. on fresh table metadata, it looks for the batch id in the snapshot history (the snapshot property
   :data:`platform_contract.table.BATCH_ID_PROPERTY`): a replay after a crash between the Iceberg commit and the
   tracking commit finds it and commits nothing;
3. the staged schema's new columns are added (``union_by_name``; a retype or a drop is refused,
   :mod:`runtime.table.evolution`), the rows of earlier versions of the batch's keys
   are deleted (``source_s3_path`` of the key, ``source_version`` lower than the new one: retraction; for a file
   ``mldp reprocess`` re-queued, its version and lower: its rows from the earlier spec), and the
   files are added (``add_files``), all in the same transaction, so no reader ever sees two versions of a key or
   part of a batch;
4. a conflict with another writer (``CommitFailedException``, or ``ValidationException`` when a concurrent commit
   removed a file the retraction rewrites: the Glue compaction optimizer, another engine; after pyiceberg's own
   retries) is retried from step 2 on fresh metadata, :data:`COMMIT_ATTEMPTS` times in all, then
   :class:`TableCommitFailed` stops the run with exit status 3: no file is charged and the batch stays
   replayable (its manifest is written; the next run rolls it forward).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platform_contract.table import BATCH_ID_PROPERTY
from runtime.errors import MldpError, RunStopped
from runtime.table.catalog import TableLocation, endpoint_properties, load_or_create, load_table, open_catalog
from runtime.table.evolution import check_evolution, evolve

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from runtime.storage.base import ObjectStore

log = logging.getLogger(__name__)

#: Attempts of one batch's commit (each on fresh metadata, after pyiceberg's own retries) before the run stops.
COMMIT_ATTEMPTS = 3
#: Seconds before the second attempt (doubled for each further one).
RETRY_WAIT_SECONDS = 0.5
#: The column of the curated rows naming their raw file, and the one giving its tracking version.
LINEAGE_COLUMN = "source_s3_path"
SOURCE_VERSION_COLUMN = "source_version"


class TableCommitFailed(RunStopped):
    """The batch's Iceberg commit kept conflicting with another writer: the run stops (exit status 3) before the
    tracking commit, so no file is charged and the batch is rolled forward by the next run."""


class BatchCommitted(MldpError):
    """A batch to retract is already committed to the Iceberg table (its staging was lost after the commit)."""


@dataclass(frozen=True)
class BatchFiles:
    """What one batch commits: its data files (URIs, already in the table's data location) and, for each raw file
    it holds a later version of, the source path and that version (rows of lower versions are retracted); for each
    file it converts again (``mldp reprocess``), the source path and its version (rows of that version and lower
    are retracted: the file's rows from an earlier spec, replaced by the ones this batch adds)."""

    batch_id: str
    data_files: list[str]
    replaced: Mapping[str, int] = field(default_factory=dict)
    reprocessed: Mapping[str, int] = field(default_factory=dict)


@dataclass
class CommitCounts:
    """The run's Iceberg commits: committed, found already committed (a replay), conflicts retried, and batch
    commits that failed after every attempt (the ``IcebergCommitFailures`` metric)."""

    committed: int = 0
    already_committed: int = 0
    conflicts: int = 0
    failures: int = 0


def lock_key(location: TableLocation) -> int:
    """The advisory-lock key of a table: a signed 64-bit number derived from its name."""
    digest = hashlib.sha256(f"mldp.iceberg:{location.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def batch_snapshot(table: Table, batch_id: str) -> Snapshot | None:
    """The last snapshot of ``table`` that carries ``batch_id`` (``None``: the batch was never committed)."""
    found = None
    for snapshot in table.metadata.snapshots:
        summary = snapshot.summary
        if summary is not None and summary.additional_properties.get(BATCH_ID_PROPERTY) == batch_id:
            found = snapshot
    return found


def history_truncated(table: Table) -> bool:
    """Whether snapshots of ``table`` were expired: fewer snapshots than sequence numbers given (format 2; each
    commit takes the next one), or a retained snapshot's parent gone; always for a format 1 table (no sequence
    numbers to tell). Its history may then no longer hold the snapshot of a batch the current snapshot holds."""
    metadata = table.metadata
    known = {s.snapshot_id for s in metadata.snapshots}
    if metadata.format_version < 2:
        return bool(known)
    return (len(known) < metadata.last_sequence_number
            or any(s.parent_snapshot_id is not None and s.parent_snapshot_id not in known for s in metadata.snapshots))


def holds_batch_files(table: Table, batch_id: str, paths: Sequence[str] = ()) -> bool:
    """Whether the current snapshot's data files include one of the batch's: a ``batch-<id>-`` name (the names
    :func:`runtime.jobs.publish.plan_publish` gives) or one of ``paths``. Read (every manifest of the current
    snapshot) only when :func:`history_truncated`: otherwise :func:`batch_snapshot` is the whole answer."""
    snapshot = table.current_snapshot()
    if snapshot is None or not history_truncated(table):
        return False
    marker, exact = f"/batch-{batch_id}-", set(paths)
    for manifest in snapshot.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if marker in entry.data_file.file_path or entry.data_file.file_path in exact:
                return True
    return False


def retraction_filter(replaced: Mapping[str, int], reprocessed: Mapping[str, int] | None = None) -> Any:
    """Rows of earlier versions of the keys in ``replaced`` (source path -> new version), and rows of the keys in
    ``reprocessed`` up to and including their version (source path -> version converted again): one ``In`` per
    version and kind. The batch's own rows are added after the delete in the same transaction, so ``<=`` never
    removes them; see docs/iceberg.md, "Reprocessing"."""
    from pyiceberg.expressions import And, In, LessThan, LessThanOrEqual, Or

    terms = []
    for mapping, compare in ((replaced, LessThan), (reprocessed or {}, LessThanOrEqual)):
        by_version: dict[int, list[str]] = defaultdict(list)
        for path, version in mapping.items():
            by_version[int(version)].append(path)
        terms += [And(In(LINEAGE_COLUMN, sorted(paths)), compare(SOURCE_VERSION_COLUMN, version))
                  for version, paths in sorted(by_version.items())]
    return terms[0] if len(terms) == 1 else Or(*terms)


def read_arrow_schema(uri: str, properties: Mapping[str, str] | None = None) -> pa.Schema:
    """The arrow schema of the Parquet file at ``uri`` (its footer only)."""
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import PyArrowFileIO

    with PyArrowFileIO(dict(properties or {})).new_input(uri).open() as stream:
        return pq.read_schema(stream)


class IcebergTable:
    """The Iceberg table a processor publishes into (``catalog``: injectable, else opened from ``location`` on
    first use; ``partition_names``: the spec's, the table's identity partitions when it is created)."""

    def __init__(self, location: TableLocation, partition_names: Sequence[str], catalog: Catalog | None = None,
                 attempts: int = COMMIT_ATTEMPTS, counts: CommitCounts | None = None,
                 retry_wait: float = RETRY_WAIT_SECONDS) -> None:
        self.location = location
        self.partition_names = tuple(partition_names)
        self._catalog = catalog
        self.attempts = attempts
        self.counts = counts or CommitCounts()
        self.retry_wait = retry_wait

    @property
    def catalog(self) -> Catalog:
        """The catalog, opened once."""
        if self._catalog is None:
            self._catalog = open_catalog(self.location)
        return self._catalog

    def load(self) -> Table | None:
        """The table on fresh metadata, or ``None`` when it does not exist yet."""
        return load_table(self.catalog, self.location)

    def data_key_prefix(self, store: ObjectStore, schema_from: str) -> str:
        """The store key prefix of the table's data files (``<table location>/data/``), the table created first
        when missing, from the schema of the staged file ``schema_from`` (a store key); raises
        :class:`~runtime.table.evolution.TableSchemaRefused` when that schema would retype or drop a column."""
        table = self.load()
        schema = read_arrow_schema(store.spark_path(schema_from),
                                   {**endpoint_properties(), **dict(self.location.properties)})
        if table is None:
            table = load_or_create(self.catalog, self.location, schema, self.partition_names)
        else:  # a retype or a drop stops the run here, before the manifest: the batch is given back uncharged
            check_evolution(table, schema)
        return store.key_from_spark_path(table.location().rstrip("/")) + "/data/"

    def uncommitted_data_key_prefix(self, store: ObjectStore, batch_id: str) -> str | None:
        """The data location's key prefix, for retracting the files a batch published but never committed
        (``None``: no table yet). Raises :class:`BatchCommitted` when the table holds the batch: its rows are
        readers' already, and only its tracking commit is missing."""
        table = self.load()
        if table is None:
            return None
        snapshot = batch_snapshot(table, batch_id)
        if snapshot is not None or holds_batch_files(table, batch_id):
            where = f"snapshot {snapshot.snapshot_id}" if snapshot is not None else "its current snapshot's files"
            raise BatchCommitted(f"batch {batch_id} is committed to {self.location.name} ({where}) but its staging "
                                 "is gone: it is neither retracted nor rolled forward; inspect it")
        return store.key_from_spark_path(table.location().rstrip("/")) + "/data/"

    def commit_batch(self, batch: BatchFiles, lock: Callable[[], contextlib.AbstractContextManager]) -> int | None:
        """Commit ``batch`` exactly once (see the module docstring); the id of the snapshot that holds it (``None``
        for a batch with nothing to commit). Raises :class:`TableCommitFailed` after :attr:`attempts` conflicts."""
        from pyiceberg.exceptions import CommitFailedException, ValidationException

        if not batch.data_files and not batch.replaced and not batch.reprocessed:
            return None
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                with lock():
                    return self._commit_once(batch)
            except (CommitFailedException, ValidationException) as conflict:
                last = conflict
                self.counts.conflicts += 1
                log.warning("batch %s: Iceberg commit conflicted (attempt %d of %d): %s", batch.batch_id, attempt,
                            self.attempts, conflict)
                if attempt < self.attempts:
                    time.sleep(self.retry_wait * 2 ** (attempt - 1))
        self.counts.failures += 1
        raise TableCommitFailed(
            f"batch {batch.batch_id}: the Iceberg commit to {self.location.name} conflicted with another writer "
            f"{self.attempts} times ({last}); no file was charged, the next run commits the batch")

    def _commit_once(self, batch: BatchFiles) -> int | None:
        table = self.load()
        if table is None:
            raise TableCommitFailed(f"the Iceberg table {self.location.name} does not exist (dropped since the "
                                    f"batch {batch.batch_id} was planned?); no file was charged")
        done = batch_snapshot(table, batch.batch_id)
        if done is None and holds_batch_files(table, batch.batch_id, batch.data_files):
            done = table.current_snapshot()  # its own snapshot expired since: the files say it is committed
        if done is not None:
            self.counts.already_committed += 1
            log.warning("batch %s: already committed to %s in snapshot %s (a replay): not committed again",
                        batch.batch_id, self.location.name, done.snapshot_id)
            return done.snapshot_id
        properties = {BATCH_ID_PROPERTY: batch.batch_id}
        transaction = table.transaction()
        if batch.data_files:  # new columns added, a retype or a drop refused (runtime.table.evolution)
            evolve(table, transaction, read_arrow_schema(batch.data_files[0], table.io.properties))
        if batch.replaced or batch.reprocessed:
            transaction.delete(retraction_filter(batch.replaced, batch.reprocessed), snapshot_properties=properties)
        if batch.data_files:
            # duplicates are excluded by the batch-id check above: checking every file of the table would make the
            # commit grow with the table
            transaction.add_files(batch.data_files, snapshot_properties=properties, check_duplicate_files=False)
        committed = transaction.commit_transaction()
        self.counts.committed += 1
        snapshot = committed.current_snapshot()
        return snapshot.snapshot_id if snapshot is not None else None
