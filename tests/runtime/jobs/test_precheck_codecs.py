"""The pre-check decides with Spark's rules: every codec Hadoop picks by name is decoded end to end whatever the
case of its suffix (broken -> QUARANTINED as unreadable, never as empty), the JSON Lines / array sniffing skips a
byte-order mark, and a NULL ETag means "unknown" in the pre-check and in ``verify_unchanged`` alike."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from runtime.db.states import FileState
from runtime.jobs import codecs
from runtime.jobs.precheck import ClaimedFile, check_file, json_layout, verify_unchanged
from runtime.storage.local import LocalStore
from tests.support import spark_inputs as inputs

SUFFIXES = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst")
LABELS = {".gz": "gzip", ".bz2": "bz2", ".deflate": "deflate", ".lz4": "lz4", ".snappy": "snappy", ".zst": "zstd"}
LINES = inputs.good_lines(200)
ARRAY = inputs.json_array(5)


def check(tmp_path: Path, name: str, body: bytes, etag: str | None = "registered"):
    store = LocalStore(tmp_path)
    key = f"raw-json-data/2024/week01/{name}"
    store.put_bytes(key, body)
    registered = store.head(key).etag if etag == "registered" else etag
    return store, check_file(store, ClaimedFile(1, key, registered, len(body), 1))


@pytest.mark.parametrize("suffix", [*SUFFIXES, ".GZ", ".Bz2", ".DEFLATE", ".LZ4", ".Snappy", ".ZST"])
def test_a_valid_compressed_file_is_readable_whatever_the_case_of_its_suffix(tmp_path, suffix):
    _store, lines = check(tmp_path, f"a.jsonl{suffix}", inputs.compressed(LINES, suffix))
    assert (lines.status, lines.codec, lines.json_layout) == (None, suffix.lower(), "lines")
    _store, array = check(tmp_path, f"b.json{suffix}", inputs.compressed(ARRAY, suffix))
    assert (array.status, array.json_layout) == (None, "array")


@pytest.mark.parametrize("suffix", [*SUFFIXES, ".GZ", ".Bz2", ".DEFLATE", ".LZ4", ".Snappy", ".ZST"])
def test_garbage_and_truncated_compressed_files_are_unreadable_not_empty(tmp_path, suffix):
    label = LABELS[suffix.lower()]
    _store, garbage = check(tmp_path, f"g.jsonl{suffix}", inputs.GARBAGE)
    assert garbage.status is FileState.QUARANTINED
    assert garbage.reason.startswith(f"unreadable {label} file: ")
    _store, cut = check(tmp_path, f"t.jsonl{suffix}", inputs.truncated(inputs.compressed(LINES, suffix.lower())))
    assert cut.status is FileState.QUARANTINED and cut.reason.startswith(f"unreadable {label} file: ")
    assert "truncated" in cut.reason or "corrupt" in cut.reason


def test_a_truncated_bz2_is_named_as_such(tmp_path):
    _store, cut = check(tmp_path, "t.jsonl.bz2", inputs.truncated(inputs.compressed(LINES, ".bz2")))
    assert cut.reason == "unreadable bz2 file: truncated bz2 stream (unexpected end of file)"


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".deflate", ".zst"])
def test_concatenated_members_are_valid_as_hadoop_reads_them(tmp_path, suffix):
    body = inputs.compressed(LINES, suffix) + inputs.compressed(LINES, suffix)
    _store, result = check(tmp_path, f"c.jsonl{suffix}", body)
    assert result.status is None


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".deflate"])
def test_trailing_garbage_after_a_member_is_unreadable(tmp_path, suffix):
    _store, result = check(tmp_path, f"c.jsonl{suffix}", inputs.compressed(LINES, suffix) + b"garbage")
    assert result.status is FileState.QUARANTINED and result.reason.startswith("unreadable")


def test_a_compressed_empty_file_is_readable_so_spark_calls_it_empty(tmp_path):
    _store, result = check(tmp_path, "empty.jsonl.gz", gzip.compress(b""))
    assert result.status is None  # Spark reads no record: "no JSON record in the file", not "unreadable"


def test_a_codec_this_environment_cannot_decode_is_unsupported_not_empty(tmp_path, monkeypatch):
    def no_pyarrow():
        raise codecs.CodecUnavailable("it cannot be verified before Spark reads it (pyarrow is not installed)")

    monkeypatch.setattr(codecs, "_pyarrow", no_pyarrow)
    _store, result = check(tmp_path, "a.jsonl.lz4", inputs.compressed(LINES, ".lz4"))
    assert result.status is FileState.QUARANTINED
    assert result.reason == ("unsupported compression codec .lz4: it cannot be verified before Spark reads it "
                             "(pyarrow is not installed)")


def test_a_bomb_is_decoded_and_scanned_with_bounded_memory(tmp_path):
    body = gzip.compress(b" " * (64 << 20) + b"[" + json.dumps({"id": "x"}).encode() + b"]")
    tracemalloc.start()
    try:
        _store, result = check(tmp_path, "bomb.json.gz", body)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the JSON shape is scanned on the whole decompressed stream, not on its first 4 KiB (all blanks): one array
    assert result.status is None and result.json_layout == "array"
    assert peak < 16 << 20  # a few decompressed chunks at a time, never the 64 MiB


@pytest.mark.parametrize(("head", "layout"), [
    (b"\xef\xbb\xbf[{}]", "array"),
    (b"\xef\xbb\xbf \n\t[{}]", "array"),
    (b"\xef\xbb\xbf{}\n", "lines"),
    (b"  [1]", "array"),
    (b"\xef[1]", "lines"),  # not a byte-order mark: a malformed line, not an array
    (b"", "lines"),
])
def test_the_sniffing_skips_a_byte_order_mark(head, layout):
    assert json_layout(head) == layout


def test_a_bom_before_an_array_in_a_compressed_file(tmp_path):
    _store, result = check(tmp_path, "bom.json.bz2", inputs.compressed(inputs.bom_array(), ".bz2"))
    assert (result.status, result.json_layout) == (None, "array")


def test_a_null_etag_is_unknown_in_the_precheck_and_in_verify_unchanged(tmp_path):
    store, result = check(tmp_path, "null-etag.jsonl", LINES, etag=None)
    current = store.head(result.file.key).etag
    assert result.status is None and result.etag == current
    assert result.processed.etag == current and result.file.etag is None  # the version processed is the one read
    assert verify_unchanged(store, [result.processed]) == []
    assert verify_unchanged(store, [result.file]) == []  # still unknown: not compared (never "changed")
    store.put_bytes(result.file.key, LINES + b"\n")
    assert verify_unchanged(store, [result.processed]) == [result.processed]  # a new version since the read
    store.delete(result.file.key)
    assert verify_unchanged(store, [result.file]) == [result.file]  # gone: changed, whatever its ETag


def test_a_registered_etag_is_still_compared(tmp_path):
    _store, result = check(tmp_path, "etag.jsonl", LINES, etag="not-the-current-etag")
    assert result.status is FileState.FAILED and "changed after listing" in result.reason
    assert result.outcome().etag == "not-the-current-etag"
