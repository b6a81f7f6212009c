"""S3 behaviour that moto does not emulate, added to a moto-backed boto3 client through botocore events.

moto enforces no IAM at all, and moto 5.2 ignores ``CopySourceIfMatch`` on ``CopyObject`` (probed: a copy with a
stale ETag succeeds; ``IfMatch`` on ``HeadObject`` and ``DeleteObject`` it does honour). :class:`RealS3Semantics`
adds what the pipeline relies on, each answer following one page of AWS's documentation:

* **403 for a missing key without ``s3:ListBucket``** (``list_bucket=False``): a GET or HEAD of a key that does not
  exist is answered 403 ``AccessDenied`` instead of 404 ``NoSuchKey`` (see :meth:`RealS3Semantics._missing_key`);
* **412 for a stale ``CopySourceIfMatch``** (on by default): ``CopyObject`` / ``UploadPartCopy`` whose source's
  current ETag differs is answered 412 ``PreconditionFailed`` and copies nothing (:meth:`_copy_precondition`);
* **403 for a denied action** (:meth:`RealS3Semantics.deny`): any request that needs a denied IAM action on a key
  under a prefix is answered 403 ``AccessDenied``; ``DeleteObjects`` answers 200 with a per-key ``AccessDenied``
  error for the denied keys and deletes the others (:meth:`_denied`).

* **412 per key for a stale conditional delete** (``conditional_deletes``, on by default): ``DeleteObjects`` with an
  ``ETag`` on an object that no longer has it answers that key ``PreconditionFailed`` and deletes the others
  (:meth:`_delete_objects`); moto ignores the ETag and deletes. (``DeleteObject`` with ``IfMatch`` moto answers 412
  itself.)

Every emulated answer is a real S3 HTTP response (status, S3's headers, S3's XML error body; no body for a HEAD,
as S3 sends none) run through the client's own botocore response parser, so the code under test receives exactly
the ``ClientError`` (code, message, HTTP status, request id) that real S3 would produce. Install it on a client
(``RealS3Semantics(...).install(s3_client)``) or on a ``boto3.Session`` before the code under test creates its
clients from it (the session's handlers are copied into each new client). ``answers`` records what was emulated.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

import boto3
from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

#: The role the emulated denials name (moto's default account).
DEFAULT_PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/JsonToParquetBatchProcessorRole/GlueJobRunnerSession"
DEFAULT_KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
_PARAMS = "real_s3_semantics.api_params"

#: S3's own error texts ("Error responses" in the Amazon S3 API Reference, and what S3 sends).
ACCESS_DENIED = "Access Denied"
PRECONDITION_FAILED = "At least one of the pre-conditions you specified did not hold"


@dataclass(frozen=True)
class Answer:
    """One request the emulation answered instead of moto."""

    operation: str
    status: int
    code: str
    key: str | None


class _Body:
    """The ``raw`` of an :class:`AWSResponse`: a body that has already arrived."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _copy_source(value: Any) -> tuple[str, str]:
    """(bucket, key) of a ``CopySource`` parameter: a dict, or ``bucket/key[?versionId=...]`` (URL-encoded)."""
    if isinstance(value, dict):
        return value["Bucket"], value["Key"]
    text = str(value).split("?versionId=", 1)[0]
    bucket, _, key = unquote(text).lstrip("/").partition("/")
    return bucket, key


def _needs(operation: str, params: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The IAM actions a request needs, as (action, bucket, key or listing prefix). Follows "Actions, resources,
    and condition keys for Amazon S3" (Service Authorization Reference) and, for SSE-KMS, "Using server-side
    encryption with AWS KMS keys (SSE-KMS)" (Amazon S3 User Guide): reads need kms:Decrypt, writes
    kms:GenerateDataKey. A HEAD needs ``s3:GetObject`` only: "HeadObject" (Amazon S3 API Reference, Permissions)
    lists no KMS permission for a general purpose bucket, so an object under a KMS key the role may not use is
    refused to a GET and allowed to a HEAD."""
    bucket, key = params.get("Bucket", ""), params.get("Key", "")
    if operation in ("GetObject",):
        return [("s3:GetObject", bucket, key), ("kms:Decrypt", bucket, key)]
    if operation == "HeadObject":
        return [("s3:GetObject", bucket, key)]
    if operation in ("PutObject", "CreateMultipartUpload"):
        return [("s3:PutObject", bucket, key), ("kms:GenerateDataKey", bucket, key)]
    if operation in ("UploadPart", "CompleteMultipartUpload"):
        return [("s3:PutObject", bucket, key)]
    if operation in ("CopyObject", "UploadPartCopy"):
        source_bucket, source_key = _copy_source(params["CopySource"])
        return [("s3:GetObject", source_bucket, source_key), ("kms:Decrypt", source_bucket, source_key),
                ("s3:PutObject", bucket, key), ("kms:GenerateDataKey", bucket, key)]
    if operation == "DeleteObject":
        return [("s3:DeleteObject", bucket, key)]
    if operation in ("ListObjectsV2", "ListObjects"):
        return [("s3:ListBucket", bucket, params.get("Prefix", ""))]
    return []


class RealS3Semantics:
    """Real-S3 answers for a moto-backed client (see the module docstring).

    ``list_bucket``: whether the caller holds an *unconditioned* ``s3:ListBucket`` on the bucket. ``False`` models
    the prefix-conditioned grant: listings still work, but S3 answers 403 instead of 404 for a missing key.
    ``copy_source_if_match``: answer a stale ``CopySourceIfMatch`` 412, as S3 does. ``conditional_deletes``: honour
    the ``ETag`` of each ``DeleteObjects`` object, as S3 does. Settings may be changed
    while installed (e.g. to "grant" ``s3:ListBucket`` mid-test).
    """

    def __init__(self, *, list_bucket: bool = True, copy_source_if_match: bool = True,
                 conditional_deletes: bool = True, principal: str = DEFAULT_PRINCIPAL,
                 kms_key: str = DEFAULT_KMS_KEY) -> None:
        self.list_bucket = list_bucket
        self.copy_source_if_match = copy_source_if_match
        self.conditional_deletes = conditional_deletes
        self.principal = principal
        self.kms_key = kms_key
        self.denied: list[tuple[str, str]] = []
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._probe: Any = None
        self._installed: list[Any] = []

    # -- set-up ------------------------------------------------------------------------------------------------

    def deny(self, action: str, prefix: str = "") -> RealS3Semantics:
        """Deny ``action`` (``s3:GetObject``, ``s3:PutObject``, ``s3:DeleteObject``, ``s3:ListBucket``,
        ``kms:Decrypt``, ``kms:GenerateDataKey``) on keys (listing prefixes for ``s3:ListBucket``) starting with
        ``prefix``."""
        self.denied.append((action, prefix))
        return self

    def install(self, target: Any) -> RealS3Semantics:
        """Register the handlers on a boto3 client or a ``boto3.Session`` (then on every client made from it
        afterwards). The existence and ETag checks go through a separate, plain client of the same moto backend."""
        events = target.meta.events if hasattr(target, "meta") else target.events
        if self._probe is None:
            self._probe = boto3.session.Session().client("s3", region_name="us-east-1")
        events.register("before-parameter-build.s3", self._remember_params)
        events.register("before-call.s3", self._answer)
        self._installed.append(events)
        return self

    def uninstall(self) -> None:
        for events in self._installed:
            events.unregister("before-parameter-build.s3", self._remember_params)
            events.unregister("before-call.s3", self._answer)
        self._installed.clear()

    # -- handlers ----------------------------------------------------------------------------------------------

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """Keep the API parameters (Bucket, Key, CopySource, ...) for ``before-call``, which sees only the
        serialized request."""
        context[_PARAMS] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params = context.get(_PARAMS, {})
        if model.name == "DeleteObjects":
            return self._delete_objects(model, params)
        return (self._denied(model, params) or self._missing_key(model, params)
                or self._copy_precondition(model, params))

    def _denied(self, model: Any, params: dict[str, Any]) -> Any:
        """A denied action is 403 ``AccessDenied``.

        Follows "Troubleshoot access denied (403 Forbidden) errors in Amazon S3" (Amazon S3 User Guide: the
        "User: ... is not authorized to perform: <action> on resource: "<arn>" because no identity-based policy
        allows the <action> action" message; for SSE-KMS the same with the KMS action and the key's ARN) and
        "Error responses" (Amazon S3 API Reference: ``AccessDenied``, 403 Forbidden). A HEAD gets no body, per
        "HeadObject" (API Reference). ``DeleteObjects`` follows "DeleteObjects" (API Reference): 200, one
        ``<Error>`` per key that could not be deleted, the others deleted (and not listed in quiet mode)."""
        if not self.denied:
            return None
        for action, bucket, key in _needs(model.name, params):
            if self._is_denied(action, key):
                return self._error(model, 403, "AccessDenied", self._denial_message(action, bucket, key),
                                   None if action == "s3:ListBucket" else key)
        return None

    def _missing_key(self, model: Any, params: dict[str, Any]) -> Any:
        """Without ``s3:ListBucket``, a GET or HEAD of a missing key is 403, not 404.

        Follows "GetObject" and "HeadObject" (Amazon S3 API Reference, "Permissions"): "If the object that you
        request doesn't exist, the error that Amazon S3 returns depends on whether you also have the
        s3:ListBucket permission. If you have the s3:ListBucket permission on the bucket, Amazon S3 returns an
        HTTP status code 404 Not Found error. If you don't have the s3:ListBucket permission, Amazon S3 returns
        an HTTP status code 403 Access Denied error." A GET carries S3's ``AccessDenied`` body; a HEAD none."""
        if self.list_bucket or model.name not in ("GetObject", "HeadObject"):
            return None
        if self._etag(params["Bucket"], params["Key"]) is not None:
            return None
        return self._error(model, 403, "AccessDenied", ACCESS_DENIED, params["Key"])

    def _copy_precondition(self, model: Any, params: dict[str, Any]) -> Any:
        """A ``CopySourceIfMatch`` (``x-amz-copy-source-if-match``) that is not the source's current ETag is 412
        ``PreconditionFailed`` and nothing is copied.

        Follows "CopyObject" and "UploadPartCopy" (Amazon S3 API Reference: "x-amz-copy-source-if-match: Copies
        the object if its entity tag (ETag) matches the specified tag", otherwise "412 Precondition Failed") and
        "Error responses" (``PreconditionFailed``, 412; the ``Condition`` element names the header)."""
        if not self.copy_source_if_match or model.name not in ("CopyObject", "UploadPartCopy"):
            return None
        expected = params.get("CopySourceIfMatch")
        if not expected:
            return None
        bucket, key = _copy_source(params["CopySource"])
        current = self._etag(bucket, key)
        if current is None or current == expected.strip('"'):
            return None  # a missing source is moto's 404 (or the 403 above); a match copies
        return self._error(model, 412, "PreconditionFailed", PRECONDITION_FAILED, key,
                           condition="x-amz-copy-source-If-Match")

    # -- helpers -----------------------------------------------------------------------------------------------

    def _is_denied(self, action: str, key: str) -> bool:
        return any(action == denied and key.startswith(prefix) for denied, prefix in self.denied)

    def _denial_message(self, action: str, bucket: str, key: str) -> str:
        if action.startswith("kms:"):
            resource = self.kms_key
        else:
            resource = f"arn:aws:s3:::{bucket}" + ("" if action == "s3:ListBucket" else f"/{key}")
        return (f'User: {self.principal} is not authorized to perform: {action} on resource: "{resource}" '
                f"because no identity-based policy allows the {action} action")

    def _etag(self, bucket: str, key: str) -> str | None:
        """The current ETag of an object (unquoted), or ``None`` when it does not exist (asked of moto)."""
        try:
            return str(self._probe.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')
        except ClientError as err:
            if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                return None
            raise

    def _delete_objects(self, model: Any, params: dict[str, Any]) -> Any:
        """``DeleteObjects``: 200, one ``<Error>`` per key that was not deleted, the others deleted (and not listed
        in quiet mode), per "DeleteObjects" (Amazon S3 API Reference). A key denied ``s3:DeleteObject`` gets
        ``AccessDenied``; a key sent with an ``ETag`` that is not its current one gets ``PreconditionFailed`` and
        is kept (conditional deletes: the ``ETag`` member of ``ObjectIdentifier``, "Conditional requests" in the
        Amazon S3 User Guide; moto ignores it and deletes). On a versioned bucket the delete (a delete marker)
        happens only when the ETag matches, so a newer upload stays current."""
        bucket = params["Bucket"]
        objects = params["Delete"]["Objects"]
        errors: dict[str, tuple[str, str]] = {}
        for o in objects:
            if self._is_denied("s3:DeleteObject", o["Key"]):
                errors[o["Key"]] = ("AccessDenied", ACCESS_DENIED)
            elif self.conditional_deletes and o.get("ETag"):
                current = self._etag(bucket, o["Key"])
                if current is not None and current != o["ETag"].strip('"'):
                    errors[o["Key"]] = ("PreconditionFailed", PRECONDITION_FAILED)
        if not errors and not any(o.get("ETag") for o in objects):
            return None
        allowed = [{"Key": o["Key"]} for o in objects if o["Key"] not in errors]
        if allowed:
            self._probe.delete_objects(Bucket=bucket, Delete={"Objects": allowed, "Quiet": True})
        quiet = params["Delete"].get("Quiet", False)
        parts = [] if quiet else [f"<Deleted><Key>{escape(o['Key'])}</Key></Deleted>" for o in allowed]
        parts += [f"<Error><Key>{escape(key)}</Key><Code>{code}</Code><Message>{message}</Message></Error>"
                  for key, (code, message) in errors.items()]
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult '
                'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' + "".join(parts) + "</DeleteResult>")
        with self._lock:
            self.answers.extend(Answer(model.name, 200, code, key) for key, (code, _) in errors.items())
        return self._response(model, 200, body.encode())

    def _error(self, model: Any, status: int, code: str, message: str, key: str | None,
               condition: str | None = None) -> Any:
        if model.http.get("method") == "HEAD":  # no body: the client sees the bare status ("403", "412")
            http, parsed = self._response(model, status, b"")
        else:
            extra = f"<Condition>{escape(condition)}</Condition>" if condition else ""
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}"
                    f"<RequestId>{{request_id}}</RequestId><HostId>{{host_id}}</HostId></Error>")
            http, parsed = self._response(model, status, body.encode(), xml_error=True)
        with self._lock:
            self.answers.append(Answer(model.name, status, parsed["Error"]["Code"], key))
        return http, parsed

    @staticmethod
    def _response(model: Any, status: int, body: bytes, xml_error: bool = False) -> tuple[AWSResponse, Any]:
        """An S3 HTTP response, parsed by botocore's parser for the service's protocol (``rest-xml``)."""
        request_id = secrets.token_hex(8).upper()
        host_id = secrets.token_urlsafe(48)
        if xml_error:
            body = body.replace(b"{request_id}", request_id.encode()).replace(b"{host_id}", host_id.encode())
        headers = {"x-amz-request-id": request_id, "x-amz-id-2": host_id, "server": "AmazonS3"}
        if body:
            headers.update({"content-type": "application/xml", "content-length": str(len(body))})
        http = AWSResponse("https://s3.amazonaws.com/", status, headers, _Body(body))
        parsed = create_parser(model.service_model.protocol).parse(convert_to_response_dict(http, model),
                                                                   model.output_shape)
        return http, parsed
