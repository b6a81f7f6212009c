"""The object store over one S3 bucket, through boto3 (one thread-safe client, shared by all threads)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from functools import partial
from typing import Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from runtime.storage import key_ranges
from runtime.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    SourceChanged,
    StoragePermissionError,
)
from runtime.storage.s3_denied import access_denied
from runtime.storage.s3_list_parse import S3ClientSpec, answered_in_process, listed_object, listed_row

log = logging.getLogger(__name__)

#: The largest object one ``CopyObject`` request may copy (S3's limit is 5 GiB).
SINGLE_COPY_LIMIT = 5 * 1024**3
#: Part size of managed multipart copies (``UploadPartCopy``); s3transfer raises it if 10,000 parts are not
#: enough.
COPY_CHUNK_SIZE = 256 * 1024**2
#: ``delete_objects`` takes at most 1,000 keys.
DELETE_BATCH = 1000

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_BUCKET_CODES = frozenset({"NoSuchBucket", "AccessDenied", "403", "AllAccessDisabled", "InvalidBucketName"})
#: A request S3 refused for lack of permission: ``AccessDenied`` (403 with an XML body) or ``403`` (a HEAD: no
#: body). Never "missing", never transient: see :class:`StoragePermissionError`.
_DENIED_CODES = frozenset({"AccessDenied", "403"})
#: Characters an XML 1.0 document cannot carry (a ``DeleteObjects`` body is XML): C0 controls but tab, LF and CR.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: The IAM action each store verb needs (HeadObject is authorized by s3:GetObject).
_IAM_ACTIONS = {"head": "s3:GetObject", "get": "s3:GetObject", "put": "s3:PutObject", "list": "s3:ListBucket",
                "delete": "s3:DeleteObject"}


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _is_denied(err: Exception) -> bool:
    return isinstance(err, ClientError) and _code(err) in _DENIED_CODES


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


def _etag(value: str | None) -> str:
    return (value or "").strip('"')


def _total_size(response: dict[str, Any]) -> int:
    """The full object size of a (possibly ranged) ``GetObject`` response: ``bytes 0-99/12345`` -> 12345."""
    content_range = response.get("ContentRange")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(response["ContentLength"])


class S3Store(ObjectStore):
    """An :class:`ObjectStore` over ``bucket``.

    ``client`` is a boto3 S3 client (one is created if omitted, with a connection pool sized for
    ``transfer_workers`` threads). ``transfer_workers`` is the concurrency of one managed multipart copy.
    ``single_copy_limit``: objects of a known size below it are copied with one ``CopyObject``; larger or
    unknown sizes go through boto3's managed copy, which switches to ``UploadPartCopy`` at this size.
    ``page_size`` is the number of keys per ``ListObjectsV2`` request (at most 1,000). Without a ``client``, a
    ``spec`` (:class:`~runtime.storage.s3_list_parse.S3ClientSpec`) makes it, and makes it again in another process
    (:meth:`worker_factory`). No request is made until the store is used.
    """

    def __init__(
        self,
        bucket: str,
        client: Any = None,
        transfer_workers: int = 10,
        *,
        single_copy_limit: int = SINGLE_COPY_LIMIT,
        copy_chunk_size: int = COPY_CHUNK_SIZE,
        page_size: int = 1000,
        spec: S3ClientSpec | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ObjectStoreError(f"invalid bucket name {bucket!r}")
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        if single_copy_limit < 1 or transfer_workers < 1:
            raise ValueError("single_copy_limit and transfer_workers must be positive")
        self.bucket = bucket
        self.url = f"s3://{bucket}"
        self.page_size = page_size
        self.single_copy_limit = single_copy_limit
        self._spec = spec if client is None else None
        self.client = client or (spec.client() if spec is not None else boto3.client(
            "s3", config=Config(max_pool_connections=max(32, transfer_workers * 2))))
        self._transfer_config = TransferConfig(
            multipart_threshold=single_copy_limit,
            multipart_chunksize=copy_chunk_size,
            max_concurrency=transfer_workers,
        )

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    def worker_factory(self) -> Callable[[], ObjectStore] | None:
        """This store opened again (its client made again from its spec), picklable; ``None`` for a store given a
        client (which cannot be made again) or whose client a test's mock answers in this process."""
        if self._spec is None or answered_in_process(self.client):
            return None
        return partial(S3Store, self.bucket, page_size=self.page_size, spec=self._spec)

    # -- errors ----------------------------------------------------------------------------------------

    def _error(self, err: Exception, action: str, key: str | None = None) -> ObjectStoreError:
        """Translate a botocore error into the store's exceptions."""
        if isinstance(err, ClientError) and action in _IAM_ACTIONS and _is_denied(err):
            return self._denied_error(err, _IAM_ACTIONS[action], key)
        if isinstance(err, ClientError):
            code = _code(err)
            if key is not None and code in _NOT_FOUND_CODES:
                return ObjectNotFound(key)
            if code == "NoSuchBucket" or (key is None and code in _BUCKET_CODES):
                return ObjectStoreError(f"bucket {self.bucket!r} does not exist or is not accessible: {err}")
        target = f" {key}" if key is not None else ""
        return ObjectStoreError(f"S3 {action}{target} in bucket {self.bucket!r} failed: {err}")

    def _arn(self, key: str | None = None) -> str:
        """``arn:aws:s3:::bucket`` or ``arn:aws:s3:::bucket/key`` (in the client's partition)."""
        partition = getattr(getattr(self.client, "meta", None), "partition", None)
        arn = f"arn:{partition if isinstance(partition, str) and partition else 'aws'}:s3:::{self.bucket}"
        return arn if key is None else f"{arn}/{key}"

    def _denied_error(self, err: ClientError, action: str, key: str | None = None, **kwargs: Any
                      ) -> StoragePermissionError:
        error = err.response.get("Error", {})
        return self._denied(str(getattr(err, "operation_name", "") or "request"), str(error.get("Message", "")),
                            action, key, **kwargs)

    def _denied(self, operation: str, message: str, action: str, key: str | None = None, *,
                prefix: str | None = None, destination: str | None = None, detail: str = ""
                ) -> StoragePermissionError:
        """The one-line :class:`StoragePermissionError` of a 403 (:func:`~runtime.storage.s3_denied.access_denied`)."""
        return access_denied(self._arn, operation, message, action, key, prefix=prefix, destination=destination,
                             detail=detail)

    # -- paths -----------------------------------------------------------------------------------------

    def spark_path(self, key_or_prefix: str) -> str:
        """``s3://bucket/key`` (what Glue's EMRFS reads and writes)."""
        return f"s3://{self.bucket}/{key_or_prefix}"

    def key_from_spark_path(self, path: str) -> str:
        """The key of an ``s3://``, ``s3a://`` or ``s3n://`` URI in this bucket, percent-decoded as Spark's
        ``input_file_name()`` encodes it."""
        parts = urlsplit(path)
        if parts.scheme not in ("s3", "s3a", "s3n") or parts.netloc != self.bucket:
            raise ObjectStoreError(f"{path!r} is not a path in {self.url}")
        key = unquote(parts.path.lstrip("/"))
        if not key:
            raise ObjectStoreError(f"{path!r} names the bucket, not a key")
        return key

    # -- listing ---------------------------------------------------------------------------------------

    def list_pages(self, prefix: str = "") -> Iterator[list[ObjectInfo]]:
        """One page per ``ListObjectsV2`` response (``page_size`` keys), folder markers dropped."""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
        )
        try:
            for response in pages:
                contents = response.get("Contents", ())
                page = [listed_object(item) for item in contents if not item["Key"].endswith("/")]
                if page:
                    yield page
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError) and _is_denied(err):
                raise self._denied_error(err, "s3:ListBucket", None, prefix=prefix) from err
            raise self._error(err, "list", None) from err

    def list_range_pages(self, prefix: str = "", start_after: str | None = None, end: str | None = None,
                         page_size: int | None = None) -> Iterator[list[ObjectInfo]]:
        """``ListObjectsV2`` from ``StartAfter``, stopping at ``end`` (:mod:`runtime.storage.key_ranges`)."""
        return key_ranges.s3_range_pages(self, prefix, start_after, end, page_size)

    def list_range_rows(self, prefix: str = "", start_after: str | None = None, end: str | None = None,
                        page_size: int | None = None) -> Iterator[list[tuple[str, int, datetime, str]]]:
        """:meth:`list_range_pages` as rows, made from the response's entries (no ``ObjectInfo`` made)."""
        return key_ranges.s3_range_pages(self, prefix, start_after, end, page_size, convert=listed_row)

    def list_level(self, prefix: str) -> key_ranges.Level | None:
        """One ``ListObjectsV2(Delimiter='/')`` (:func:`runtime.storage.key_ranges.s3_level`)."""
        return key_ranges.s3_level(self, prefix)

    # -- reads -----------------------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        """``HeadObject``; a 404 is :class:`ObjectNotFound`."""
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, "head", key) from err
        return ObjectInfo(
            key, int(response["ContentLength"]), _utc(response["LastModified"]), _etag(response.get("ETag"))
        )

    def _get(self, key: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], self.client.get_object(Bucket=self.bucket, Key=key, **kwargs))
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, "get", key) from err

    def get_bytes(self, key: str) -> bytes:
        """The whole object (``GetObject``)."""
        body = self._get(key)["Body"]
        with body:
            return cast(bytes, body.read())

    def read_head(self, key: str, length: int = 65536) -> tuple[ObjectInfo, bytes]:
        """One ranged ``GetObject`` (``bytes=0-{length-1}``). S3 rejects any range on a zero-byte object
        (``InvalidRange``); that case costs a second, plain ``GetObject``. ``length=0`` is one
        ``HeadObject``."""
        if length < 0:
            raise ValueError("length must be >= 0")
        if length == 0:
            return self.head(key), b""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")
        except ClientError as err:
            if _code(err) != "InvalidRange":
                raise self._error(err, "get", key) from err
            response = self._get(key)  # zero bytes (or shrank to zero since the listing)
        except BotoCoreError as err:
            raise self._error(err, "get", key) from err
        body = response["Body"]
        with body:
            data = body.read(length)
        modified = _utc(response["LastModified"])
        return ObjectInfo(key, _total_size(response), modified, _etag(response.get("ETag"))), data

    def open_stream(self, key: str) -> BinaryIO:
        """The ``GetObject`` streaming body (read it in chunks; close it when done)."""
        return cast(BinaryIO, self._get(key)["Body"])

    # -- writes ----------------------------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes) -> None:
        """``PutObject``."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as err:
            raise self._error(err, "put", key) from err

    def copy(self, source_key: str, destination_key: str, size: int | None = None,
             if_match: str | None = None) -> None:
        """One ``CopyObject`` when ``size`` is known and below ``single_copy_limit``; otherwise boto3's
        managed copy (``HeadObject``, then ``CopyObject``, or a multipart ``UploadPartCopy`` for large
        objects). A missing source raises :class:`ObjectNotFound` (with the source key); a 403 raises
        :class:`StoragePermissionError` naming ``s3:GetObject`` on the source and ``s3:PutObject`` on the
        destination (or only the source when the managed copy's ``HeadObject`` was refused)."""
        source = {"Bucket": self.bucket, "Key": source_key}
        condition = {"CopySourceIfMatch": f'"{if_match}"'} if if_match else {}
        try:
            if size is not None and size < self.single_copy_limit:
                self.client.copy_object(Bucket=self.bucket, Key=destination_key, CopySource=source, **condition)
            else:
                self.client.copy(source, self.bucket, destination_key, ExtraArgs=condition or None,
                                 Config=self._transfer_config)
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError) and _code(err) in _NOT_FOUND_CODES:
                raise ObjectNotFound(source_key) from err
            if isinstance(err, ClientError) and _code(err) in ("PreconditionFailed", "412"):
                raise SourceChanged(f"{source_key} changed since ETag {if_match}") from err
            if isinstance(err, ClientError) and _is_denied(err):
                if err.operation_name == "HeadObject":  # the managed copy's look at its source
                    raise self._denied_error(err, "s3:GetObject", source_key) from err
                raise self._denied_error(err, "s3:GetObject", source_key, destination=destination_key) from err
            raise self._error(err, f"copy to {destination_key} of", source_key) from err

    def delete_many(self, keys: Iterable[str], if_match: Mapping[str, str] | None = None) -> list[str]:
        """``DeleteObjects`` (quiet mode) per 1,000 keys; a key with an ETag in ``if_match`` is sent with it, which
        makes its delete conditional (S3 deletes it only while that is its current ETag and answers
        ``PreconditionFailed`` otherwise; on a versioned bucket no delete marker hides a newer upload). Keys the
        response lists under ``Errors`` are returned (a conditional delete of a key already gone counts as done);
        a batch whose request fails as a whole is returned entirely (and logged), except a missing bucket, which
        raises :class:`ObjectStoreError`, and a request the loaded botocore rejects before sending (a model
        without ``ObjectIdentifier.ETag``), which raises :class:`~runtime.storage.sdk_check.SdkTooOld`. A key
        refused ``s3:DeleteObject`` (a bucket policy denying one folder, an object under legal hold) is returned
        like any key not deleted, so the others go on; a refusal of every key,
        or of the request itself, raises :class:`StoragePermissionError` (the role cannot delete at all: retrying
        cannot succeed). A key holding a character XML 1.0 cannot carry (a control character) cannot be sent in a
        ``DeleteObjects`` body (S3 answers ``MalformedXML`` for the whole request): it is deleted on its own with
        ``DeleteObject``, which takes the key in the URL."""
        etags = if_match or {}
        failed: list[str] = []
        refusals: list[StoragePermissionError] = []
        batch: list[str] = []
        count = 0
        for key in keys:
            count += 1
            if _NOT_XML_TEXT.search(key):
                failed.extend(self._delete_one(key, etags.get(key), refusals))
                continue
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                failed.extend(self._delete_batch(batch, etags, refusals))
                batch = []
        if batch:
            failed.extend(self._delete_batch(batch, etags, refusals))
        if refusals and sum(len(r.keys) for r in refusals) == count:
            refusal = refusals[0]
            refusal.keys = [key for each in refusals for key in each.keys]  # every key, whichever request refused it
            raise refusal
        return failed

    def _delete_one(self, key: str, etag: str | None, refusals: list[StoragePermissionError]) -> list[str]:
        """``DeleteObject`` of one key (with ``IfMatch`` on ``etag``); the key when it was not deleted."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, **({"IfMatch": f'"{etag}"'} if etag else {}))
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError) and _code(err) in _NOT_FOUND_CODES:
                return []
            if isinstance(err, ClientError) and _is_denied(err):
                refusal = self._denied_error(err, "s3:DeleteObject", key)
                refusal.keys = [key]
                refusals.append(refusal)
            log.warning("could not delete s3://%s/%r: %s", self.bucket, key, err)
            return [key]
        return []

    def _delete_batch(self, keys: list[str], etags: Mapping[str, str],
                      refusals: list[StoragePermissionError]) -> list[str]:
        objects = [{"Key": k, "ETag": f'"{etags[k]}"'} if etags.get(k) else {"Key": k} for k in keys]
        try:
            response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        except ParamValidationError as err:  # an SDK too old for Objects[].ETag: no key of any batch is deletable
            from runtime.storage.sdk_check import parameter_rejected

            raise parameter_rejected(err) from err
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError) and _code(err) == "NoSuchBucket":
                raise self._error(err, "delete", None) from err
            if isinstance(err, ClientError) and _is_denied(err):  # every key of it refused: the others go on
                refusal = self._denied_error(err, "s3:DeleteObject", keys[0],
                                             detail=f"; {len(keys)} keys in the request")
                refusal.keys = list(keys)
                refusals.append(refusal)
            log.warning("DeleteObjects of %d keys in %s failed: %s", len(keys), self.bucket, err)
            return list(keys)
        errors = [e for e in response.get("Errors", []) if e.get("Code") not in _NOT_FOUND_CODES]
        for error in errors:
            if error.get("Code") == "PreconditionFailed":
                log.info("kept s3://%s/%s: it changed after it was copied (a newer upload)", self.bucket,
                         error.get("Key"))
            else:
                log.warning("could not delete s3://%s/%s: %s %s", self.bucket, error.get("Key"),
                            error.get("Code"), error.get("Message"))
        denied = [error for error in errors if error.get("Code") in _DENIED_CODES]
        if denied:
            first = denied[0]
            refusal = self._denied("DeleteObjects", str(first.get("Message", "")), "s3:DeleteObject",
                                   first.get("Key"), detail=f"; {len(denied)} of {len(keys)} keys refused")
            refusal.keys = [str(error.get("Key")) for error in denied]
            refusals.append(refusal)
        return [error["Key"] for error in errors]
