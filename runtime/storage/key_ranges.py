"""Key-range and one-level listings of the stores: what parallel listing (:mod:`runtime.jobs.parallel_listing`) is
built on.

A *key range* of a prefix is every key ``k`` under the prefix with ``start_after < k <= end`` (either bound may be
``None``: unbounded). Consecutive ranges sharing their bounds therefore partition the prefix whatever the bounds are,
real keys or not: a key equal to a bound belongs to the range that ends there. S3 lists a range with
``ListObjectsV2(Prefix, StartAfter)`` and stops at the first key past ``end``; the local store walks its directories
pruning every directory that lies wholly before ``start_after`` or after ``end``. Both compare keys as Python
strings, which for valid UTF-8 keys is S3's byte order.

A *level* is one ``Delimiter='/'`` listing of a prefix ending in ``/``: the sub-prefixes and the objects directly
under it, when they fit in one page (``None`` otherwise).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runtime.storage.base import Level, ObjectInfo
from runtime.storage.s3_list_parse import listed_object

#: Characters an XML 1.0 document cannot carry (as ``runtime.storage.s3``'s): C0 controls but tab, LF and CR.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

#: Entries of a level listing: one ``ListObjectsV2`` page.
LEVEL_LIMIT = 1000


def in_range(key: str, start_after: str | None, end: str | None) -> bool:
    """Whether ``key`` lies in the range ``(start_after, end]`` (``None``: unbounded)."""
    return (start_after is None or key > start_after) and (end is None or key <= end)


def _pages_of(objects: Iterator[ObjectInfo], page_size: int) -> Iterator[list[ObjectInfo]]:
    page: list[ObjectInfo] = []
    for obj in objects:
        page.append(obj)
        if len(page) >= page_size:
            yield page
            page = []
    if page:
        yield page


# -- S3 ---------------------------------------------------------------------------------------------------------


def _xml_safe(text: str | None) -> str | None:
    """``text`` cut before its first character an XML 1.0 response cannot carry (S3 echoes ``Prefix`` and
    ``StartAfter`` in its XML answer; moto fails on U+FFFF there): a prefix of it, so it sorts at or before it."""
    if text is None:
        return None
    found = _NOT_XML_TEXT.search(text)
    return text if found is None else text[: found.start()]


def s3_range_pages(store: Any, prefix: str, start_after: str | None, end: str | None,
                   page_size: int | None = None, convert: Callable[[Any], Any] = listed_object) -> Iterator[list[Any]]:
    """The objects of one key range, one page per ``ListObjectsV2`` response; no request past ``end``. A prefix or
    bound holding a character XML cannot carry is sent cut before it (:func:`_xml_safe`) and the keys it adds are
    dropped here. ``store`` is a :class:`runtime.storage.s3.S3Store`; ``convert`` makes an entry of the response
    an item of a page (an :class:`ObjectInfo`)."""
    sent_prefix = _xml_safe(prefix) or ""
    sent_after = _xml_safe(start_after)
    params: dict[str, Any] = {"Bucket": store.bucket, "Prefix": sent_prefix}
    if sent_after:
        params["StartAfter"] = sent_after
    exact = sent_prefix == prefix and sent_after == start_after
    size = page_size or store.page_size
    paginator = store.client.get_paginator("list_objects_v2")  # a cut bound: full pages, most keys are dropped
    pages = paginator.paginate(**params, PaginationConfig={"PageSize": size if exact else store.page_size})
    try:
        for response in pages:
            contents = response.get("Contents", ())
            last = contents[-1]["Key"] if contents else ""
            past_end = bool(contents) and ((end is not None and last > end)
                                           or (not exact and last > prefix and not last.startswith(prefix)))
            if exact and not past_end:  # S3 sent only keys of the prefix after StartAfter: all in the range
                page = [convert(item) for item in contents if not item["Key"].endswith("/")]
            else:
                page = [convert(item) for item in contents if in_range(item["Key"], start_after, end)
                        and (exact or item["Key"].startswith(prefix)) and not item["Key"].endswith("/")]
            for start in range(0, len(page), size):
                yield page[start:start + size]
            if past_end:
                return
    except (ClientError, BotoCoreError) as err:
        raise _s3_error(store, err, prefix) from err


def _s3_error(store: Any, err: Exception, prefix: str) -> Exception:
    code = str(err.response.get("Error", {}).get("Code", "")) if isinstance(err, ClientError) else ""
    if code in ("AccessDenied", "403"):
        return store._denied_error(err, "s3:ListBucket", None, prefix=prefix)
    return store._error(err, "list", None)


def s3_level(store: Any, prefix: str) -> Level | None:
    """One ``ListObjectsV2(Delimiter='/')`` request; ``None`` when the level does not fit in it."""
    try:
        response = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix, Delimiter="/",
                                                MaxKeys=LEVEL_LIMIT)
    except (ClientError, BotoCoreError) as err:
        raise _s3_error(store, err, prefix) from err
    if response.get("IsTruncated"):
        return None
    return Level([p["Prefix"] for p in response.get("CommonPrefixes", ())],
                 [listed_object(item) for item in response.get("Contents", ()) if not item["Key"].endswith("/")])


# -- local directory --------------------------------------------------------------------------------------------


def local_range_pages(store: Any, prefix: str, start_after: str | None, end: str | None,
                      page_size: int | None, hidden: str) -> Iterator[list[ObjectInfo]]:
    """The objects of one key range of a local store (a :class:`runtime.storage.local.LocalStore`), in key order,
    in pages of ``page_size``; names starting with ``hidden`` (its temp files) are skipped."""
    directory, _, name_prefix = prefix.rpartition("/")
    start = store.url if not directory else os.path.join(store.url, *store._segments(directory))
    store._check_root()
    walk = _local_walk(store, start, directory + "/" if directory else "", name_prefix, start_after, end, hidden)
    yield from _pages_of(walk, page_size or store.page_size)


def local_names(directory: str, name_prefix: str, hidden: str) -> list[str]:
    """The entries of ``directory`` starting with ``name_prefix`` (not ``hidden``), directories with a ``/``
    appended, sorted: that is where their keys sort among the siblings (``a-c`` < ``a/x`` < ``a0``). Empty when
    the directory is gone; an entry that vanishes between readdir and stat is skipped."""
    names: list[str] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if not name.startswith(name_prefix) or name.startswith(hidden):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        names.append(name + "/")
                    elif entry.is_file():
                        names.append(name)
                except OSError:  # vanished or unreadable between readdir and stat
                    continue
    except (FileNotFoundError, NotADirectoryError):
        return []
    names.sort()
    return names


def _local_walk(store: Any, directory: str, key_prefix: str, name_prefix: str, start_after: str | None,
                end: str | None, hidden: str) -> Iterator[ObjectInfo]:
    """Like ``LocalStore._walk``, restricted to ``(start_after, end]``: a directory whose keys all sort at or before
    ``start_after`` is skipped unopened, and the walk stops at the first key or directory past ``end``."""
    for name in local_names(directory, name_prefix, hidden):
        key = key_prefix + name
        if end is not None and key > end:  # every key from here on (under this directory too) is past the end
            return
        path = os.path.join(directory, name)
        if name.endswith("/"):
            # every key under it starts with ``key``: all before start_after unless start_after extends ``key``
            if start_after is not None and key < start_after and not start_after.startswith(key):
                continue
            yield from _local_walk(store, path.rstrip("/"), key, "", start_after, end, hidden)
            continue
        if start_after is not None and key <= start_after:
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:  # deleted while listing
            continue
        yield store._info(key, st)


def local_level(store: Any, prefix: str, hidden: str) -> Level | None:
    """One directory of a local store as a level; ``None`` for a prefix not ending in ``/`` or a directory of more
    than :data:`LEVEL_LIMIT` entries."""
    if prefix and not prefix.endswith("/"):
        return None
    store._check_root()
    directory = store.url if not prefix else os.path.join(store.url, *store._segments(prefix.rstrip("/")))
    names = local_names(directory, "", hidden)
    if len(names) > LEVEL_LIMIT:
        return None
    level = Level()
    for name in names:
        if name.endswith("/"):
            level.prefixes.append(prefix + name)
            continue
        try:
            st = os.stat(os.path.join(directory, name))
        except FileNotFoundError:
            continue
        level.objects.append(store._info(prefix + name, st))
    return level
