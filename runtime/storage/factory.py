"""Open an object store from a URL: ``s3://bucket``, ``file:///abs/dir`` or a plain directory path."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from runtime.storage import s3_list_parse
from runtime.storage.base import ObjectStore, ObjectStoreError
from runtime.storage.local import LocalStore
from runtime.storage.s3 import S3Store


def open_store(url: str, *, s3_client: Any = None) -> ObjectStore:
    """The store ``url`` names.

    - ``s3://bucket`` or ``s3://bucket/``: an :class:`S3Store` (using ``s3_client`` if given, else
      :func:`runtime.storage.s3_list_parse.s3_client`'s client, made from a spec that a listing process can make it
      again from: listings parse their timestamps cheaply). A key prefix
      after the bucket is rejected: stores are rooted at the bucket and the layout holds the prefixes.
    - ``file:///abs/dir`` (or ``file://localhost/abs/dir``; percent-decoded): a :class:`LocalStore`.
    - anything without a scheme: a relative or absolute directory for a :class:`LocalStore`.

    Raises :class:`ObjectStoreError` for other schemes, a malformed URL or a missing directory.
    """
    if not url:
        raise ObjectStoreError("empty store URL")
    if url.startswith("s3://"):
        parts = urlsplit(url)
        if not parts.netloc:
            raise ObjectStoreError(f"store URL {url!r} names no bucket")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ObjectStoreError(
                f"store URL {url!r} has a key prefix; give only s3://bucket (prefixes come from the layout)"
            )
        if s3_client is not None:
            return S3Store(parts.netloc, client=s3_client)
        return S3Store(parts.netloc, spec=s3_list_parse.S3ClientSpec())  # a listing process can open it again
    if url.startswith("file:"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ObjectStoreError(f"store URL {url!r} is not an absolute file:/// URL")
        return LocalStore(unquote(parts.path))
    if "://" in url:
        raise ObjectStoreError(f"unsupported store URL {url!r}: use s3://bucket, file:///dir or a directory")
    return LocalStore(url)
