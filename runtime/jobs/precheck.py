"""Before Spark reads a batch: check each claimed file still is what the lister registered, and find the ones that
cannot yield a record at all, so Spark only ever sees readable files.

Per file, one ranged GET (metadata + the first bytes): vanished or changed since listing -> a transient failure
(the lister will register the new version); zero bytes -> quarantined; ``.gz`` -> the whole stream is
decompressed once to prove it is intact (a broken gzip would otherwise fail the whole Spark job, or, worse, yield a
truncated file's records as if complete) -> quarantined when broken. The first non-blank byte tells JSON Lines
from a JSON array. A refused read (:class:`StoragePermissionError`) is no file's fault and is raised: it stops the
run (without ``s3:ListBucket`` S3 answers 403 for a vanished file, which must not pass for "vanished" either).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from runtime.db.records import ClaimedFile, FileOutcome
from runtime.db.states import FileState
from runtime.storage.base import ObjectNotFound, ObjectStore, StoragePermissionError, UnsafeObject

STREAM_CHUNK = 1 << 20


__all__ = ["ClaimedFile", "PrecheckResult", "check_file", "check_files", "verify_unchanged"]


@dataclass(frozen=True)
class PrecheckResult:
    """``status`` is ``None`` when Spark may read the file (``json_layout`` says how), else the outcome it gets
    without being read: ``FAILED`` (transient: retried later) or ``QUARANTINED`` (poison), with ``reason``."""

    file: ClaimedFile
    status: FileState | None = None
    reason: str | None = None
    json_layout: str = "lines"
    size: int = 0

    @property
    def readable(self) -> bool:
        """Spark reads this file."""
        return self.status is None

    def outcome(self) -> FileOutcome:
        """The outcome of a file that is not read (``status`` set)."""
        if self.status is None:
            raise ValueError(f"{self.file.key} is readable: its outcome comes from the conversion")
        return FileOutcome(self.file.file_id, self.file.key, self.status, self.reason, size=self.size,
                           etag=self.file.etag)


def _is_gzip(key: str) -> bool:
    """Spark decompresses by file extension, so the pre-check does too."""
    return key.lower().endswith(".gz")


def _first_meaningful_byte(head: bytes) -> bytes:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return text[:1]


class CorruptGzip(ValueError):
    """The gzip data itself is broken (bad header, bad deflate data, truncated): the file is poison."""


def _gzip_head_and_check(store: ObjectStore, key: str) -> bytes:
    """Decompress the whole object (streaming, bounded memory); return its first decompressed bytes.
    Raises :class:`CorruptGzip` when the data is corrupt or truncated; read errors propagate as they are."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head = b""
    stream = store.open_stream(key)
    try:
        while True:
            chunk = stream.read(STREAM_CHUNK)
            if not chunk:
                break
            while chunk:
                try:
                    out = decompressor.decompress(chunk, STREAM_CHUNK)
                except zlib.error as exc:
                    raise CorruptGzip(f"corrupt gzip data: {exc}") from exc
                if len(head) < 4096:
                    head += out[: 4096 - len(head)]
                chunk = decompressor.unconsumed_tail
                if decompressor.eof and decompressor.unused_data:
                    # concatenated gzip members are valid: start a new member
                    rest = decompressor.unused_data
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    chunk = rest
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    if not decompressor.eof:
        raise CorruptGzip("truncated gzip stream (unexpected end of file)")
    return head


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def verify_unchanged(store: ObjectStore, files: Sequence[ClaimedFile], workers: int = 16) -> list[ClaimedFile]:
    """The files whose ETag is no longer the claimed one (or that vanished): checked after Spark read them, so a
    file overwritten between the pre-check and the read is never recorded as its old version."""
    def changed(claimed: ClaimedFile) -> bool:
        try:
            return store.head(claimed.key).etag != claimed.etag
        except ObjectNotFound:
            return True

    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(files))) as pool:
        return [f for f, is_changed in zip(files, pool.map(changed, files), strict=True) if is_changed]


def check_file(store: ObjectStore, claimed: ClaimedFile) -> PrecheckResult:
    """Classify one claimed file (see the module docstring)."""
    try:
        info, head = store.read_head(claimed.key, 4096)
    except ObjectNotFound:
        return PrecheckResult(claimed, FileState.FAILED, "object vanished after listing (deleted or moved)")
    except StoragePermissionError:
        raise
    except UnsafeObject as exc:  # e.g. a local symbolic link leading outside the store: never read
        return PrecheckResult(claimed, FileState.QUARANTINED, str(exc))
    except Exception as exc:  # a read error says nothing about the file: retry it later
        return PrecheckResult(claimed, FileState.FAILED, f"could not read the object: {_one_line(exc)}")
    if claimed.etag and info.etag != claimed.etag:
        return PrecheckResult(
            claimed, FileState.FAILED,
            f"object changed after listing (ETag {claimed.etag} -> {info.etag}); the lister registers the new "
            "version", size=info.size)
    if info.size == 0:
        return PrecheckResult(claimed, FileState.QUARANTINED, "zero-byte file", size=0)
    if _is_gzip(claimed.key):
        try:
            head = _gzip_head_and_check(store, claimed.key)
        except ObjectNotFound:
            return PrecheckResult(claimed, FileState.FAILED, "object vanished while being read", size=info.size)
        except CorruptGzip as exc:
            return PrecheckResult(claimed, FileState.QUARANTINED, f"unreadable gzip file: {exc}", size=info.size)
        except StoragePermissionError:
            raise
        except Exception as exc:  # timeouts, connection resets: transient, not poison
            return PrecheckResult(claimed, FileState.FAILED, f"could not read the object: {_one_line(exc)}",
                                  size=info.size)
    layout = "array" if _first_meaningful_byte(head) == b"[" else "lines"
    return PrecheckResult(claimed, json_layout=layout, size=info.size)


def check_files(store: ObjectStore, files: Sequence[ClaimedFile], workers: int = 16) -> list[PrecheckResult]:
    """:func:`check_file` for every file, ``workers`` at a time, in input order."""
    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(files))) as pool:
        return list(pool.map(lambda f: check_file(store, f), files))
