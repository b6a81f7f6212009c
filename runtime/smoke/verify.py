"""What a working deployment leaves in the bucket after a smoke run, the checks on it, and the clean-up.

Everything is read from S3 alone (smoke cannot reach the private RDS):

* the raw files: archived under the processed prefix (same relative key) and gone from raw (two checks: a copy
  whose delete failed leaves the raw file behind), except the poison ones, which stay under raw (quarantined);
* the curated Parquet: the files of the smoke partition (``<curated>year=/month=/day=/mode=smoke/``) named
  ``batch-<batch id>-NNNN...parquet``; with pyarrow, the rows whose ``source_s3_path`` lies under the run's prefix
  are counted per source file (without it, only the presence of batch-named files written since the run began is
  checked);
* the dead letters: under ``<dead-letter>batch_id=<id>/file_id=<n>/`` for the batch ids of those curated files,
  JSON Lines whose ``source_s3_path`` names the source file;
* the staging folders of those batches: cleaned.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runtime.smoke.iceberg import SmokeTable, TableRows, batch_of
from runtime.smoke.plan import MALFORMED, POISON, SmokePlan
from runtime.smoke.target import SmokeTarget
from runtime.storage.base import ObjectInfo, ObjectStore

#: Curated file names the processor publishes: ``batch-<batch id>-NNNN.snappy.parquet``.
CURATED_NAME = re.compile(r"^batch-(?P<batch>.+)-\d{4}(?:\.[a-z0-9]+)?\.parquet$")
#: Objects written this long before the run began still count as the run's (clock skew).
CLOCK_SKEW = timedelta(minutes=2)

#: Reads the ``source_s3_path`` column of a Parquet object's bytes (``None``: pyarrow is not installed).
ParquetSources = Callable[[bytes], list[str]]


def pyarrow_sources() -> ParquetSources | None:
    """A reader of ``source_s3_path`` values with pyarrow, or ``None`` without it (a dev dependency only)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None

    def read(data: bytes) -> list[str]:
        return [str(v) for v in pq.read_table(io.BytesIO(data), columns=["source_s3_path"])
                .column("source_s3_path").to_pylist()]

    return read


@dataclass
class CuratedFile:
    """A curated Parquet object of the smoke partition.

    Attributes:
        key / batch_id: the object and the batch that published it.
        rows_by_source: rows per ``source_s3_path`` (``None`` when not read: no pyarrow).
    """

    key: str
    batch_id: str
    rows_by_source: Counter | None = None


@dataclass
class DeadLetterFile:
    """A dead-letter object of one of the smoke batches, with its records per ``source_s3_path``."""

    key: str
    batch_id: str
    records_by_source: Counter = field(default_factory=Counter)


@dataclass
class Observation:
    """What the bucket shows for one smoke run."""

    in_raw: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)
    curated: list[CuratedFile] = field(default_factory=list)
    rows_read: bool = False
    dead_letters: list[DeadLetterFile] = field(default_factory=list)
    staging_left: list[str] = field(default_factory=list)
    #: the run's rows read through the Iceberg catalog (``None``: the Parquet format)
    table: TableRows | None = None

    @property
    def batch_ids(self) -> list[str]:
        return sorted({c.batch_id for c in self.curated})


@dataclass
class Check:
    """One line of the checklist: ``ok`` is ``None`` when the check could not run (an earlier step failed)."""

    name: str
    ok: bool | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


class SmokeBucket:
    """Reads and cleans the objects of one smoke run in the target bucket."""

    def __init__(self, store: ObjectStore, target: SmokeTarget, plan: SmokePlan,
                 read_sources: ParquetSources | None, table: SmokeTable | None = None) -> None:
        self.store = store
        #: the curated Iceberg table (``None``: loose Parquet under the curated prefix)
        self.table = table
        self.target = target
        self.layout = target.layout
        self.plan = plan
        self.read_sources = read_sources

    # -- naming ----------------------------------------------------------------------------------------

    def url(self, key: str) -> str:
        """The ``s3://bucket/key`` the processor records as ``source_s3_path``."""
        return f"s3://{self.target.bucket}/{key}"

    def is_ours(self, source: str) -> bool:
        """Whether a ``source_s3_path`` names a file of this run."""
        return source.startswith(self.url(self.plan.prefix))

    def archived_key(self, raw_key: str) -> str:
        return self.layout.archived_key(raw_key)

    @property
    def curated_folder(self) -> str:
        return self.layout.curated_prefix + self.plan.curated_partition

    # -- uploading -------------------------------------------------------------------------------------

    def upload(self) -> None:
        """Put every file of the plan under the raw prefix."""
        for smoke_file in self.plan.files:
            self.store.put_bytes(smoke_file.key, smoke_file.body)

    # -- observing -------------------------------------------------------------------------------------

    def archive_settled(self) -> bool:
        """Whether every file that must be archived is (cheap: one listing of each prefix)."""
        archived = {o.key for o in self.store.list(self.archived_key(self.plan.prefix))}
        return all(self.archived_key(f.key) in archived for f in self.plan.files if f.archived)

    def observe(self) -> Observation:
        """Everything the checks and the clean-up need."""
        seen = Observation()
        seen.in_raw = {o.key for o in self.store.list(self.plan.prefix)}
        archived_prefix = self.archived_key(self.plan.prefix)
        seen.archived = {o.key for o in self.store.list(archived_prefix)}
        seen.rows_read = self.read_sources is not None
        since = self.plan.started - CLOCK_SKEW
        if self.table is not None:
            seen.table = self.table.observe([self.url(f.key) for f in self.plan.files])
            seen.curated = [CuratedFile(path, batch) for path in seen.table.data_files
                            if (batch := batch_of(path, CURATED_NAME)) is not None]
        for obj in self.store.list(self.curated_folder) if self.table is None else ():
            match = CURATED_NAME.match(posixpath.basename(obj.key))
            if match is None:
                continue
            curated = CuratedFile(obj.key, match.group("batch"))
            if self.read_sources is not None:
                curated.rows_by_source = Counter(self.read_sources(self.store.get_bytes(obj.key)))
                if not any(self.is_ours(s) for s in curated.rows_by_source):
                    continue  # another run's file (an earlier --keep, a concurrent smoke run)
            elif not _written_since(obj, since):
                continue
            seen.curated.append(curated)
        for batch_id in seen.batch_ids:
            for obj in self.store.list(f"{self.layout.dead_letter_prefix}batch_id={batch_id}/"):
                dead = DeadLetterFile(obj.key, batch_id)
                for line in self.store.get_bytes(obj.key).decode("utf-8", "replace").splitlines():
                    if line.strip():
                        try:
                            dead.records_by_source[str(json.loads(line).get("source_s3_path"))] += 1
                        except (ValueError, AttributeError):
                            dead.records_by_source["<unreadable dead-letter line>"] += 1
                if any(self.is_ours(s) for s in dead.records_by_source):
                    seen.dead_letters.append(dead)
            seen.staging_left += [o.key for o in self.store.list(f"{self.layout.staging_prefix}{batch_id}/")]
        return seen

    # -- checking --------------------------------------------------------------------------------------

    def checks(self, seen: Observation) -> list[Check]:
        """The outcome checks (the job-run checks come from the runner)."""
        return [self._archive_check(seen), self._raw_deleted_check(seen), self._quarantine_check(seen),
                self._curated_check(seen), self._dead_letter_check(seen), self._staging_check(seen)]

    def _archive_check(self, seen: Observation) -> Check:
        wanted = [f for f in self.plan.files if f.archived]
        missing = [f.key for f in wanted if self.archived_key(f.key) not in seen.archived]
        name = "good and malformed files archived"
        if missing:
            return Check(name, False, f"not under {self.layout.processed_prefix}: {', '.join(_names(missing))}")
        return Check(name, True, f"{len(wanted)}/{len(wanted)} moved to {self.archived_key(self.plan.prefix)}")

    def _raw_deleted_check(self, seen: Observation) -> Check:
        """The archive's delete: every archived file is gone from the raw prefix (copied, then deleted)."""
        wanted = [f for f in self.plan.files if f.archived]
        name = "archived files deleted from raw"
        if any(self.archived_key(f.key) not in seen.archived for f in wanted):
            return Check(name, None, "not checked: not every file was archived")
        left = [f.key for f in wanted if f.key in seen.in_raw]
        if left:
            return Check(name, False, f"archived but still under raw: {', '.join(_names(left))} (the archive's "
                                      "delete failed: the processor's log says why, the ArchiveDeleteFailures "
                                      "alarm counts it; e.g. an AWS SDK too old for conditional deletes, or "
                                      "s3:DeleteObject denied)")
        return Check(name, True, f"{len(wanted)}/{len(wanted)} gone from {self.plan.prefix}")

    def _quarantine_check(self, seen: Observation) -> Check:
        poison = self.plan.of_kind(POISON)
        name = "poison files quarantined"
        if not poison:
            return Check(name, None, "no poison file in this run (--good-only)")
        archived = [f.key for f in poison if self.archived_key(f.key) in seen.archived]
        gone = [f.key for f in poison if f.key not in seen.in_raw]
        if archived or gone:
            parts = ([f"archived (a file with no readable record must not be): {', '.join(_names(archived))}"]
                     if archived else [])
            parts += [f"gone from raw: {', '.join(_names(gone))}"] if gone else []
            return Check(name, False, "; ".join(parts))
        return Check(name, True, f"{len(poison)}/{len(poison)} left under raw, not archived "
                                 f"({', '.join(_names([f.key for f in poison]))})")

    def _rows_not_expected(self, found: Counter) -> str:
        """Each source whose row count in ``found`` differs from the plan's good records (empty: none)."""
        expected = Counter({self.url(f.key): f.good_records for f in self.plan.files if f.good_records})
        return "; ".join(f"{posixpath.basename(s)}: {found.get(s, 0)} rows, expected {expected.get(s, 0)}"
                         for s in sorted(set(found) | set(expected)) if found.get(s, 0) != expected.get(s, 0))

    def _table_check(self, seen: Observation, rows: TableRows) -> Check:
        """The Iceberg format: the run's rows, read through the catalog, are each good record exactly once."""
        name = f"Iceberg table {self.table.name if self.table else ''} holds the good records"
        if rows.error is not None:
            return Check(name, False, f"not readable through the catalog: {rows.error}")
        found = Counter({s: n for s, n in rows.rows_by_source.items() if self.is_ours(s)})
        wrong = self._rows_not_expected(found)
        if wrong:
            return Check(name, False, wrong)
        return Check(name, True, f"{sum(found.values())} rows = {self.plan.good_records} expected, read through "
                                 f"the catalog from {len(rows.data_files)} data file(s) of batch(es) "
                                 f"{', '.join(seen.batch_ids)}")

    def _curated_check(self, seen: Observation) -> Check:
        if seen.table is not None:
            return self._table_check(seen, seen.table)
        name = "curated Parquet holds the good records"
        if not seen.curated:
            return Check(name, False, f"no batch-*.parquet file with this run's rows under {self.curated_folder} "
                                      "(a deployment with a custom transform spec partitions elsewhere)")
        batches = ", ".join(seen.batch_ids)
        if not seen.rows_read:
            return Check(name, True, f"{len(seen.curated)} file(s) of batch(es) {batches} written since the run "
                                     "began; row count NOT checked (pyarrow is not installed)")
        found: Counter = Counter()
        for curated in seen.curated:
            found.update({s: n for s, n in (curated.rows_by_source or {}).items() if self.is_ours(s)})
        wrong = self._rows_not_expected(found)
        if wrong:
            return Check(name, False, wrong)
        return Check(name, True, f"{sum(found.values())} rows = {self.plan.good_records} expected, in "
                                 f"{len(seen.curated)} file(s) of batch(es) {batches}")

    def _dead_letter_check(self, seen: Observation) -> Check:
        name = "malformed lines dead-lettered with their source"
        malformed = self.plan.of_kind(MALFORMED)
        if not malformed:
            return Check(name, None, "no malformed file in this run (--good-only)")
        if not seen.batch_ids:
            return Check(name, None, "not checked: no curated file gave the batch id")
        found: Counter = Counter()
        for dead in seen.dead_letters:
            found.update({s: n for s, n in dead.records_by_source.items() if self.is_ours(s)})
        expected = Counter({self.url(f.key): f.bad_records for f in malformed})
        if found != expected:
            wrong = [f"{posixpath.basename(s)}: {found.get(s, 0)} dead letters, expected {expected.get(s, 0)}"
                     for s in sorted(set(found) | set(expected)) if found.get(s, 0) != expected.get(s, 0)]
            return Check(name, False, f"{'; '.join(wrong)} (under {self.layout.dead_letter_prefix}"
                                      f"batch_id={{{', '.join(seen.batch_ids)}}}/)")
        folders = sorted({posixpath.dirname(d.key) + "/" for d in seen.dead_letters})
        return Check(name, True, f"{sum(found.values())} record(s) naming {', '.join(_names(list(expected)))} "
                                 f"in {', '.join(folders)}")

    def _staging_check(self, seen: Observation) -> Check:
        name = "batch staging cleaned"
        if not seen.batch_ids:
            return Check(name, None, "not checked: no batch id found")
        if seen.staging_left:
            return Check(name, False, f"{len(seen.staging_left)} object(s) left under "
                                      f"{self.layout.staging_prefix}<batch>/ (e.g. {seen.staging_left[0]})")
        return Check(name, True, f"nothing left under {self.layout.staging_prefix}<batch>/")

    # -- cleaning --------------------------------------------------------------------------------------

    def cleanup(self, seen: Observation) -> dict[str, Any]:
        """Delete this run's objects: uploaded raw files, their archives, dead letters that name only this run's
        files, and curated files whose every row is from this run. Returns what was deleted and what was left
        (with why)."""
        deletable = sorted({f.key for f in self.plan.files} | {self.archived_key(f.key) for f in self.plan.files}
                           | seen.in_raw | seen.archived)
        left: list[dict[str, str]] = []
        for dead in seen.dead_letters:
            if all(self.is_ours(s) for s in dead.records_by_source):
                deletable.append(dead.key)
            else:
                left.append({"key": dead.key, "why": "also holds dead letters of files outside the smoke prefix"})
        table_rows = 0
        if self.table is not None:  # the run's rows, deleted in one table commit (never a data file by hand)
            try:
                table_rows = self.table.delete_rows([self.url(f.key) for f in self.plan.files])
            except Exception as exc:  # reported; the rest is still cleaned
                left.append({"key": self.table.name, "why": f"the run's rows not deleted from the table: {exc}"})
        for curated in seen.curated if self.table is None else ():
            if curated.rows_by_source is None:
                left.append({"key": curated.key, "why": "rows not readable without pyarrow: cannot prove every "
                                                        "row is from this run"})
            elif all(self.is_ours(s) for s in curated.rows_by_source):
                deletable.append(curated.key)
            else:
                left.append({"key": curated.key, "why": "also holds rows of files outside the smoke prefix"})
        failed = set(self.store.delete_many(deletable))
        left += [{"key": key, "why": "delete failed"} for key in sorted(failed)]
        present = seen.in_raw | seen.archived | {d.key for d in seen.dead_letters} | {c.key for c in seen.curated}
        deleted = [key for key in deletable if key not in failed and key in present]
        result = {"deleted": len(deleted), "deleted_keys": deleted, "left": left}
        if self.table is not None:
            result["table_rows_deleted"] = table_rows
        return result


def _written_since(obj: ObjectInfo, since: datetime) -> bool:
    return obj.last_modified >= since


def _names(keys: list[str]) -> list[str]:
    return [posixpath.basename(k) for k in keys]

