"""Before Spark reads a batch: check each claimed file still is what the lister registered, and find the ones that
cannot yield a record at all, so Spark only ever sees readable files, read the way the file asks to be read.

Per file, one ranged GET (metadata + the first bytes): vanished or changed since listing -> a transient failure
(the lister will register the new version); zero bytes -> quarantined. A compressed file (its codec suffix in any
case: ``.gz``, ``.bz2``, ``.deflate``, ``.lz4``, ``.snappy``, ``.zst``) is decoded once end to end
(:mod:`runtime.jobs.codecs`) to prove it intact: broken -> quarantined as *unreadable* (never confused with an
empty file); a codec this environment cannot decode -> quarantined as unsupported. Whether Spark must read the file
under another name (hidden-looking names, ``.GZ``) is :func:`runtime.spark.names.spark_alias`.

**JSON Lines or array** (:mod:`runtime.jobs.json_shape`): a file whose first non-blank byte (after a UTF-8
byte-order mark) is not ``[`` is JSON Lines, at no extra cost. One that starts with ``[`` is scanned whole (a
compressed file during its decode, an uncompressed one by one more streaming GET): one top-level value is read as a
JSON array, several as JSON Lines, and a file where a line holds a second value after a whole first one is
quarantined, since Spark would drop that value without a trace either way.

**NULL ETags** (rows registered by the reference schema have none): unknown, so not compared with what is read;
the ETag the pre-check reads becomes the ETag processed (:attr:`PrecheckResult.etag`): :func:`verify_unchanged`
checks against it after Spark's read, and the archive moves only that version.

**A refused read** (:class:`StoragePermissionError`) is the file's own outcome, FAILED with a reason naming the
refused operation, IAM action and resource (retried with backoff, quarantined after the last attempt, the other
files proceed), when the role shows it can read: another file of the same pre-check was read, or a ``HeadObject``
of the refused key succeeds. Per the Amazon S3 API Reference, "HeadObject"
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, Permissions: a general purpose bucket needs
``s3:GetObject`` for HEAD; KMS permissions are listed for directory buckets only), a HEAD needs no ``kms:Decrypt``,
while a GET of an SSE-KMS object needs ``kms:Decrypt`` on the key that encrypts it (AWS re:Post, "Do I need to
specify the AWS KMS key when I download a KMS-encrypted object from Amazon S3?",
https://repost.aws/knowledge-center/decrypt-kms-encrypted-objects-s3). So a HEAD that succeeds where the GET was
refused shows the role holds ``s3:GetObject`` there and was refused the object's key: the object's refusal. The
documentation also means a role refused ``kms:Decrypt`` on the bucket's own key looks the same (every GET refused,
every HEAD allowed): its files are charged too, each quarantined after the last attempt with a reason naming
``kms:Decrypt`` (the stack grants it, and ``mldp smoke`` fails without it). When no file was read and every HEAD
is refused too, the role cannot read at all: the first refusal is raised and stops the run uncharged (without
``s3:ListBucket`` S3 answers 403 for a vanished file as well, which is never taken for "vanished").

**A read error** (a timeout, a connection reset, a 5xx) is the file's transient failure (FAILED, retried with
backoff), unless every file of a batch of several failed so and the store answers no ``HeadObject`` either: then
the store is down, not the files, and :func:`check_files` raises :class:`ObjectStoreError` (the run stops and gives
the batch back uncharged). Objects a GET can never read while the store answers (archived to Glacier, encrypted
with a customer-provided key) stay their files' failures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from runtime.db.records import ClaimedFile, FileOutcome
from runtime.db.states import FileState
from runtime.errors import one_line
from runtime.jobs import codecs, json_shape
from runtime.spark.names import intended_codec_suffix
from runtime.storage.base import (
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    StoragePermissionError,
    UnsafeObject,
    store_answers,
)

UTF8_BOM = json_shape.UTF8_BOM
#: How the reason of a file the store failed to read starts (a timeout, a connection reset, a 5xx): a transient
#: failure of that file, unless every file of the batch failed so, when it is the store's (the run stops).
READ_ERROR = "could not read the object"

__all__ = ["ClaimedFile", "PrecheckResult", "check_file", "check_files", "json_layout", "verify_unchanged"]


@dataclass(frozen=True)
class PrecheckResult:
    """``status`` is ``None`` when Spark may read the file (``json_layout`` says how), else the outcome it gets
    without being read: ``FAILED`` (transient: retried later) or ``QUARANTINED`` (poison), with ``reason``.
    ``etag`` is the ETag the pre-check read (the claimed one, or what a NULL-ETag row has now); ``codec`` the
    codec suffix the file was verified with (``None``: not compressed); ``refusal`` the refused read of a file
    FAILED for it (see the module docstring)."""

    file: ClaimedFile
    status: FileState | None = None
    reason: str | None = None
    json_layout: str = "lines"
    size: int = 0
    etag: str | None = None
    codec: str | None = None
    refusal: StoragePermissionError | None = field(default=None, repr=False, compare=False)
    #: FAILED without charging an attempt, and not retried until ``mldp requeue`` (:attr:`FileOutcome.held`)
    held: bool = False

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
        changed = self.file.etag is not None and self.etag is not None and self.etag != self.file.etag
        return FileOutcome(self.file.file_id, self.file.key, self.status, self.reason, size=self.size,
                           etag=self.processed.etag, new_etag=self.etag if changed else None,
                           archived_key=self.file.archived_key, held=self.held)


def json_layout(head: bytes) -> str:
    """``array`` when the first non-blank byte (after a UTF-8 byte-order mark) is ``[``, else ``lines``: what the
    first bytes suggest (a file that suggests ``array`` is then scanned whole, :mod:`runtime.jobs.json_shape`)."""
    return json_shape.first_byte_layout(head)



def verify_unchanged(store: ObjectStore, files: Sequence[ClaimedFile], workers: int = 16) -> list[ClaimedFile]:
    """The files whose ETag is no longer the one processed (or that vanished): checked after Spark read them, so a
    file overwritten between the pre-check and the read is never recorded as its old version. Pass the files as
    processed (:attr:`PrecheckResult.processed`); a file whose ETag is still unknown (``None``) is not compared."""
    def changed(claimed: ClaimedFile) -> bool:
        try:
            current = store.head(claimed.read_key).etag
        except ObjectNotFound:
            return True
        return claimed.etag is not None and current != claimed.etag

    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(files))) as pool:
        return [f for f, is_changed in zip(files, pool.map(changed, files), strict=True) if is_changed]


def _read_whole(found: PrecheckResult, read: Callable[[], json_shape.JsonShape],
                errors: Callable[[Exception], PrecheckResult | None] = lambda exc: None) -> PrecheckResult:
    """Read the whole file with ``read`` (a decode, a scan) and apply the shape it finds; a read error is the
    file's outcome (``errors`` may classify an error first)."""
    try:
        shape = read()
    except ObjectNotFound:
        return replace(found, status=FileState.FAILED, reason="object vanished while being read")
    except StoragePermissionError as exc:
        return _refused(found, exc)
    except Exception as exc:  # timeouts, connection resets: transient, not poison
        classified = errors(exc)
        if classified is not None:
            return classified
        return replace(found, status=FileState.FAILED, reason=f"{READ_ERROR}: {one_line(exc)}")
    if shape.problem is not None:
        return replace(found, status=FileState.QUARANTINED, reason=shape.problem, json_layout=shape.layout)
    return replace(found, json_layout=shape.layout)


def _decode(store: ObjectStore, claimed: ClaimedFile, suffix: str, found: PrecheckResult) -> PrecheckResult:
    """Decode a compressed file end to end, scanning its JSON shape on the way: readable (with its layout) or why
    not."""
    name = codecs.label(suffix)

    def decode() -> json_shape.JsonShape:
        scan = json_shape.JsonShapeScan()
        codecs.decode(store.open_stream(claimed.read_key), suffix, scan.feed)
        return scan.finish()

    def codec_error(exc: Exception) -> PrecheckResult | None:
        if isinstance(exc, codecs.CorruptData):
            return replace(found, status=FileState.QUARANTINED, reason=f"unreadable {name} file: {exc}")
        if isinstance(exc, codecs.CodecUnavailable):
            return replace(found, status=FileState.QUARANTINED,
                           reason=f"unsupported compression codec {suffix}: {exc}")
        return None

    return _read_whole(found, decode, codec_error)


def _layout(store: ObjectStore, claimed: ClaimedFile, found: PrecheckResult, head: bytes) -> PrecheckResult:
    """The layout of an uncompressed file: JSON Lines by its first bytes, else (a ``[`` first, or only blanks in the
    head of a longer file) by a scan of the whole object."""
    first = json_shape.first_significant_byte(head)
    if first == b"[" or (not first and found.size > len(head)):
        return _read_whole(found, lambda: json_shape.scan_stream(store.open_stream(claimed.read_key)))
    return replace(found, json_layout="lines")


def _refused(found: PrecheckResult, exc: StoragePermissionError) -> PrecheckResult:
    """A file whose read was refused: FAILED for now; :func:`check_files` decides whether the refusal is the
    file's (it stays FAILED) or the run's (raised)."""
    return replace(found, status=FileState.FAILED, reason=f"read refused: {exc}", refusal=exc)


def _classify(store: ObjectStore, claimed: ClaimedFile) -> PrecheckResult:
    """One file's pre-check, a refused read noted but not judged yet. A reprocessed file is read from its archived
    copy, whose ETag is not the raw upload's (a multipart copy has its own): the ETag read is the one processed."""
    if claimed.archived_key is not None:
        claimed = replace(claimed, etag=None)
    try:
        info, head = store.read_head(claimed.read_key, codecs.HEAD_BYTES)
    except ObjectNotFound:
        return PrecheckResult(claimed, FileState.FAILED, "object vanished after listing (deleted or moved)")
    except StoragePermissionError as exc:
        return _refused(PrecheckResult(claimed), exc)
    except UnsafeObject as exc:  # e.g. a local symbolic link leading outside the store: never read
        return PrecheckResult(claimed, FileState.QUARANTINED, str(exc))
    except Exception as exc:  # a read error says nothing about the file: retry it later
        return PrecheckResult(claimed, FileState.FAILED, f"{READ_ERROR}: {one_line(exc)}")
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
    return _layout(store, claimed, found, head)


def _head_allowed(store: ObjectStore, key: str) -> bool:
    """Whether a ``HeadObject`` of ``key`` is allowed (it exists and is answered, or is answered missing)."""
    try:
        store.head(key)
    except ObjectNotFound:
        return True  # answered 404: the role may look; the object went away since
    except Exception:  # refused too, or no answer: no evidence either way
        return False
    return True


def _object_refusal(result: PrecheckResult, evidence: str) -> PrecheckResult:
    """A refused read judged the object's: FAILED with a reason naming the refused operation, action, resource."""
    exc = result.refusal
    assert exc is not None
    if not (exc.action and exc.resource):
        return replace(result, reason=f"access denied to this object ({evidence}): {exc}")
    cause = ("e.g. it is encrypted under a KMS key the role may not use" if exc.action.startswith("kms:") else
             "e.g. the role's policy does not cover it, or it was deleted since listing: without s3:ListBucket S3 "
             "answers 403 for a missing key")
    return replace(result, reason=(f"access denied to this object: {exc.operation or 'the read'} of {exc.resource} "
                                   f"was refused {exc.action} ({evidence}, so the cause is the object: {cause})"))


def _judge_refusals(store: ObjectStore, results: list[PrecheckResult], workers: int) -> list[PrecheckResult]:
    """Keep each refused file FAILED when the role shows it can read, else raise the first refusal (see the module
    docstring)."""
    refused = [r for r in results if r.refusal is not None]
    if not refused:
        return results
    if any(r.refusal is None and r.etag is not None for r in results):
        judged = {r.file.file_id: _object_refusal(r, "another file of the batch was read") for r in refused}
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(refused))) as pool:
            allowed = list(pool.map(lambda r: _head_allowed(store, r.file.read_key), refused))
        if not any(allowed):
            raise refused[0].refusal  # type: ignore[misc]  # no read and no HEAD allowed: the role's, not a file's
        evidence = {True: "a HeadObject of it is allowed", False: "a HeadObject of another refused file is allowed"}
        judged = {r.file.file_id: _object_refusal(r, evidence[ok]) for r, ok in zip(refused, allowed, strict=True)}
    return [judged.get(r.file.file_id, r) for r in results]


def check_file(store: ObjectStore, claimed: ClaimedFile) -> PrecheckResult:
    """Classify one claimed file (see the module docstring); a refused read is judged as in a batch of one."""
    return _judge_refusals(store, [_classify(store, claimed)], 1)[0]


def check_files(store: ObjectStore, files: Sequence[ClaimedFile], workers: int = 16) -> list[PrecheckResult]:
    """:func:`check_file` for every file, ``workers`` at a time, in input order; a refused read is the file's
    outcome unless the role cannot read at all (then the first refusal is raised: see the module docstring)."""
    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(files))) as pool:
        results = list(pool.map(lambda f: _classify(store, f), files))
    results = _judge_refusals(store, results, workers)
    if len(results) > 1 and all((r.reason or "").startswith(READ_ERROR) for r in results) \
            and not store_answers(store, (r.file.read_key for r in results)):
        raise ObjectStoreError(f"the store could not be read: each of the {len(results)} files of the batch failed "
                               f"({results[0].reason}); no file was charged an attempt")
    return results
