"""How Spark reaches the store. On Glue (and for local directories) Spark reads and writes the store's own paths.
Local Spark cannot load the ``s3a`` connector here, so against S3 it works through a local mirror: the batch's
raw files are downloaded to a scratch directory, converted there, and the staged output is uploaded to the
store's staging prefix; the rest of the protocol (manifest, publish, archive) is the same.

A raw file whose name Spark would misread (:func:`runtime.spark.names.spark_alias`: a hidden-looking name, a
codec suffix in another case) is read under its alias: a symbolic link in a scratch directory (local store), its
downloaded copy's name (mirror), or a server-side copy of the processed version into the batch's staging (Spark
reading S3 itself). The alias never changes what is recorded: lineage and outcomes name the raw key.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from runtime.storage.base import ObjectStore
from runtime.storage.local import LocalStore

#: raw key -> (the file name Spark reads it under, the ETag of the version to read)
Aliases = Mapping[str, tuple[str, "str | None"]]


@dataclass(frozen=True)
class SparkPaths:
    """What Spark reads for each raw key, where it writes the batch's curated and dead-letter output, where the
    file-less probe writes, and how to empty the output again (before a conversion is run again)."""

    source_path: Callable[[str], str]
    curated_path: str
    dead_letter_path: str
    probe_path: str
    reset: Callable[[], None]


def spark_reads_store_directly(store: ObjectStore) -> bool:
    """True for local directories and on Glue (EMRFS reads ``s3://``); False for S3 under local Spark."""
    if isinstance(store, LocalStore):
        return True
    from runtime.spark.session import on_glue

    return on_glue() or os.environ.get("MLDP_SPARK_READS_S3") == "1"


def _delete_under(store: ObjectStore, *prefixes: str) -> None:
    for prefix in prefixes:
        keys = [obj.key for obj in store.list(prefix)]
        if keys:
            store.delete_many(keys)


@contextlib.contextmanager
def _direct(store: ObjectStore, curated_prefix: str, dead_letter_prefix: str, scratch_prefix: str,
            aliases: Aliases, workers: int) -> Iterator[SparkPaths]:
    """Spark reads and writes the store's paths; aliases are links (local store) or staged copies (S3)."""
    alias_paths: dict[str, str] = {}
    link_dir = tempfile.mkdtemp(prefix="mldp-alias-") if aliases and isinstance(store, LocalStore) else None
    try:
        if link_dir is not None:
            for key, (name, _etag) in aliases.items():
                alias_paths[key] = os.path.join(link_dir, name)
                os.symlink(store.spark_path(key), alias_paths[key])
        elif aliases:
            def copy(item: tuple[str, tuple[str, str | None]]) -> None:
                key, (name, etag) = item
                store.copy(key, scratch_prefix + "input/" + name, if_match=etag)

            with ThreadPoolExecutor(max_workers=min(workers, len(aliases))) as pool:
                list(pool.map(copy, aliases.items()))
            alias_paths = {key: store.spark_path(scratch_prefix + "input/" + name)
                           for key, (name, _etag) in aliases.items()}
        yield SparkPaths(lambda key: alias_paths.get(key) or store.spark_path(key), store.spark_path(curated_prefix),
                         store.spark_path(dead_letter_prefix), store.spark_path(scratch_prefix + "probe/"),
                         lambda: _delete_under(store, curated_prefix, dead_letter_prefix))
    finally:
        if link_dir is not None:
            shutil.rmtree(link_dir, ignore_errors=True)


@contextlib.contextmanager
def spark_paths(store: ObjectStore, keys: Sequence[str], curated_prefix: str, dead_letter_prefix: str,
                workers: int = 16, *, scratch_prefix: str | None = None,
                aliases: Aliases | None = None) -> Iterator[SparkPaths]:
    """Paths for one conversion. With a local mirror, the staged output is uploaded to ``curated_prefix`` and
    ``dead_letter_prefix`` in the store when the block ends without an error. ``scratch_prefix`` (default: beside
    ``curated_prefix``) holds what is never published: the probe's output, staged aliases."""
    aliases = aliases or {}
    scratch_prefix = scratch_prefix or curated_prefix.rstrip("/") + "-scratch/"
    if spark_reads_store_directly(store):
        with _direct(store, curated_prefix, dead_letter_prefix, scratch_prefix, aliases, workers) as paths:
            yield paths
        return
    scratch = Path(tempfile.mkdtemp(prefix="mldp-spark-"))
    try:
        mirror = LocalStore(scratch)

        def local_key(key: str) -> str:
            return "alias/" + aliases[key][0] if key in aliases else "raw/" + key

        def download(key: str) -> None:
            target = Path(mirror.spark_path(local_key(key)))
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(store.open_stream(key)) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(download, keys))

        def reset() -> None:
            for folder in ("out/curated", "out/dead_letter"):
                shutil.rmtree(scratch / folder, ignore_errors=True)

        yield SparkPaths(lambda key: mirror.spark_path(local_key(key)), mirror.spark_path("out/curated/"),
                         mirror.spark_path("out/dead_letter/"), mirror.spark_path("out/probe/"), reset)
        uploads = [(obj.key, prefix + obj.key[len(folder):])
                   for folder, prefix in (("out/curated/", curated_prefix), ("out/dead_letter/", dead_letter_prefix))
                   for obj in mirror.list(folder)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda pair: store.put_bytes(pair[1], mirror.get_bytes(pair[0])), uploads))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
