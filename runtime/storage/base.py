"""One small object-store interface, implemented by S3 (boto3) and by a local directory.

Keys are always ``/``-separated and relative to the store root (bucket or directory); they never start
with ``/``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from runtime.errors import MldpError


class ObjectStoreError(MldpError):
    """A store-level failure with a message fit for an operator (missing bucket, missing directory, ...)."""


class ObjectNotFound(ObjectStoreError):
    """The key does not exist."""


class SourceChanged(ObjectStoreError):
    """A conditional copy found the source's ETag different from the one expected (it was overwritten)."""


class UnsafeObject(ObjectStoreError):
    """The object is there but the store refuses to read it: a symbolic link of a local store that leads outside
    the store's root. It is that file's outcome (quarantined with this reason), not an error of the run."""


class StoragePermissionError(ObjectStoreError):
    """The store refused a request for lack of permission (S3: ``AccessDenied`` / HTTP 403).

    It says nothing about the object (it may or may not exist: without ``s3:ListBucket`` S3 answers 403 for a
    missing key), so it is never taken for "missing" nor retried as transient: it belongs to no file and stops
    the run. The message is one line naming the operation, the IAM action and the resource; the same facts are
    kept as attributes.
    """

    def __init__(self, message: str, *, operation: str = "", action: str = "", resource: str = "") -> None:
        super().__init__(message)
        #: the API operation that was refused, e.g. ``GetObject``
        self.operation = operation
        #: the IAM action(s) it needs, e.g. ``s3:GetObject`` or ``kms:Decrypt``
        self.action = action
        #: the resource, e.g. ``arn:aws:s3:::bucket/key`` or ``arn:aws:s3:::bucket``
        self.resource = resource
        #: the keys refused, where a request named several (a bulk delete)
        self.keys: list[str] = []
        #: set by the mover when a delete raised this: the other sources of its call whose move had failed
        self.failed_moves: dict[str, str] = {}


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing says about one object."""

    key: str
    size: int
    last_modified: datetime  # timezone-aware, UTC
    etag: str  # without surrounding quotes


@dataclass
class Level:
    """One ``/``-level of a prefix (a ``Delimiter='/'`` listing): its sub-prefixes (each ending in ``/``) and the
    objects directly under it."""

    prefixes: list[str] = field(default_factory=list)
    objects: list[ObjectInfo] = field(default_factory=list)


class ObjectStore(abc.ABC):
    """List, read, write, copy, move and delete objects under one root."""

    #: ``s3://bucket`` or an absolute local directory path.
    url: str

    @abc.abstractmethod
    def list_pages(self, prefix: str = "") -> Iterator[list[ObjectInfo]]:
        """Yield the objects under ``prefix`` page by page (S3: up to 1,000 per page), in key order,
        skipping folder markers (keys ending in ``/``). Empty pages are not yielded. Memory stays bounded by
        one page."""

    def list_range_pages(self, prefix: str = "", start_after: str | None = None, end: str | None = None,
                         page_size: int | None = None) -> Iterator[list[ObjectInfo]]:
        """Like :meth:`list_pages`, restricted to the keys ``k`` with ``start_after < k <= end`` (``None``:
        unbounded; see :mod:`runtime.storage.key_ranges`), in pages of at most ``page_size``. This default filters
        a whole listing; the stores override it to start after ``start_after`` and stop at ``end``."""
        size = page_size or 1000
        for page in self.list_pages(prefix):
            kept = [obj for obj in page if (start_after is None or obj.key > start_after)
                    and (end is None or obj.key <= end)]
            for start in range(0, len(kept), size):
                yield kept[start:start + size]
            if end is not None and page[-1].key > end:
                return

    def list_range_rows(self, prefix: str = "", start_after: str | None = None, end: str | None = None,
                        page_size: int | None = None) -> Iterator[list[tuple[str, int, datetime, str]]]:
        """:meth:`list_range_pages` as rows ``(key, size, last_modified, etag)``: what a listing process sends its
        parent (:mod:`runtime.jobs.listing_processes`), cheaper to make, pickle and unpickle than objects."""
        for page in self.list_range_pages(prefix, start_after, end, page_size):
            yield [(obj.key, obj.size, obj.last_modified, obj.etag) for obj in page]

    def list_level(self, prefix: str) -> Level | None:
        """The sub-prefixes and direct objects of ``prefix`` (ending in ``/``) in one request, or ``None`` when they
        do not fit in one (or the store cannot tell): the caller then splits the prefix by key ranges."""
        return None

    def worker_factory(self) -> Callable[[], ObjectStore] | None:
        """A picklable callable that opens this store again in another process (a listing process:
        :mod:`runtime.jobs.listing_processes`), or ``None`` when it cannot be (the default): its listing stays in
        threads of this process."""
        return None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, flattened from :meth:`list_pages`."""
        for page in self.list_pages(prefix):
            yield from page

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Metadata of one object; raises :class:`ObjectNotFound`.

        Every method raises :class:`StoragePermissionError` when the store refuses the request for lack of
        permission (never :class:`ObjectNotFound`: S3 answers 403, not 404, for a missing key when the caller
        lacks ``s3:ListBucket``)."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists (one ``head``)."""
        try:
            self.head(key)
        except ObjectNotFound:
            return False
        return True

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole object; raises :class:`ObjectNotFound`."""

    @abc.abstractmethod
    def read_head(self, key: str, length: int = 65536) -> tuple[ObjectInfo, bytes]:
        """The object's metadata (full size, ETag, last-modified) and its first ``length`` bytes (fewer if the
        object is shorter), in one request on S3; raises :class:`ObjectNotFound`."""

    @abc.abstractmethod
    def open_stream(self, key: str) -> BinaryIO:
        """A binary reader over the whole object that streams (never loads the object in memory); the caller
        closes it. Raises :class:`ObjectNotFound`."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Write (or overwrite) one object."""

    @abc.abstractmethod
    def copy(self, source_key: str, destination_key: str, size: int | None = None,
             if_match: str | None = None) -> None:
        """Server-side copy inside the store; S3 uses a managed (multipart) copy so objects over 5 GB work.

        ``size`` is the source's size when the caller already knows it (from a listing): it lets S3 copy a
        small object in one request. ``if_match`` makes the copy conditional on the source's ETag (S3
        ``CopySourceIfMatch``): a source overwritten since then raises :class:`SourceChanged`. Raises
        :class:`ObjectNotFound` when the source does not exist and :class:`ObjectStoreError` for any other
        failure."""

    @abc.abstractmethod
    def delete_many(self, keys: Iterable[str], if_match: Mapping[str, str] | None = None) -> list[str]:
        """Delete keys (S3: ``delete_objects`` in batches of up to 1,000). Missing keys are not errors.

        A key given an ETag in ``if_match`` is deleted only while it still has that ETag (S3: a conditional
        delete; locally: checked on the very file removed): a newer upload of it is never deleted, and the key
        comes back among the kept ones. Returns the keys that were not deleted; a delete the store refuses for
        lack of permission raises :class:`StoragePermissionError` instead (retrying it cannot succeed)."""

    def delete(self, key: str) -> None:
        """Delete one key (missing is not an error); raises :class:`ObjectStoreError` if it could not be."""
        failed = self.delete_many([key])
        if failed:
            raise ObjectStoreError(f"could not delete {key}")

    @abc.abstractmethod
    def spark_path(self, key_or_prefix: str) -> str:
        """The path Spark uses for this key or prefix: ``s3://bucket/key`` on S3, an absolute path locally."""

    def key_from_spark_path(self, path: str) -> str:
        """Inverse of :meth:`spark_path` (accepts ``file:`` URIs and ``s3a://`` too).

        Paths with a scheme are taken as URIs, as Spark's ``input_file_name()`` reports them, and are
        percent-decoded (``%20`` -> space); plain local paths are taken literally."""
        raise NotImplementedError


def store_answers(store: ObjectStore, keys: Iterable[str], tries: int = 3) -> bool:
    """Whether the store answers a ``HeadObject`` for any of the first ``tries`` of ``keys`` (found, missing or
    refused are all answers): after reads of several objects all failed, tells a store that is down from objects
    that cannot be read (archived to Glacier, encrypted with a customer key, corrupt), which are their files'."""
    for key in list(keys)[:tries]:
        try:
            store.head(key)
        except (ObjectNotFound, StoragePermissionError):
            return True
        except Exception:  # no answer: down, or unreachable
            continue
        return True
    return False
