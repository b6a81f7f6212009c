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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from runtime.layout import Layout
from runtime.storage.base import ObjectNotFound, ObjectStore

MANIFEST_NAME = "_MANIFEST.json"


@dataclass
class FileOutcome:
    """What happened to one claimed file in a batch."""

    file_id: int
    key: str
    status: str  # SUCCEEDED | FAILED | QUARANTINED
    error: str | None = None
    records_good: int | None = None
    records_bad: int | None = None
    dead_letter_path: str | None = None
    size: int = 0
    #: the ETag that was processed: archiving moves only this version
    etag: str | None = None
    #: the tracking version of the file (a new ETag of the same key is a new version)
    version: int = 1


@dataclass
class Manifest:
    """The completion marker of a staged batch."""

    batch_id: str
    outcomes: list[FileOutcome]
    #: [staged key, final key, size], curated Parquet first, then dead-letter JSON
    publish_plan: list[list] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        return cls(raw["batch_id"], [FileOutcome(**o) for o in raw["outcomes"]], raw["publish_plan"],
                   raw.get("partitions", []))


def staging_root(layout: Layout, batch_id: str) -> str:
    return f"{layout.staging_prefix}{batch_id}/"


def curated_staging(layout: Layout, batch_id: str) -> str:
    return staging_root(layout, batch_id) + "curated/"


def dead_letter_staging(layout: Layout, batch_id: str) -> str:
    return staging_root(layout, batch_id) + "dead_letter/"


def dead_letter_folder(layout: Layout, batch_id: str, file_id: int) -> str:
    """Where the dead-lettered records of one source file of one batch are published."""
    return f"{layout.dead_letter_prefix}batch_id={batch_id}/file_id={file_id}/"


def _is_data_file(key: str, suffix: str) -> bool:
    name = posixpath.basename(key)
    return not name.startswith(("_", ".")) and name.endswith(suffix)


def plan_publish(store: ObjectStore, layout: Layout, batch_id: str) -> tuple:
    """The publish plan from what Spark staged: (plan, partitions, dead-letter folder by file id)."""
    plan: list[list] = []
    by_partition: dict[str, list] = defaultdict(list)
    root = curated_staging(layout, batch_id)
    for obj in store.list(root):
        if _is_data_file(obj.key, ".parquet"):
            by_partition[posixpath.dirname(obj.key[len(root):])].append(obj)
    for partition in sorted(by_partition):
        for index, obj in enumerate(sorted(by_partition[partition], key=lambda o: o.key)):
            final = f"{layout.curated_prefix}{partition}/batch-{batch_id}-{index:04d}.snappy.parquet"
            plan.append([obj.key, final.replace("//", "/"), obj.size])
    dead_letters: dict[int, str] = {}
    by_file: dict[int, list] = defaultdict(list)
    dl_root = dead_letter_staging(layout, batch_id)
    for obj in store.list(dl_root):
        folder = posixpath.dirname(obj.key[len(dl_root):])
        if _is_data_file(obj.key, ".json") and folder.startswith("file_id="):
            by_file[int(folder.split("=", 1)[1])].append(obj)
    for file_id in sorted(by_file):
        target = dead_letter_folder(layout, batch_id, file_id)
        dead_letters[file_id] = target
        for index, obj in enumerate(sorted(by_file[file_id], key=lambda o: o.key)):
            plan.append([obj.key, f"{target}part-{index:04d}.json", obj.size])
    return plan, sorted(by_partition), dead_letters


def write_manifest(store: ObjectStore, layout: Layout, manifest: Manifest) -> None:
    store.put_bytes(staging_root(layout, manifest.batch_id) + MANIFEST_NAME, manifest.to_json())


def read_manifest(store: ObjectStore, layout: Layout, batch_id: str) -> Manifest | None:
    try:
        return Manifest.from_json(store.get_bytes(staging_root(layout, batch_id) + MANIFEST_NAME))
    except ObjectNotFound:
        return None


def publish(store: ObjectStore, manifest: Manifest, workers: int = 16,
            checkpoint: Callable[[str], None] = lambda name: None) -> int:
    """Copy every staged object to its final key (idempotent: a staged object already gone means a previous
    publish of this batch completed that copy). Returns the number of objects copied."""
    copied = 0

    def copy(entry: list) -> int:
        staged, final, size = entry
        try:
            store.copy(staged, final, size=size)
        except ObjectNotFound:
            if not store.exists(final):
                raise
            return 0
        return 1

    curated = [p for p in manifest.publish_plan if p[1].endswith(".parquet")]
    dead = [p for p in manifest.publish_plan if not p[1].endswith(".parquet")]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for group, point in ((curated, "mid_publish"), (dead, "mid_dead_letter_write")):
            if not group:
                continue
            copied += copy(group[0])
            checkpoint(point)
            copied += sum(pool.map(copy, group[1:]))
    return copied


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
