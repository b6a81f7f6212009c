"""Staging, the completion marker (manifest) and publishing of one batch.

Spark writes a batch under ``<staging>/<batch_id>/`` (readers never scan it). Once both the curated Parquet and the
dead-letter JSON are complete, the processor writes ``_MANIFEST.json`` there: every file's outcome and the exact
publish plan (staged object -> final key). The manifest is the completion marker: a batch found with one is rolled
forward by replaying the plan, one found without one is cleaned and retried. Final names derive from the batch id,
so publishing twice overwrites the same objects and never adds any.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from runtime.db.records import FileOutcome
from runtime.jobs.checkpoints import Checkpoint, CrashHook, no_crash
from runtime.layout import Layout
from runtime.storage.base import ObjectNotFound, ObjectStore, ObjectStoreError
from runtime.transforms.names import PARTITION_HELPER_PREFIX

MANIFEST_NAME = "_MANIFEST.json"


@dataclass(frozen=True)
class PublishEntry:
    """One object to publish: the staged key, its final key, its size (stored in the manifest as the JSON list
    ``[staged, final, size]``)."""

    staged: str
    final: str
    size: int | None

    @property
    def is_curated(self) -> bool:
        """Curated Parquet (published first), not dead-letter JSON."""
        return self.final.endswith(".parquet")


@dataclass(frozen=True)
class Manifest:
    """The completion marker of a staged batch: every file's outcome and the exact publish plan.

    The JSON on disk is ``{"batch_id", "outcomes": [FileOutcome fields], "publish_plan": [[staged, final, size]],
    "partitions"[, "table"]}``; a manifest written by any earlier version of the runtime reads back the same way.
    ``table`` names the Iceberg table the batch commits to (:func:`runtime.table.catalog.manifest_record`: catalog
    kind, namespace, table, warehouse; never a credential); absent (``None``): a Parquet batch.
    """

    batch_id: str
    outcomes: list[FileOutcome]
    #: curated Parquet first, then dead-letter JSON
    publish_plan: list[PublishEntry] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)
    #: the Iceberg table the batch commits to; ``None``: loose Parquet
    table: dict[str, str] | None = None

    def to_json(self) -> bytes:
        """The manifest as stored (sorted keys; ``table`` only for an Iceberg batch)."""
        stored = {
            "batch_id": self.batch_id,
            "outcomes": [_outcome_json(o) for o in self.outcomes],
            "publish_plan": [[e.staged, e.final, e.size] for e in self.publish_plan],
            "partitions": list(self.partitions),
        }
        if self.table is not None:
            stored["table"] = dict(self.table)
        return json.dumps(stored, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Read a stored manifest; raises ``ValueError`` (or ``KeyError``/``TypeError``) when it is not one."""
        raw = json.loads(data)
        return cls(raw["batch_id"], [FileOutcome(**o) for o in raw["outcomes"]],
                   [PublishEntry(*entry) for entry in raw["publish_plan"]], raw.get("partitions", []),
                   raw.get("table"))


#: Outcome fields a manifest stores only when set, so that it has the shape of an earlier runtime's otherwise.
_OPTIONAL_OUTCOME_FIELDS = ("claim_limit", "new_etag", "records_rescued", "spec_version", "rescued_fields",
                            "archived_key")


def _outcome_json(outcome: FileOutcome) -> dict:
    """An outcome as the manifest stores it (the optional fields only when set)."""
    fields = asdict(outcome)
    for name in _OPTIONAL_OUTCOME_FIELDS:
        if fields[name] is None:
            del fields[name]
    if not fields["held"]:
        del fields["held"]
    return fields


@dataclass(frozen=True)
class ManifestProbe:
    """What the staging of a batch holds: no manifest, a readable one, or one that cannot be read (``error``)."""

    manifest: Manifest | None = None
    error: str | None = None

    @property
    def found(self) -> bool:
        """A manifest object exists (readable or not)."""
        return self.manifest is not None or self.error is not None


def staging_root(layout: Layout, batch_id: str) -> str:
    """Where everything of a batch is staged."""
    return f"{layout.staging_prefix}{batch_id}/"


def curated_staging(layout: Layout, batch_id: str) -> str:
    """Where Spark writes a batch's curated Parquet."""
    return staging_root(layout, batch_id) + "curated/"


def dead_letter_staging(layout: Layout, batch_id: str) -> str:
    """Where Spark writes a batch's dead-letter JSON."""
    return staging_root(layout, batch_id) + "dead_letter/"


def dead_letter_batch_folder(layout: Layout, batch_id: str) -> str:
    """Where the dead-lettered records of one batch are published."""
    return f"{layout.dead_letter_prefix}batch_id={batch_id}/"


def dead_letter_folder(layout: Layout, batch_id: str, file_id: int) -> str:
    """Where the dead-lettered records of one source file of one batch are published."""
    return f"{dead_letter_batch_folder(layout, batch_id)}file_id={file_id}/"


def _is_data_file(relative: str, suffix: str) -> bool:
    """A file Spark wrote as output, by its path under the staged folder: no part of it hidden (``_temporary/``,
    ``_SUCCESS``, ``.crc``), the name ending in ``suffix``."""
    parts = relative.split("/")
    return not any(part.startswith(("_", ".")) for part in parts) and relative.endswith(suffix)


@dataclass(frozen=True)
class PublishPlan:
    """What :func:`plan_publish` found staged: the entries, the curated partitions, and the dead-letter folder
    of each file that has dead letters."""

    entries: list[PublishEntry]
    partitions: list[str]
    dead_letters: dict[int, str]


def partition_folder(staged_folder: str) -> str:
    """The partition folder (``year=2024/month=1/...``) of a staged folder: for an Iceberg table Spark partitions by
    helper columns (:data:`runtime.transforms.names.PARTITION_HELPER_PREFIX`), so that the files keep their
    partition source columns; their folders are named after the partition columns all the same."""
    return "/".join(part.removeprefix(PARTITION_HELPER_PREFIX) for part in staged_folder.split("/"))


def first_staged_curated(store: ObjectStore, layout: Layout, batch_id: str) -> str | None:
    """The key of one staged curated Parquet file of the batch (``None``: it staged none)."""
    root = curated_staging(layout, batch_id)
    return next((obj.key for obj in store.list(root) if _is_data_file(obj.key[len(root):], ".parquet")), None)


def plan_publish(store: ObjectStore, layout: Layout, batch_id: str, curated_prefix: str | None = None) -> PublishPlan:
    """The publish plan from what Spark staged; the curated files go under ``curated_prefix`` (default: the
    layout's curated prefix; for an Iceberg table, its data location)."""
    plan: list[PublishEntry] = []
    by_partition: dict[str, list] = defaultdict(list)
    root = curated_staging(layout, batch_id)
    target = curated_prefix or layout.curated_prefix
    for obj in store.list(root):
        if _is_data_file(obj.key[len(root):], ".parquet"):
            by_partition[partition_folder(posixpath.dirname(obj.key[len(root):]))].append(obj)
    for partition in sorted(by_partition):
        for index, obj in enumerate(sorted(by_partition[partition], key=lambda o: o.key)):
            final = f"{target}{partition}/batch-{batch_id}-{index:04d}.snappy.parquet"
            plan.append(PublishEntry(obj.key, final.replace("//", "/"), obj.size))
    dead_letters: dict[int, str] = {}
    by_file: dict[int, list] = defaultdict(list)
    dl_root = dead_letter_staging(layout, batch_id)
    for obj in store.list(dl_root):
        folder = posixpath.dirname(obj.key[len(dl_root):])
        if _is_data_file(obj.key[len(dl_root):], ".json") and folder.startswith("file_id="):
            by_file[int(folder.split("=", 1)[1])].append(obj)
    for file_id in sorted(by_file):
        target = dead_letter_folder(layout, batch_id, file_id)
        dead_letters[file_id] = target
        for index, obj in enumerate(sorted(by_file[file_id], key=lambda o: o.key)):
            plan.append(PublishEntry(obj.key, f"{target}part-{index:04d}.json", obj.size))
    return PublishPlan(plan, sorted(by_partition), dead_letters)


#: A batch its run gave back while the database was away (it could not record it): recovery gives its files back
#: uncharged, as the run meant to, instead of abandoning the batch as a dead run's.
RELEASE_MARKER = "_RELEASED.json"


def write_release_marker(store: ObjectStore, layout: Layout, batch_id: str, reason: str) -> None:
    """Record in the batch's staging that its run gives it back without charging its files (``reason``)."""
    store.put_bytes(staging_root(layout, batch_id) + RELEASE_MARKER, json.dumps({"reason": reason}).encode())


def read_release_marker(store: ObjectStore, layout: Layout, batch_id: str) -> str | None:
    """The reason its run gave ``batch_id`` back, recorded in its staging, or ``None``."""
    try:
        return str(json.loads(store.get_bytes(staging_root(layout, batch_id) + RELEASE_MARKER))["reason"])
    except ObjectNotFound:
        return None
    except (ValueError, KeyError, TypeError):
        return "its run gave it back (unreadable release marker)"


def write_manifest(store: ObjectStore, layout: Layout, manifest: Manifest) -> None:
    """Store ``manifest`` in its batch's staging: the batch is complete from now on."""
    store.put_bytes(staging_root(layout, manifest.batch_id) + MANIFEST_NAME, manifest.to_json())


def read_manifest(store: ObjectStore, layout: Layout, batch_id: str) -> Manifest | None:
    """The manifest of ``batch_id``, or ``None`` when its staging has none (it was never completed)."""
    try:
        return Manifest.from_json(store.get_bytes(staging_root(layout, batch_id) + MANIFEST_NAME))
    except ObjectNotFound:
        return None


def probe_manifest(store: ObjectStore, layout: Layout, batch_id: str) -> ManifestProbe:
    """Like :func:`read_manifest`, but a manifest that exists and cannot be read is reported, not raised."""
    try:
        return ManifestProbe(manifest=read_manifest(store, layout, batch_id))
    except (ValueError, KeyError, TypeError) as exc:
        return ManifestProbe(error=f"{type(exc).__name__}: {exc}")


class StagingLost(ObjectStoreError):
    """A staged object of the publish plan is gone and was never published: the batch cannot be rolled forward
    (its staging was deleted by hand, or expired by an earlier version of the bucket's lifecycle rule); recovery
    retracts what it published instead (:func:`retract`)."""


def publish(store: ObjectStore, manifest: Manifest, workers: int = 16, checkpoint: CrashHook = no_crash) -> int:
    """Copy every staged object to its final key (idempotent: a staged object already gone means a previous
    publish of this batch completed that copy; gone while its final key is absent raises :class:`StagingLost`).
    Returns the number of objects copied. ``checkpoint``: a test's hook, after the first object of each group."""
    copied = 0

    def copy(entry: PublishEntry) -> int:
        try:
            store.copy(entry.staged, entry.final, size=entry.size)
        except ObjectNotFound:
            if not store.exists(entry.final):
                raise StagingLost(f"staged {entry.staged} is gone and {entry.final} was never published") from None
            return 0
        return 1

    curated = [e for e in manifest.publish_plan if e.is_curated]
    dead = [e for e in manifest.publish_plan if not e.is_curated]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for group, point in ((curated, Checkpoint.MID_PUBLISH), (dead, Checkpoint.MID_DEAD_LETTER_WRITE)):
            if not group:
                continue
            copied += copy(group[0])
            checkpoint(point)
            copied += sum(pool.map(copy, group[1:]))
    return copied


def published_keys(store: ObjectStore, layout: Layout, batch_id: str, partitions: Sequence[str],
                   curated_prefix: str | None = None) -> list[str]:
    """Every object ``batch_id`` published: final names derive from the batch id, so one listing per partition
    (``<curated>/<partition>/batch-<id>-*``; ``curated_prefix``: an Iceberg table's data location) and one of its
    dead-letter folder find them all, manifest or not."""
    target = curated_prefix or layout.curated_prefix
    prefixes = [f"{target}{p}/batch-{batch_id}-".replace("//", "/") for p in partitions]
    prefixes.append(dead_letter_batch_folder(layout, batch_id))
    return sorted(obj.key for prefix in prefixes for obj in store.list(prefix))


def retract(store: ObjectStore, layout: Layout, batch_id: str, partitions: Sequence[str],
            curated_prefix: str | None = None) -> int:
    """Delete every object ``batch_id`` published into ``partitions`` (:func:`published_keys`): its rows leave the
    curated dataset and its dead letters go, so that its files can be converted again without duplicates.
    Idempotent. Returns the number of objects deleted."""
    keys = published_keys(store, layout, batch_id, partitions, curated_prefix)
    failed = store.delete_many(keys) if keys else []
    if failed:
        raise ObjectStoreError(f"batch {batch_id}: could not retract {len(failed)} published objects, e.g. "
                               f"{failed[0]}")
    return len(keys)


def staged_batch_ids(store: ObjectStore, layout: Layout) -> set:
    """Batch ids (UUID folder names) that have anything under the staging prefix; other folders there (such as
    Glue's ``_glue_temporary/``) are not ours to clean."""
    ids = set()
    for obj in store.list(layout.staging_prefix):
        folder = obj.key[len(layout.staging_prefix):].split("/", 1)[0]
        try:
            ids.add(str(uuid.UUID(folder)))
        except ValueError:
            continue
    return ids


def clean_staging(store: ObjectStore, layout: Layout, batch_id: str) -> None:
    """Delete everything staged for a batch (after its outcome is committed, or when it is abandoned)."""
    keys = [obj.key for obj in store.list(staging_root(layout, batch_id))]
    store.delete_many(keys)
