"""Before Spark reads a batch: check each claimed file still is what the lister registered, and find the ones that
cannot yield a record at all, so Spark only ever sees readable files, read the way the file asks to be read.

Per file, one ranged GET (metadata + the first bytes): vanished or changed since listing -> a transient failure
(the lister will register the new version); zero bytes -> quarantined. A compressed file (its codec suffix in any
case: ``.gz``, ``.bz2``, ``.deflate``, ``.lz4``, ``.snappy``, ``.zst``) is decoded once end to end
(:mod:`runtime.jobs.codecs`) to prove it intact: broken -> quarantined as *unreadable* (never confused with an
empty file); a codec this environment cannot decode -> quarantined as unsupported. The first non-blank byte of
the (decompressed) data, after a UTF-8 byte-order mark, tells JSON Lines from a JSON array. Whether Spark must
read the file under another name (hidden-looking names, ``.GZ``) is :func:`runtime.spark.names.spark_alias`.

**NULL ETags** (rows registered by the reference schema have none): unknown, so not compared with what is read;
the ETag the pre-check reads becomes the ETag processed (:attr:`PrecheckResult.etag`): :func:`verify_unchanged`
checks against it after Spark's read, and the archive moves only that version.

A refused read (:class:`StoragePermissionError`) is no file's fault and is raised: it stops the run (without
``s3:ListBucket`` S3 answers 403 for a vanished file, which must not pass for "vanished" either).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from runtime.db.records import ClaimedFile, FileOutcome
from runtime.db.states import FileState
from runtime.jobs import codecs
from runtime.spark.names import intended_codec_suffix
from runtime.storage.base import ObjectNotFound, ObjectStore, StoragePermissionError, UnsafeObject

UTF8_BOM = b"\xef\xbb\xbf"

__all__ = ["ClaimedFile", "PrecheckResult", "check_file", "check_files", "json_layout", "verify_unchanged"]


@dataclass(frozen=True)
class PrecheckResult:
    """``status`` is ``None`` when Spark may read the file (``json_layout`` says how), else the outcome it gets
    without being read: ``FAILED`` (transient: retried later) or ``QUARANTINED`` (poison), with ``reason``.
    ``etag`` is the ETag the pre-check read (the claimed one, or what a NULL-ETag row has now); ``codec`` the
    codec suffix the file was verified with (``None``: not compressed)."""

    file: ClaimedFile
    status: FileState | None = None
    reason: str | None = None
    json_layout: str = "lines"
    size: int = 0
    etag: str | None = None
    codec: str | None = None

    @property
    def readable(self) -> bool:
        """Spark reads this file."""
        return self.status is None

    @property
    def processed(self) -> ClaimedFile:
        """The claimed file with the ETag this run processes (a NULL ETag replaced by the one read)."""
        if self.file.etag is None and self.etag is not None:
            return replace(self.file, etag=self.etag)
        return self.file

    def outcome(self) -> FileOutcome:
        """The outcome of a file that is not read (``status`` set)."""
        if self.status is None:
            raise ValueError(f"{self.file.key} is readable: its outcome comes from the conversion")
        return FileOutcome(self.file.file_id, self.file.key, self.status, self.reason, size=self.size,
                           etag=self.processed.etag)


def json_layout(head: bytes) -> str:
    """``array`` when the first non-blank byte (after a UTF-8 byte-order mark) is ``[``, else ``lines``."""
    text = head[len(UTF8_BOM):] if head.startswith(UTF8_BOM) else head
    return "array" if text.lstrip()[:1] == b"[" else "lines"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def verify_unchanged(store: ObjectStore, files: Sequence[ClaimedFile], workers: int = 16) -> list[ClaimedFile]:
    """The files whose ETag is no longer the one processed (or that vanished): checked after Spark read them, so a
    file overwritten between the pre-check and the read is never recorded as its old version. Pass the files as
    processed (:attr:`PrecheckResult.processed`); a file whose ETag is still unknown (``None``) is not compared."""
    def changed(claimed: ClaimedFile) -> bool:
        try:
            current = store.head(claimed.key).etag
        except ObjectNotFound:
            return True
        return claimed.etag is not None and current != claimed.etag

    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(files))) as pool:
        return [f for f, is_changed in zip(files, pool.map(changed, files), strict=True) if is_changed]


def _decode(store: ObjectStore, claimed: ClaimedFile, suffix: str, found: PrecheckResult) -> PrecheckResult:
    """Decode a compressed file end to end: readable (with its decompressed head sniffed) or why not."""
    name = codecs.label(suffix)
    try:
        head = codecs.decode(store.open_stream(claimed.key), suffix)
    except ObjectNotFound:
        return replace(found, status=FileState.FAILED, reason="object vanished while being read")
    except codecs.CorruptData as exc:
        return replace(found, status=FileState.QUARANTINED, reason=f"unreadable {name} file: {exc}")
    except codecs.CodecUnavailable as exc:
        return replace(found, status=FileState.QUARANTINED,
                       reason=f"unsupported compression codec {suffix}: {exc}")
    except StoragePermissionError:
        raise
    except Exception as exc:  # timeouts, connection resets: transient, not poison
        return replace(found, status=FileState.FAILED, reason=f"could not read the object: {_one_line(exc)}")
    return replace(found, json_layout=json_layout(head))


def check_file(store: ObjectStore, claimed: ClaimedFile) -> PrecheckResult:
    """Classify one claimed file (see the module docstring)."""
    try:
        info, head = store.read_head(claimed.key, codecs.HEAD_BYTES)
    except ObjectNotFound:
        return PrecheckResult(claimed, FileState.FAILED, "object vanished after listing (deleted or moved)")
    except StoragePermissionError:
        raise
    except UnsafeObject as exc:  # e.g. a local symbolic link leading outside the store: never read
        return PrecheckResult(claimed, FileState.QUARANTINED, str(exc))
    except Exception as exc:  # a read error says nothing about the file: retry it later
        return PrecheckResult(claimed, FileState.FAILED, f"could not read the object: {_one_line(exc)}")
    found = PrecheckResult(claimed, size=info.size, etag=info.etag)
    if claimed.etag is not None and info.etag != claimed.etag:
        return replace(found, status=FileState.FAILED, reason=(
            f"object changed after listing (ETag {claimed.etag} -> {info.etag}); the lister registers the new "
            "version"))
    if info.size == 0:
        return replace(found, status=FileState.QUARANTINED, reason="zero-byte file")
    suffix = intended_codec_suffix(claimed.key)
    if suffix is not None:
        return _decode(store, claimed, suffix, replace(found, codec=suffix))
    return replace(found, json_layout=json_layout(head))


def check_files(store: ObjectStore, files: Sequence[ClaimedFile], workers: int = 16) -> list[PrecheckResult]:
    """:func:`check_file` for every file, ``workers`` at a time, in input order."""
    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(files))) as pool:
        return list(pool.map(lambda f: check_file(store, f), files))
