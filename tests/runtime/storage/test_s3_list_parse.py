"""The cheap ``ListObjectsV2`` parse: the same result as botocore's own parse, on moto's responses end to end and on
bodies written the way S3 writes them; anything of another shape is left to botocore; botocore's check for an
error in a 200 response still runs."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore import handlers
from botocore.parsers import create_parser

from runtime.storage import s3_list_parse
from runtime.storage.s3_list_parse import fast_listing, fast_timestamp, parse_contents
from tests.support.key_sets import stress_keys

PREFIX = "raw-json-data/all_historical_files/"
FIELDS = ("Key", "Size", "LastModified", "ETag", "StorageClass")
OPERATION = botocore.session.get_session().get_service_model("s3").operation_model("ListObjectsV2")


def _entry(key: str, etag: str = "&quot;0cc175b9c0f1b6a831c399e269772661&quot;", extra: str = "") -> str:
    return (f"<Contents><Key>{key}</Key><LastModified>2026-11-01T10:20:30.000Z</LastModified><ETag>{etag}</ETag>"
            "<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
            f"<Size>204800</Size>{extra}<StorageClass>STANDARD</StorageClass></Contents>")


def _body(entries: list[str], prefixes: tuple[str, ...] = (), truncated: bool = False) -> bytes:
    """A ``ListObjectsV2`` answer as S3 writes it with ``encoding-type=url`` (element order of S3's responses)."""
    common = "".join(f"<CommonPrefixes><Prefix>{p}</Prefix></CommonPrefixes>" for p in prefixes)
    token = "<NextContinuationToken>1abc</NextContinuationToken>" if truncated else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>bucket</Name><Prefix>raw-json-data/</Prefix><KeyCount>{len(entries) + len(prefixes)}</KeyCount>"
            f"<MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><EncodingType>url</EncodingType>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{''.join(entries)}{common}{token}"
            "</ListBucketResult>").encode()


def _client_parse(body: bytes, fast: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a client makes of ``body`` (botocore's endpoint steps: before-parse handlers, the parser, the
    customized values, the after-call URL decoding), with or without the fast parse; and the response dict."""
    response = {"status_code": 200, "headers": {}, "body": body}
    customized: dict[str, Any] = {}
    if fast:
        s3_list_parse._fast_contents(handlers._handle_200_error)(
            response_dict=response, customized_response_dict=customized, operation_model=OPERATION)
    else:
        handlers._handle_200_error(operation_model=OPERATION, response_dict=response)
    if response["status_code"] != 200:
        return {}, response
    parser = create_parser("rest-xml")
    parser._timestamp_parser = fast_timestamp
    parsed = parser.parse(response, OPERATION.output_shape)
    parsed.update(customized)
    handlers.decode_list_object_v2(parsed, context={"encoding_type_auto_set": True})
    return parsed, response


def _contents(parsed: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(item.get(field) for field in FIELDS) for item in parsed.get("Contents", [])]


@pytest.mark.parametrize("text", ["2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00",
                                  "2026-11-01T01:00:00.123+01:00", "Sun, 01 Nov 2026 00:00:00 GMT", "1761955200"])
def test_the_fast_timestamp_parser_gives_what_botocore_gives(text):
    from botocore.utils import parse_timestamp

    fast, botocore = fast_timestamp(text), parse_timestamp(text)
    assert (fast, fast.utcoffset()) == (botocore, botocore.utcoffset())


def test_an_s3_shaped_page_is_read_by_the_fast_parse_and_gives_what_botocore_gives():
    keys = ["raw-json-data/a%26b%3Cc%3Ed%27e%22f.json", "raw-json-data/%E6%97%A5%F0%9F%98%80.json",
            "raw-json-data/x&amp;y.json", "raw-json-data/tab%09here.json", "raw-json-data/plain.json"]
    entries = [_entry(key) for key in keys] + [_entry("raw-json-data/odd.json", etag="&quot;a&amp;b&#34;&quot;")]
    body = _body(entries, prefixes=("raw-json-data/2026/",), truncated=True)
    assert parse_contents(body) is not None
    fast, _ = _client_parse(body, fast=True)
    plain, _ = _client_parse(body, fast=False)
    assert _contents(fast) == _contents(plain)
    assert [item["Key"] for item in fast["Contents"]][:2] == ["raw-json-data/a&b<c>d'e\"f.json",
                                                             "raw-json-data/日😀.json"]
    assert fast["Contents"][-1]["ETag"] == '"a&b""'
    assert {k: v for k, v in fast.items() if k != "Contents"} == {k: v for k, v in plain.items() if k != "Contents"}


@pytest.mark.parametrize("body", [
    _body([_entry("raw-json-data/a.json", extra="<Owner><ID>x</ID></Owner>")]),  # FetchOwner's element
    _body([_entry("raw-json-data/a.json"), _entry("raw-json-data/b.json", extra="<RestoreStatus/>")]),
    _body([_entry("raw-json-data/a.json"), "<Foo/>", _entry("raw-json-data/b.json")]),  # not consecutive
    _body([_entry("raw-json-data/a.json").replace("<Size>204800</Size>", "")]),  # no Size
    _body([_entry("raw-json-data/a.json")])[:-30],  # cut short (a broken connection)
], ids=["owner", "restore-status", "interleaved", "no-size", "truncated"])
def test_a_page_of_another_shape_is_left_whole_to_botocore(body):
    assert parse_contents(body) is None
    response = {"status_code": 200, "headers": {}, "body": body}
    customized: dict[str, Any] = {}
    s3_list_parse._fast_contents(None)(response_dict=response, customized_response_dict=customized,
                                       operation_model=OPERATION)
    assert (response["body"], customized) == (body, {})


def test_character_references_are_read_as_an_xml_parser_reads_them():
    body = _body([_entry("raw-json-data/euro&#128;&#x85;&#13;&lt;&apos;.json")])
    fast, _ = _client_parse(body, fast=True)
    plain, _ = _client_parse(body, fast=False)
    assert parse_contents(body) is not None and _contents(fast) == _contents(plain)
    assert fast["Contents"][0]["Key"] == "raw-json-data/euro\x80\x85\r<'.json"  # not cp1252's euro sign


@pytest.mark.parametrize("key", [b"a&copy;b", b"a&amp", b"a&#0;b", b"a\rb", b"a\x01b", b"a\xffb"],
                         ids=["html-entity", "no-semicolon", "not-a-character", "raw-cr", "control", "not-utf8"])
def test_a_key_an_xml_parser_would_refuse_or_change_is_left_to_botocore(key):
    body = _body([_entry("raw-json-data/ok.json")]).replace(b"raw-json-data/ok.json", b"raw-json-data/" + key)
    assert parse_contents(body) is None


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>x</Message></Error>',
    _body([_entry("raw-json-data/a.json")] * 3)[:-40],
], ids=["error-document", "cut-short"])
def test_botocores_check_for_an_error_in_a_200_answer_still_runs(body):
    _, response = _client_parse(body, fast=True)
    assert response["status_code"] == 500  # what botocore makes of it, so that it retries


def test_a_client_with_the_fast_parse_lists_moto_as_a_plain_client_does(s3_client, s3_bucket, monkeypatch):
    import boto3
    from botocore.config import Config

    keys = [*stress_keys(5, 60), PREFIX + "a&b<c>d'e\"f.json", PREFIX + "x&amp;y.json", PREFIX + "tab\there.json"]
    for index, key in enumerate(keys):
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b"x" * index)
    read: list[int] = []

    def counted(body: bytes) -> Any:
        result = parse_contents(body)
        read.append(0 if result is None else len(result[0]))
        return result

    monkeypatch.setattr(s3_list_parse, "parse_contents", counted)
    fast = fast_listing(boto3.client("s3", region_name="us-east-1", config=Config(max_pool_connections=4)))
    assert fast_listing(fast) is fast  # twice: still one handler (one parse a page below)
    after = next(k for k in keys[10:] if "\uffff" not in k)  # moto cannot echo U+FFFF in its XML
    for params in ({"MaxKeys": 17}, {"StartAfter": after, "MaxKeys": 1000}, {"Delimiter": "/", "Prefix": PREFIX}):
        read.clear()
        plain = s3_client.list_objects_v2(Bucket=s3_bucket, **params)
        parsed = fast.list_objects_v2(Bucket=s3_bucket, **params)
        assert read == [len(plain["Contents"])]  # the fast parse read every entry of the page
        assert _contents(parsed) == _contents(plain)
        assert parsed["IsTruncated"] == plain["IsTruncated"]
        assert parsed.get("CommonPrefixes") == plain.get("CommonPrefixes")
    other = s3_client.list_objects_v2(Bucket=s3_bucket, MaxKeys=5)["Contents"][0]
    assert fast.head_object(Bucket=s3_bucket, Key=other["Key"])["ContentLength"] == other["Size"]
