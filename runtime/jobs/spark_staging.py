"""How Spark reaches the store. On Glue (and for local directories) Spark reads and writes the store's own paths.
Local Spark cannot load the ``s3a`` connector here, so against S3 it works through a local mirror: the batch's
raw files are downloaded to a scratch directory, converted there, and the staged output is uploaded to the
store's staging prefix; the rest of the protocol (manifest, publish, archive) is the same.

A raw file whose name Spark would misread (:func:`runtime.spark.names.spark_alias`: a hidden-looking name, a
codec suffix in another case) is read under its alias: a symbolic link in a scratch directory (local store), or a
server-side copy of the processed version into the batch's staging (Spark reading S3 itself). The mirror names
every download by its file id (:func:`runtime.spark.names.id_name`), so any key can be mirrored, whatever its
shape (``//``, a segment longer than a local file name may be, ``a.jsonl`` beside ``a.jsonl/child.jsonl``). The
alias never changes what is recorded: lineage and outcomes name the raw key.

A raw file that cannot be made readable to Spark (it vanished, changed, or could not be read or copied) is that
file's outcome, in :attr:`SparkPaths.unavailable`, never its batch-mates': the conversion goes on without it. A
refusal (:class:`StoragePermissionError`) of every file is the run's (it stops); of some files only, theirs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from runtime.db.states import FileState
from runtime.errors import one_line
from runtime.jobs.precheck import READ_ERROR
from runtime.spark.names import id_name
from runtime.storage.base import (
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    SourceChanged,
    StoragePermissionError,
    store_answers,
)
from runtime.storage.local import LocalStore


@dataclass(frozen=True)
class SparkInput:
    """One raw file Spark is to read: its key, tracking id, the ETag of the version processed (the condition of a
    staged alias copy), and the alias name it must be read under (``None``: its own name reads as intended)."""

    key: str
    file_id: int
    etag: str | None = None
    alias: str | None = None


@dataclass(frozen=True)
class Unavailable:
    """Why one raw file could not be made readable to Spark: the file's outcome (``FAILED``, retried later)."""

    state: FileState
    reason: str


@dataclass(frozen=True)
class SparkPaths:
    """What Spark reads for each raw key, where it writes the batch's curated and dead-letter output, where the
    file-less probe writes, how to empty the output again (before a conversion is run again), and the files that
    could not be made readable (by key)."""

    source_path: Callable[[str], str]
    curated_path: str
    dead_letter_path: str
    probe_path: str
    reset: Callable[[], None]
    unavailable: Mapping[str, Unavailable] = field(default_factory=dict)


def spark_reads_store_directly(store: ObjectStore) -> bool:
    """True for local directories and on Glue (EMRFS reads ``s3://``); False for S3 under local Spark."""
    if isinstance(store, LocalStore):
        return True
    from runtime.spark.session import on_glue

    return on_glue() or os.environ.get("MLDP_SPARK_READS_S3") == "1"



def unavailable_because(exc: Exception, doing: str) -> Unavailable:
    """What an error of ``doing`` (e.g. "downloading it") one raw file means for that file: vanished, changed since
    it was listed, refused, or any other read error; each FAILED (transient: retried with backoff, quarantined after
    the last attempt)."""
    if isinstance(exc, ObjectNotFound):
        return Unavailable(FileState.FAILED, "object vanished while being read")
    if isinstance(exc, SourceChanged):
        return Unavailable(FileState.FAILED, f"object changed after listing ({exc}); the lister registers the new "
                                             "version")
    if isinstance(exc, StoragePermissionError):
        return Unavailable(FileState.FAILED, f"access denied {doing}: {exc}")
    return Unavailable(FileState.FAILED, f"{READ_ERROR} ({doing}): {one_line(exc)}")


#: Errors that say something about the file itself (gone, changed, refused): never the store's being down.
_FILE_ERRORS = (ObjectNotFound, SourceChanged, StoragePermissionError)


def _per_file(store: ObjectStore, inputs: Sequence[SparkInput], action: Callable[[SparkInput], object], doing: str,
              workers: int) -> dict[str, Unavailable]:
    """Run ``action`` for every input in parallel; the inputs it failed for, with why. Refusals of every input, or
    read errors of every input of several while the store answers no HEAD either, are the run's: raised."""
    def attempt(item: SparkInput) -> Exception | None:
        try:
            action(item)
        except Exception as exc:  # every error is that file's outcome (or, below, the run's)
            return exc
        return None

    if not inputs:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(inputs))) as pool:
        errors = dict(zip((i.key for i in inputs), pool.map(attempt, inputs), strict=True))
    refused = [e for e in errors.values() if isinstance(e, StoragePermissionError)]
    if refused and len(refused) == len(inputs):
        raise refused[0]
    read_errors = [e for e in errors.values() if e is not None and not isinstance(e, _FILE_ERRORS)]
    if len(inputs) > 1 and len(read_errors) == len(inputs) and not store_answers(store, (i.key for i in inputs)):
        raise ObjectStoreError(f"the store could not be read ({doing}): each of the {len(inputs)} files failed "
                               f"({one_line(read_errors[0])}); no file was charged an attempt")
    return {key: unavailable_because(exc, doing) for key, exc in errors.items() if exc is not None}


def _delete_under(store: ObjectStore, *prefixes: str) -> None:
    for prefix in prefixes:
        keys = [obj.key for obj in store.list(prefix)]
        if keys:
            store.delete_many(keys)


@contextlib.contextmanager
def _direct(store: ObjectStore, inputs: Sequence[SparkInput], curated_prefix: str, dead_letter_prefix: str,
            scratch_prefix: str, workers: int) -> Iterator[SparkPaths]:
    """Spark reads and writes the store's paths; aliases are links (local store) or staged copies (S3)."""
    aliased = [item for item in inputs if item.alias]
    alias_paths: dict[str, str] = {}
    link_dir = tempfile.mkdtemp(prefix="mldp-alias-") if aliased and isinstance(store, LocalStore) else None
    try:
        if link_dir is not None:
            def link(item: SparkInput) -> None:
                os.symlink(store.spark_path(item.key), os.path.join(link_dir, str(item.alias)))
                alias_paths[item.key] = os.path.join(link_dir, str(item.alias))

            unavailable = _per_file(store, aliased, link, "linking it under its alias", 1)
        else:
            def copy(item: SparkInput) -> None:
                store.copy(item.key, scratch_prefix + "input/" + str(item.alias), if_match=item.etag)
                alias_paths[item.key] = store.spark_path(scratch_prefix + "input/" + str(item.alias))

            unavailable = _per_file(store, aliased, copy, "copying it under its alias", workers)
        yield SparkPaths(lambda key: alias_paths.get(key) or store.spark_path(key), store.spark_path(curated_prefix),
                         store.spark_path(dead_letter_prefix), store.spark_path(scratch_prefix + "probe/"),
                         lambda: _delete_under(store, curated_prefix, dead_letter_prefix), unavailable)
    finally:
        if link_dir is not None:
            shutil.rmtree(link_dir, ignore_errors=True)


@contextlib.contextmanager
def _mirrored(store: ObjectStore, inputs: Sequence[SparkInput], curated_prefix: str, dead_letter_prefix: str,
              workers: int) -> Iterator[SparkPaths]:
    """Local Spark against S3: the inputs downloaded under their id names, the output uploaded at the end."""
    scratch = Path(tempfile.mkdtemp(prefix="mldp-spark-"))
    try:
        mirror = LocalStore(scratch)
        local_key = {item.key: "raw/" + id_name(item.file_id, item.key) for item in inputs}

        def download(item: SparkInput) -> None:
            target = Path(mirror.spark_path(local_key[item.key]))
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(store.open_stream(item.key)) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)

        unavailable = _per_file(store, inputs, download, "downloading it", workers)

        def reset() -> None:
            for folder in ("out/curated", "out/dead_letter"):
                shutil.rmtree(scratch / folder, ignore_errors=True)

        yield SparkPaths(lambda key: mirror.spark_path(local_key[key]), mirror.spark_path("out/curated/"),
                         mirror.spark_path("out/dead_letter/"), mirror.spark_path("out/probe/"), reset, unavailable)
        uploads = [(obj.key, prefix + obj.key[len(folder):])
                   for folder, prefix in (("out/curated/", curated_prefix), ("out/dead_letter/", dead_letter_prefix))
                   for obj in mirror.list(folder)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda pair: store.put_bytes(pair[1], mirror.get_bytes(pair[0])), uploads))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def spark_paths(store: ObjectStore, inputs: Sequence[SparkInput], curated_prefix: str, dead_letter_prefix: str,
                workers: int = 16, *, scratch_prefix: str | None = None) -> Iterator[SparkPaths]:
    """Paths for one conversion of ``inputs``. With a local mirror, the staged output is uploaded to
    ``curated_prefix`` and ``dead_letter_prefix`` in the store when the block ends without an error.
    ``scratch_prefix`` (default: beside ``curated_prefix``) holds what is never published: the probe's output,
    staged aliases. The inputs that could not be made readable are in :attr:`SparkPaths.unavailable`."""
    scratch_prefix = scratch_prefix or curated_prefix.rstrip("/") + "-scratch/"
    if spark_reads_store_directly(store):
        with _direct(store, inputs, curated_prefix, dead_letter_prefix, scratch_prefix, workers) as paths:
            yield paths
        return
    with _mirrored(store, inputs, curated_prefix, dead_letter_prefix, workers) as paths:
        yield paths
