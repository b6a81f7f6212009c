"""How Spark reaches the store. On Glue (and for local directories) Spark reads and writes the store's own paths.
Local Spark cannot load the ``s3a`` connector here, so against S3 it works through a local mirror: the batch's
raw files are downloaded to a scratch directory, converted there, and the staged output is uploaded to the
store's staging prefix; the rest of the protocol (manifest, publish, archive) is the same."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from runtime.storage.base import ObjectStore
from runtime.storage.local import LocalStore


@dataclass(frozen=True)
class SparkPaths:
    """What Spark reads for each raw key, and where it writes the batch's curated and dead-letter output."""

    source_path: Callable[[str], str]
    curated_path: str
    dead_letter_path: str


def spark_reads_store_directly(store: ObjectStore) -> bool:
    """True for local directories and on Glue (EMRFS reads ``s3://``); False for S3 under local Spark."""
    if isinstance(store, LocalStore):
        return True
    from runtime.spark.session import on_glue

    return on_glue() or os.environ.get("MLDP_SPARK_READS_S3") == "1"


@contextlib.contextmanager
def spark_paths(store: ObjectStore, keys: Sequence[str], curated_prefix: str, dead_letter_prefix: str,
                workers: int = 16) -> Iterator[SparkPaths]:
    """Paths for one conversion. With a local mirror, the staged output is uploaded to ``curated_prefix`` and
    ``dead_letter_prefix`` in the store when the block ends without an error."""
    if spark_reads_store_directly(store):
        yield SparkPaths(store.spark_path, store.spark_path(curated_prefix), store.spark_path(dead_letter_prefix))
        return
    scratch = Path(tempfile.mkdtemp(prefix="mldp-spark-"))
    try:
        mirror = LocalStore(scratch)

        def download(key: str) -> None:
            target = Path(mirror.spark_path("raw/" + key))
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(store.open_stream(key)) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(download, keys))
        yield SparkPaths(lambda key: mirror.spark_path("raw/" + key), mirror.spark_path("out/curated/"),
                         mirror.spark_path("out/dead_letter/"))
        uploads = [(obj.key, prefix + obj.key[len(folder):])
                   for folder, prefix in (("out/curated/", curated_prefix), ("out/dead_letter/", dead_letter_prefix))
                   for obj in mirror.list(folder)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda pair: store.put_bytes(pair[1], mirror.get_bytes(pair[0])), uploads))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
