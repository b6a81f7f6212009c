"""``mldp compact``: rewrite each partition's small data files into files near a target size, in ONE atomic commit
(pyiceberg 0.12 has no ``rewrite_data_files``; on AWS the Glue compaction optimizer does this).

For each partition with more than one data file (under ``--partition``, if given) the rows of its files are read
and written again as files of about ``target_mb`` (the rows per file estimated from the files' own bytes per row),
then one ``overwrite`` snapshot deletes the old files and adds the new ones. The old files stay on storage (a
reader that planned its scan before the commit still reads them: it sees every row exactly once, of the snapshot it
started on; snapshot expiry and orphan-file removal delete them later). The plan and the commit hold the
project's advisory lock, so no batch commit of ours interleaves; a conflict with another writer (pyiceberg's
``CommitFailedException`` or ``ValidationException``, after its own retries) plans again on fresh metadata, up to
:data:`runtime.table.commit.COMMIT_ATTEMPTS` times, then fails (:class:`CompactionFailed`, exit 3).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.errors import RunStopped
from runtime.table.commit import COMMIT_ATTEMPTS, IcebergTable

if TYPE_CHECKING:
    from pyiceberg.table import Table

log = logging.getLogger(__name__)

#: Default target size of a compacted file, in MB.
DEFAULT_TARGET_FILE_MB = 128
#: The snapshot property a compaction commit carries (never ``mldp.batch-id``).
COMPACTION_PROPERTY = "mldp.compaction"


class CompactionFailed(RunStopped):
    """The compaction commit kept conflicting with another writer; nothing was changed (exit status 3)."""


@dataclass
class CompactionReport:
    """Files per partition before and after, the snapshot committed (``None``: nothing to compact)."""

    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    snapshot_id: int | None = None
    rows: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {"partitions": len(self.before), "files_before": sum(self.before.values()),
                "files_after": sum(self.after.values()), "rows_rewritten": self.rows, "snapshot_id": self.snapshot_id,
                "seconds": round(self.seconds, 2),
                "by_partition": {p: {"before": n, "after": self.after.get(p, n)}
                                 for p, n in sorted(self.before.items())}}


def in_partition(path: str, partition: str) -> bool:
    """Whether the partition ``path`` is ``partition`` or under it, on whole path segments (``year=2024/month=1``
    holds ``year=2024/month=1/day=5``, not ``year=2024/month=10``)."""
    wanted = partition.strip("/")
    return not wanted or path == wanted or path.startswith(wanted + "/")


def _files_by_partition(table: Table, partition: str | None) -> dict[str, list[Any]]:
    by_partition: dict[str, list[Any]] = defaultdict(list)
    spec, schema = table.spec(), table.schema()
    for task in table.scan().plan_files():
        path = spec.partition_to_path(task.file.partition, schema)
        if partition is None or in_partition(path, partition):
            by_partition[path].append(task)
    return by_partition


def _rewrite(table: Table, tasks: list[Any], target_bytes: int, write_uuid: uuid.UUID,
             counter: Any) -> tuple[list, int]:
    """The new data files of one partition's ``tasks`` (rows read, then written in files of about
    ``target_bytes``), and the rows rewritten."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files

    rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(tasks)
    total_bytes = sum(t.file.file_size_in_bytes for t in tasks)
    per_file = max(1, math.floor(rows.num_rows * target_bytes / max(total_bytes, 1)))
    files: list = []
    for start in range(0, rows.num_rows, per_file):
        files += list(_dataframe_to_data_files(table_metadata=table.metadata, df=rows.slice(start, per_file),
                                               io=table.io, write_uuid=write_uuid, counter=counter))
    return files, rows.num_rows


def compact(iceberg: IcebergTable, partition: str | None = None, target_file_mb: int = DEFAULT_TARGET_FILE_MB,
            lock: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
            attempts: int = COMMIT_ATTEMPTS) -> CompactionReport:
    """Compact the table's partitions (under ``partition``) into files near ``target_file_mb`` in one commit."""
    import itertools

    from pyiceberg.exceptions import CommitFailedException, ValidationException

    started, last = time.monotonic(), None
    for attempt in range(1, attempts + 1):
        try:
            with lock():
                report = _compact_once(iceberg, partition, target_file_mb * 1024 * 1024, itertools.count(0))
            report.seconds = time.monotonic() - started
            return report
        except (CommitFailedException, ValidationException) as conflict:
            last = conflict
            log.warning("compaction conflicted with another writer (attempt %d of %d): %s", attempt, attempts,
                        conflict)
    raise CompactionFailed(f"the compaction of {iceberg.location.name} conflicted with another writer {attempts} "
                           f"times ({last}); nothing was changed")


def _compact_once(iceberg: IcebergTable, partition: str | None, target_bytes: int, counter: Any) -> CompactionReport:
    table = iceberg.load()
    report = CompactionReport()
    if table is None or table.current_snapshot() is None:
        return report
    by_partition = _files_by_partition(table, partition)
    report.before = {p: len(tasks) for p, tasks in by_partition.items()}
    small = {p: tasks for p, tasks in by_partition.items() if len(tasks) > 1}
    if not small:
        report.after = dict(report.before)
        return report
    write_uuid = uuid.uuid4()
    replaced: list = []
    added: Counter = Counter()
    new_files: list = []
    for path, tasks in sorted(small.items()):
        files, rows = _rewrite(table, tasks, target_bytes, write_uuid, counter)
        replaced += [t.file for t in tasks]
        new_files += files
        added[path] = len(files)
        report.rows += rows
    transaction = table.transaction()
    properties = {COMPACTION_PROPERTY: f"{len(replaced)} files -> {len(new_files)}"}
    with transaction.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
        for data_file in replaced:
            overwrite.delete_data_file(data_file)
        for data_file in new_files:
            overwrite.append_data_file(data_file)
    committed = transaction.commit_transaction()
    report.snapshot_id = committed.current_snapshot().snapshot_id
    report.after = {p: added.get(p, n) for p, n in report.before.items()}
    return report
