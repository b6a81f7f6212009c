"""The object store over a local directory: the local-mode twin of :class:`runtime.storage.s3.S3Store`.

A key maps to the file ``root/<key>``; ``/`` in a key is a directory level. Directories play the part of S3
folder markers: listings skip them (and empty ones), and ``put_bytes("a/b/", b"")`` creates one.

The ETag of a local file is a cheap fingerprint, never a content hash: ``f"{size:x}-{mtime_ns:x}-{inode:x}"``
(size, modification time in nanoseconds and inode number, in hex). Every write goes through a new file
(temp file + ``os.replace``), so a rewrite changes the inode even when size and coarse mtime do not.
Listing costs one ``stat`` per file and reads no content.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from runtime.storage import key_ranges
from runtime.storage.base import (
    Level,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    SourceChanged,
    UnsafeObject,
)

log = logging.getLogger(__name__)

#: Name prefix of the hidden temp files that make writes atomic; listings never show them.
TEMP_PREFIX = ".mldp-tmp-"

_COPY_BUFFER = 1024 * 1024
_NOT_FOUND = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def _fingerprint(st: os.stat_result) -> str:
    """The local ETag: size, mtime (ns) and inode, in hex."""
    return f"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"


def _last_modified(st: os.stat_result) -> datetime:
    """When the file at this path last changed, as a UTC datetime (microsecond precision): the later of its
    modification time and its inode change time. A copy that keeps its source's old mtime (``cp -p``, ``rsync -t``,
    ``tar x``) still changes the ctime now, so a replaced file is never older than the one it replaced (S3's
    LastModified is likewise the time of the write, whatever the object's history)."""
    seconds, nanos = divmod(max(st.st_mtime_ns, st.st_ctime_ns), 1_000_000_000)
    return datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=nanos // 1000)


class LocalStore(ObjectStore):
    """An :class:`ObjectStore` over the directory ``root``, which must exist.

    ``page_size`` is the number of objects per page of :meth:`list_pages`. Listing walks the tree with
    ``os.scandir`` in S3 key order (UTF-8 byte order); memory holds one page plus the entry names of the
    directories on the current path (a directory's names must be sorted before its first key is yielded).
    Symlinked directories are not followed.
    """

    def __init__(self, root: str | Path, page_size: int = 1000) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        given = Path(root).expanduser().absolute()
        if not given.is_dir():
            raise ObjectStoreError(self._missing_root_message(given))
        self.root: Path = given.resolve()
        self._roots = tuple(dict.fromkeys([str(self.root), str(given)]))
        self.page_size = page_size
        self.url = str(self.root)

    def __repr__(self) -> str:
        return f"LocalStore({self.url!r})"

    # -- keys and paths --------------------------------------------------------------------------------

    @staticmethod
    def _missing_root_message(root: Path) -> str:
        if root.exists():
            return f"local store root {root} is not a directory"
        return f"local store directory {root} does not exist (create it, or point the store at another one)"

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise ObjectStoreError(self._missing_root_message(self.root))

    @staticmethod
    def _segments(key: str, *, allow_trailing_slash: bool = False) -> list[str]:
        """The directory levels of ``key``; raises :class:`ObjectStoreError` for keys a file system cannot
        hold (empty, absolute, ``.``/``..``/empty segments, NUL)."""
        if not isinstance(key, str) or not key:
            raise ObjectStoreError(f"invalid key {key!r}: keys are non-empty strings")
        if key.startswith("/") or "\x00" in key:
            raise ObjectStoreError(f"invalid key {key!r}: keys are relative and contain no NUL")
        segments = key.split("/")
        if allow_trailing_slash and len(segments) > 1 and segments[-1] == "":
            segments = segments[:-1]
        if any(s in ("", ".", "..") for s in segments):
            raise ObjectStoreError(f"invalid key {key!r}: empty, '.' and '..' segments are not supported")
        return segments

    def _path(self, key: str) -> str:
        return os.path.join(self.url, *self._segments(key))

    def spark_path(self, key_or_prefix: str) -> str:
        """The absolute local path of a key or prefix (no scheme, so it works whatever Hadoop's default file
        system is set to in local mode; a trailing ``/`` is kept). ``""`` is the root itself."""
        if not key_or_prefix:
            return self.url
        trailing = "/" if key_or_prefix.endswith("/") else ""
        return os.path.join(self.url, *self._segments(key_or_prefix, allow_trailing_slash=True)) + trailing

    def key_from_spark_path(self, path: str) -> str:
        """The key of a path under the root: a plain absolute path (taken literally) or a ``file:`` URI
        such as Spark's ``input_file_name()`` gives (``file:///root/a%20b.json``; percent-decoded)."""
        if path.startswith("file:"):
            parts = urlsplit(path)
            if parts.netloc not in ("", "localhost"):
                raise ObjectStoreError(f"{path!r} is not a local file URI")
            local = unquote(parts.path)
        elif "://" in path:
            raise ObjectStoreError(f"{path!r} is not a path under {self.url}")
        else:
            local = path
        for root in self._roots:
            if local.startswith(root.rstrip("/") + "/"):
                key = local[len(root.rstrip("/")) + 1 :]
                if key:
                    return key
        raise ObjectStoreError(f"{path!r} is not a path under {self.url}")

    # -- listing ---------------------------------------------------------------------------------------

    def list_pages(self, prefix: str = "") -> Iterator[list[ObjectInfo]]:
        """Pages of ``page_size`` objects under ``prefix`` in key order (see the class docstring)."""
        directory, _, name_prefix = prefix.rpartition("/")
        start = self.url
        if directory:
            start = os.path.join(self.url, *self._segments(directory))
        self._check_root()
        page: list[ObjectInfo] = []
        for info in self._walk(start, directory + "/" if directory else "", name_prefix):
            page.append(info)
            if len(page) >= self.page_size:
                yield page
                page = []
        if page:
            yield page

    def list_range_pages(self, prefix: str = "", start_after: str | None = None, end: str | None = None,
                         page_size: int | None = None) -> Iterator[list[ObjectInfo]]:
        """The walk of :meth:`list_pages` pruned to ``(start_after, end]`` (:mod:`runtime.storage.key_ranges`)."""
        return key_ranges.local_range_pages(self, prefix, start_after, end, page_size, TEMP_PREFIX)

    def list_level(self, prefix: str) -> Level | None:
        """One directory (:func:`runtime.storage.key_ranges.local_level`)."""
        return key_ranges.local_level(self, prefix, TEMP_PREFIX)

    def _walk(self, directory: str, key_prefix: str, name_prefix: str) -> Iterator[ObjectInfo]:
        """Objects under ``directory`` whose names start with ``name_prefix``, recursively, in key order.

        Directory names get a trailing ``/`` before sorting: that is where their keys sort among the
        siblings (``a-c`` < ``a/x`` < ``a0``)."""
        names = key_ranges.local_names(directory, name_prefix, TEMP_PREFIX)
        for name in names:
            path = os.path.join(directory, name)
            if name.endswith("/"):
                yield from self._walk(path.rstrip("/"), key_prefix + name, "")
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:  # deleted while listing
                continue
            yield ObjectInfo(key_prefix + name, st.st_size, _last_modified(st), _fingerprint(st))

    # -- reads -----------------------------------------------------------------------------------------

    def _info(self, key: str, st: os.stat_result) -> ObjectInfo:
        return ObjectInfo(key, st.st_size, _last_modified(st), _fingerprint(st))

    def head(self, key: str) -> ObjectInfo:
        """Metadata of ``key``; raises :class:`ObjectNotFound` (also for directories)."""
        try:
            st = os.stat(self._path(key))
        except _NOT_FOUND as err:
            raise ObjectNotFound(key) from err
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(key)
        return self._info(key, st)

    def _open(self, key: str) -> BinaryIO:
        """Open the file of ``key`` for reading; a symbolic link is followed only to a file inside the root
        (:class:`UnsafeObject` otherwise: the store never reads what lies outside its directory)."""
        path = self._path(key)
        try:
            real = os.path.realpath(path)
            if not real.startswith(self.url.rstrip("/") + "/"):
                raise UnsafeObject(f"{key} is a symbolic link to {real}, outside the store root {self.url}: "
                                   "not read")
            # the resolved path has no link left in its last component: O_NOFOLLOW refuses one swapped in since
            return os.fdopen(os.open(real, os.O_RDONLY | os.O_NOFOLLOW), "rb")
        except _NOT_FOUND as err:
            raise ObjectNotFound(key) from err
        except OSError as err:
            raise ObjectStoreError(f"cannot read {key} under {self.url}: {err}") from err

    def get_bytes(self, key: str) -> bytes:
        """The whole file."""
        with self._open(key) as f:
            return f.read()

    def read_head(self, key: str, length: int = 65536) -> tuple[ObjectInfo, bytes]:
        """Metadata and first ``length`` bytes, both from the same open file."""
        if length < 0:
            raise ValueError("length must be >= 0")
        with self._open(key) as f:
            info = self._info(key, os.fstat(f.fileno()))
            return info, f.read(length)

    def open_stream(self, key: str) -> BinaryIO:
        """The open file (buffered binary reader)."""
        return self._open(key)

    # -- writes ----------------------------------------------------------------------------------------

    def _make_parents(self, path: str, key: str) -> None:
        """Create the directories above ``path``; never recreates a missing root."""
        self._check_root()
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as err:
            raise ObjectStoreError(f"cannot create the directory for {key} under {self.url}: {err}") from err

    def _create_temp(self, path: str, key: str) -> tuple[BinaryIO, str]:
        """A new hidden temp file beside ``path`` (same directory, so ``os.replace`` is atomic)."""
        temp = os.path.join(os.path.dirname(path), TEMP_PREFIX + uuid.uuid4().hex)
        for attempt in (1, 2):
            try:
                return open(temp, "xb"), temp
            except FileNotFoundError as err:
                if attempt == 2:
                    raise ObjectStoreError(f"cannot write {key} under {self.url}: {err}") from err
                self._make_parents(path, key)
            except OSError as err:
                raise ObjectStoreError(f"cannot write {key} under {self.url}: {err}") from err
        raise AssertionError("unreachable")

    def _commit(self, temp: str, path: str, key: str) -> None:
        try:
            os.replace(temp, path)
        except OSError as err:
            _unlink_quietly(temp)
            raise ObjectStoreError(f"cannot write {key} under {self.url}: {err}") from err

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write atomically (temp file + ``os.replace``). A key ending in ``/`` with empty data creates the
        directory (the local form of a folder marker)."""
        if key.endswith("/"):
            if data:
                raise ObjectStoreError(f"cannot write data to {key!r}: keys ending in '/' are folder markers")
            path = os.path.join(self.url, *self._segments(key, allow_trailing_slash=True))
            self._make_parents(os.path.join(path, "x"), key)
            return
        path = self._path(key)
        f, temp = self._create_temp(path, key)
        try:
            with f:
                f.write(data)
        except OSError as err:
            _unlink_quietly(temp)
            raise ObjectStoreError(f"cannot write {key} under {self.url}: {err}") from err
        self._commit(temp, path, key)

    def copy(self, source_key: str, destination_key: str, size: int | None = None,
             if_match: str | None = None) -> None:
        """Copy the file's bytes through a temp file beside the destination, then ``os.replace`` it into
        place; nothing else (mode, times) is preserved. ``size`` is not needed locally.

        ``if_match`` is checked on the file actually copied (the open descriptor, before and after the copy), so
        a file replaced or rewritten meanwhile is never archived under the old ETag: :class:`SourceChanged`."""
        destination = self._path(destination_key)
        with self._open(source_key) as source:
            if if_match is not None and _fingerprint(os.fstat(source.fileno())) != if_match:
                raise SourceChanged(f"{source_key} changed since ETag {if_match}")
            f, temp = self._create_temp(destination, destination_key)
            try:
                with f:
                    shutil.copyfileobj(source, f, _COPY_BUFFER)
            except OSError as err:
                _unlink_quietly(temp)
                raise ObjectStoreError(f"cannot copy {source_key} to {destination_key}: {err}") from err
            if if_match is not None and _fingerprint(os.fstat(source.fileno())) != if_match:
                _unlink_quietly(temp)  # rewritten in place while being copied
                raise SourceChanged(f"{source_key} changed while being copied (ETag {if_match})")
        self._commit(temp, destination, destination_key)

    def delete_many(self, keys: Iterable[str], if_match: Mapping[str, str] | None = None) -> list[str]:
        """Unlink each file (a key ending in ``/`` removes its directory if it is empty). Missing keys are
        not errors; empty parent directories are left in place.

        A key with an ETag in ``if_match`` is first renamed aside (atomic), its ETag checked on the file renamed,
        and only then unlinked; a newer file is put back (or, when yet another one took its place meanwhile,
        kept aside under a hidden name and logged) and the key is returned as not deleted."""
        etags = if_match or {}
        failed: list[str] = []
        for key in keys:
            try:
                if key.endswith("/"):
                    path = os.path.join(self.url, *self._segments(key, allow_trailing_slash=True))
                    try:
                        os.rmdir(path)
                    except OSError as err:
                        if err.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENOTEMPTY, errno.EEXIST):
                            raise
                    continue
                if etags.get(key):
                    if not self._delete_if_unchanged(key, etags[key]):
                        failed.append(key)
                    continue
                os.unlink(self._path(key))
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue  # not there (a directory is not an object)
            except (OSError, ObjectStoreError) as err:
                log.warning("could not delete %s under %s: %s", key, self.url, err)
                failed.append(key)
        return failed

    def _delete_if_unchanged(self, key: str, etag: str) -> bool:
        """Delete ``key`` only if the file removed has ``etag``; False (file kept) otherwise."""
        path = self._path(key)
        aside = os.path.join(os.path.dirname(path), TEMP_PREFIX + uuid.uuid4().hex)
        os.rename(path, aside)  # FileNotFoundError: already gone, counted as deleted by the caller
        if _fingerprint(os.stat(aside)) == etag:
            os.unlink(aside)
            return True
        try:
            os.link(aside, path)  # put the newer file back, unless an even newer one is there already
            os.unlink(aside)
        except FileExistsError:
            log.warning("kept %s aside as %s: it changed after the copy and a newer file took its place", key,
                        aside)
        log.info("kept %s: it changed after it was copied (a newer version)", key)
        return False


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
