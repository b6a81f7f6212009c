"""A cheap parse of ``ListObjectsV2`` responses, and the S3 client that uses it.

Listing 1,000 keys costs botocore about 20 ms of CPU a page, under the GIL: an ElementTree parse of the whole body
to look for an embedded ``<Error>`` (``botocore.handlers._handle_200_error``), a second full parse into a dict, a
dateutil parse of every ``LastModified``, an unescape of every ``ETag``. At 16 listing threads that CPU, not the
network, is the ceiling of parallel listing. :func:`fast_listing` gives a client a ``before-parse`` hook that reads
the ``Contents`` of a page with one regular expression (C speed), hands them to botocore as the parsed value, and
leaves botocore the small rest of the document (prefixes, truncation, tokens) and its error check on that rest.

**Only what it can read exactly.** The hook handles a page whose ``Contents`` are consecutive entries of exactly
S3's shape (``Key``, ``LastModified``, ``ETag``, checksum elements, ``Size``, ``StorageClass``, in that order, with
no whitespace between elements, as S3 and moto write them) in a complete ``ListBucketResult``. Anything else (an
``Owner``, a ``RestoreStatus``, a truncated or error body, another order, whitespace) is left whole to botocore, so
the result is never different, only slower. What the fast parse leaves out: the checksum elements of an entry
(``ChecksumAlgorithm``, ``ChecksumType``; nothing here reads them) and an empty ``StorageClass``.
Keys stay as S3 sent them after XML unescaping: with ``EncodingType=url`` (which botocore sets on every listing)
botocore's own ``after-call`` handler URL-decodes them, as it does after its own parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from runtime.storage.base import ObjectInfo

__all__ = ["S3ClientSpec", "answered_in_process", "fast_listing", "fast_timestamp", "listed_object", "listed_row",
           "parse_contents", "s3_client"]


#: One ``Contents`` entry of the shape S3 writes (as moto does: no whitespace between elements), five fields read.
_ENTRY = re.compile(rb"<Contents><Key>([^<]*)</Key><LastModified>([^<]*)</LastModified><ETag>([^<]*)</ETag>"
                    rb"(?:<Checksum(?:Algorithm|Type)>[^<]*</Checksum(?:Algorithm|Type)>)*<Size>(\d+)</Size>"
                    rb"(?:<StorageClass>([^<]*)</StorageClass>)?</Contents>")
_OPEN, _CLOSE = b"<Contents>", b"</Contents>"
#: Every byte but those an XML parser would refuse or change in character data (C0 controls; a CR becomes a LF):
#: deleting these leaves only the suspect ones (``bytes.translate``, ~15x faster than a regular expression).
_PLAIN_BYTES = bytes(range(0x20, 0x100)) + b"\t\n"
_REFERENCE = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_END = b"</ListBucketResult>"


def fast_timestamp(value: Any) -> Any:
    """botocore's timestamp parser for ISO 8601 strings (every ``LastModified`` of a listing) without dateutil:
    ``datetime.fromisoformat`` is ~10x cheaper, and a page of 1,000 keys has 1,000 of them; anything else (an HTTP
    date) goes to botocore's own parser."""
    from botocore.utils import parse_timestamp

    if isinstance(value, str) and "T" in value:
        try:
            parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            return parse_timestamp(value)
        return parsed  # naive when the text is, as botocore's
    return parse_timestamp(value)


def parse_contents(body: bytes) -> tuple[list[dict[str, Any]], bytes] | None:
    """The ``Contents`` entries of a ``ListObjectsV2`` body as botocore would parse them (``Key``,
    ``LastModified``, ``ETag``, ``Size`` and ``StorageClass`` when present), and the body without them; ``None``
    when the body has no entries or is not exactly of the shape this reads (see the module docstring)."""
    first = body.find(_OPEN)
    if first < 0 or not body.rstrip().endswith(_END):
        return None
    end = body.rfind(_CLOSE) + len(_CLOSE)
    found = _ENTRY.findall(body, first, end)
    # A match is one entry (its fields hold no "<"). Every entry read, each right after the one before: then the
    # entries are exactly body[first:end] (in a well-formed document every </Contents> closes one of them).
    if len(found) != body.count(_OPEN) or body.count(_CLOSE + _OPEN, first, end) != len(found) - 1:
        return None  # an entry of another shape, or something between two entries
    if body[first:end].translate(None, _PLAIN_BYTES):
        return None  # a control character, or a CR an XML parser would turn into a LF: botocore's to judge
    try:
        return _entries(found), body[:first] + body[end:]
    except (ValueError, UnicodeError):  # not UTF-8, or a reference XML has no meaning for: botocore's to judge
        return None


def _entries(found: list[tuple[bytes, ...]]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    stamps: dict[bytes, Any] = {}
    for key, modified, etag, size, storage in found:
        stamp = stamps.get(modified)
        if stamp is None:
            stamp = stamps[modified] = fast_timestamp(modified.decode("ascii"))
        text = key.decode("utf-8")
        tag = etag.replace(b"&quot;", b'"').decode("utf-8")
        entry = {"Key": _xml_unescape(text) if "&" in text else text, "LastModified": stamp,
                 "ETag": _xml_unescape(tag) if "&" in tag else tag, "Size": int(size)}
        if storage:
            entry["StorageClass"] = storage.decode("utf-8")
        entries.append(entry)
    return entries


def _reference(match: re.Match[str]) -> str:
    name, decimal, hexadecimal = match.groups()
    if name:
        return _NAMED[name]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if not (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF):
        raise ValueError(f"&#{code}; is no XML character")
    return chr(code)


def _xml_unescape(text: str) -> str:
    """XML character data as text: the five predefined entities and character references, as an XML parser reads
    them (``html.unescape`` would read ``&#128;`` as cp1252's euro sign, and accept ``&copy;``); any other ``&``
    raises ``ValueError``."""
    unescaped = _REFERENCE.sub(_reference, text)
    if "&" in _REFERENCE.sub("", text):
        raise ValueError("an & that is no XML reference")
    return unescaped


def listed_object(item: dict[str, Any]) -> ObjectInfo:
    """The :class:`ObjectInfo` of one ``Contents`` entry of a ``ListObjectsV2`` response (either parse's)."""
    modified = item["LastModified"]
    if modified.tzinfo is not timezone.utc:  # fast_timestamp's are already
        modified = modified.astimezone(timezone.utc)
    return ObjectInfo(item["Key"], item["Size"], modified, (item.get("ETag") or "").strip('"'))


def listed_row(item: dict[str, Any]) -> tuple[str, int, datetime, str]:
    """:func:`listed_object`'s fields as a tuple ``(key, size, last_modified, etag)`` (a listing process's row)."""
    modified = item["LastModified"]
    if modified.tzinfo is not timezone.utc:
        modified = modified.astimezone(timezone.utc)
    return item["Key"], item["Size"], modified, (item.get("ETag") or "").strip('"')


def _fast_contents(check: Callable[..., Any] | None) -> Callable[..., None]:
    """The ``before-parse.s3.*`` handler: for ``ListObjectsV2``, :func:`parse_contents` before anything else;
    then botocore's check for an error in a 200 response (``check``), on what is left of the body."""

    def handler(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], operation_model: Any = None,
                **kwargs: Any) -> None:
        body = response_dict.get("body")
        if (operation_model is not None and operation_model.name == "ListObjectsV2"
                and response_dict.get("status_code") == 200 and isinstance(body, bytes)):
            parsed = parse_contents(body)
            if parsed is not None:
                customized_response_dict["Contents"], response_dict["body"] = parsed
        if check is not None:
            check(operation_model=operation_model, response_dict=response_dict, **kwargs)

    return handler


def fast_listing(client: Any) -> Any:
    """``client`` (botocore copies the event handlers per client) with the fast ``ListObjectsV2`` parse, run
    before botocore's 200-error check, which it then calls on the rest of the body (returned for chaining)."""
    from botocore import handlers

    if getattr(client.meta, "mldp_fast_listing", False):
        return client  # once: a second handler would run the error check twice
    client.meta.mldp_fast_listing = True
    events = client.meta.events
    check = getattr(handlers, "_handle_200_error", None)
    if check is not None:
        events.unregister("before-parse.s3.*", check)
    events.register_first("before-parse.s3.*", _fast_contents(check))
    return client


def s3_client(max_pool_connections: int = 64) -> Any:
    """A boto3 S3 client of the default session with :func:`fast_listing`, whose responses parse timestamps with
    :func:`fast_timestamp`; its connections are twice the default listing parallelism, as planning runs a split's
    probes beside the splits (:mod:`runtime.jobs.parallel_listing`). The default session's response parser factory
    is given the parser: a drop-in for botocore's (same values), for every client made from that session
    afterwards."""
    return S3ClientSpec(max_pool_connections=max_pool_connections).client()


@dataclass(frozen=True)
class S3ClientSpec:
    """How to make an S3 client (:func:`s3_client`'s) again in another process, e.g. a listing process
    (:mod:`runtime.jobs.listing_processes`): picklable, unlike a client. What is left ``None`` is resolved there as
    here, by the default session from the environment (which a spawned process inherits), the shared config and the
    container or instance role. Explicit ``credentials`` (access key, secret key, session token) travel in the spec
    to the child; ``repr`` leaves them out. ``config`` is a botocore ``Config`` merged over the pool size."""

    endpoint_url: str | None = None
    region_name: str | None = None
    config: Any = None
    credentials: tuple[str, str, str | None] | None = field(default=None, repr=False)
    max_pool_connections: int = 64

    def client(self) -> Any:
        """A new client of the default session with :func:`fast_listing` and :func:`fast_timestamp`."""
        import boto3
        from botocore.config import Config

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        factory = session._session.get_component("response_parser_factory")
        factory.set_parser_defaults(timestamp_parser=fast_timestamp)
        config = Config(max_pool_connections=self.max_pool_connections)
        key, secret, token = self.credentials or (None, None, None)
        return fast_listing(session.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region_name,
            config=config.merge(self.config) if self.config is not None else config,
            aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token))


def answered_in_process(client: Any) -> bool:
    """Whether a ``before-send`` handler may answer ``client``'s listing requests in this process (a test's mock:
    moto's ``mock_aws``, whose handler says whether it is ``enabled``): a client made again in another process would
    send them to the real endpoint instead. Unknown (botocore's emitter changed): ``True``."""
    events = getattr(client.meta, "events", None)
    trie = getattr(getattr(events, "_emitter", events), "_handlers", None)
    if trie is None or not hasattr(trie, "prefix_search"):
        return True
    return any(getattr(handler, "enabled", True) for handler in trie.prefix_search("before-send.s3.ListObjectsV2"))
