"""Archived keys never exceed S3's 1,024-byte limit (issue "Data safety, second round", case 10): a raw key whose
natural archived key (``raw-json-data-processed/`` plus ``_versions/vN/`` in front of the relative key) would be
longer gets a deterministic shortened key, and the archive of such a file goes through and is found again."""

from __future__ import annotations

import hashlib
import json

import pytest

from runtime.cli import main
from runtime.db.tracking import TrackingStore
from runtime.errors import UsageError
from runtime.jobs.archive import Archiver
from runtime.jobs.lister import run_lister
from runtime.layout import LONG_ARCHIVE_FOLDER, MAX_KEY_BYTES, Layout, utf8_tail
from runtime.storage.base import ObjectNotFound

LAYOUT = Layout()
WEEK = "raw-json-data/2024/week01/"
SUFFIX = ".jsonl.gz"


def _raw_key(size: int, fill: str = "a", folder: str = WEEK) -> str:
    """A raw key of exactly ``size`` UTF-8 bytes (``fill`` is one ASCII character or a multi-byte one, the name
    padded with ASCII to the exact size), ending in :data:`SUFFIX`."""
    room = size - len(folder.encode()) - len(SUFFIX)
    width = len(fill.encode())
    name = fill * (room // width) + "x" * (room % width)
    key = folder + name + SUFFIX
    assert len(key.encode()) == size
    return key


def _size(key: str) -> int:
    return len(key.encode("utf-8"))


# --- the key itself ---------------------------------------------------------------------------------------------

def test_a_key_that_fits_keeps_its_natural_archived_key():
    assert LAYOUT.archived_key(WEEK + "a.jsonl") == "raw-json-data-processed/2024/week01/a.jsonl"
    assert LAYOUT.archived_key(WEEK + "a.jsonl", 3) == "raw-json-data-processed/_versions/v3/2024/week01/a.jsonl"
    exactly = _raw_key(MAX_KEY_BYTES - len("raw-json-data-processed/") + len("raw-json-data/"))
    assert _size(LAYOUT.archived_key(exactly)) == MAX_KEY_BYTES
    assert LAYOUT.archived_key(exactly) == "raw-json-data-processed/" + exactly[len("raw-json-data/"):]


@pytest.mark.parametrize("fill", ["a", "é", "日", "😀"])
@pytest.mark.parametrize("version", [1, 2, 12, 2_147_483_647])
@pytest.mark.parametrize("size", [1015, 1020, 1024])
def test_a_key_that_would_be_too_long_is_shortened_deterministically_and_keeps_its_suffix(size, version, fill):
    raw_key = _raw_key(size, fill)
    key = LAYOUT.archived_key(raw_key, version)

    digest = hashlib.sha256(raw_key.encode()).hexdigest()
    folder = f"raw-json-data-processed/{LONG_ARCHIVE_FOLDER}{digest}/v{version}/"
    assert key.startswith(folder) and _size(key) <= MAX_KEY_BYTES
    name = key[len(folder):]
    assert name.endswith(SUFFIX) and raw_key.endswith(name)  # the end of the file name, whole characters only
    assert _size(key) > MAX_KEY_BYTES - len(fill.encode())  # cut as close to the limit as a character allows
    assert key == LAYOUT.archived_key(raw_key, version)  # a re-run of an interrupted archive copies to the same key


def test_different_raw_keys_and_versions_get_different_shortened_keys():
    same_name = [_raw_key(1020, folder=folder) for folder in (WEEK, "raw-json-data/2024/week02/")]
    keys = {LAYOUT.archived_key(raw, version) for raw in same_name for version in (1, 2, 3)}
    assert len(keys) == 6
    assert all(key.startswith("raw-json-data-processed/_long/") for key in keys)


@pytest.mark.parametrize(("text", "limit", "tail"), [
    ("abc.jsonl", 100, "abc.jsonl"),
    ("abc.jsonl", 6, ".jsonl"),
    ("日本.jsonl", 8, ".jsonl"),  # 本 is 3 bytes: 9 would not fit, so it is left out whole
    ("日本.jsonl", 9, "本.jsonl"),
    ("😀.gz", 5, ".gz"),
    ("abc", 0, ""),
])
def test_the_end_of_a_name_is_cut_on_a_character_boundary(text, limit, tail):
    assert utf8_tail(text, limit) == tail


def test_a_processed_prefix_too_long_to_leave_room_for_a_name_is_refused():
    with pytest.raises(UsageError, match="--processed-prefix is longer than 512 bytes"):
        Layout(processed_prefix="p" * 600 + "/")


# --- end to end: the archiver on S3 (moto), then mldp inspect -----------------------------------------------------

def _succeed(conn, key: str) -> int:
    """Record the file at ``key`` SUCCEEDED (as a batch would) and return its version."""
    with conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET processing_status = 'SUCCEEDED', processed_at = now(), "
                    "records_good = 1, records_bad = 0 WHERE s3_key = %s RETURNING version", (key,))
        [(version,)] = cur.fetchall()
    conn.commit()
    return version


def _archived_key(conn, key: str) -> str | None:
    with conn.cursor() as cur:
        cur.execute("SELECT archived_key FROM file_processing_status WHERE s3_key = %s", (key,))
        [(archived,)] = cur.fetchall()
    conn.commit()
    return archived


def test_a_second_version_of_a_1020_byte_key_is_archived_under_its_short_key_and_inspect_finds_it(
        s3_client, s3_bucket, s3_store, db_conn, db_url, capsys):
    """moto accepts keys over 1,024 bytes (S3 answers ``KeyTooLongError``), so the length is asserted here. Before,
    the natural key (``raw-json-data-processed/_versions/v2/`` + 1,006 bytes) was 1,043 bytes: on S3 the copy
    failed on every run and the file stayed SUCCEEDED and unarchived."""
    raw_key = _raw_key(1020)
    archiver = Archiver(s3_store, TrackingStore(db_conn), LAYOUT, io_workers=2)
    s3_client.put_object(Bucket=s3_bucket, Key=raw_key, Body=b'{"id": "1"}\n')
    run_lister(s3_store, db_conn, show_progress=False)
    assert _succeed(db_conn, raw_key) == 1
    assert archiver.archive_leftovers() == 1
    first = _archived_key(db_conn, raw_key)

    body = b'{"id": "1"}\n{"id": "2"}\n'
    s3_client.put_object(Bucket=s3_bucket, Key=raw_key, Body=body)  # a new version of the same key
    assert run_lister(s3_store, db_conn, show_progress=False).counts.changed == 1
    assert _succeed(db_conn, raw_key) == 2
    natural = f"raw-json-data-processed/_versions/v2/{raw_key[len('raw-json-data/'):]}"
    assert _size(natural) == 1043
    short = LAYOUT.archived_key(raw_key, 2)
    s3_store.copy(raw_key, short)  # an earlier run copied it, then stopped before recording it

    assert archiver.archive_leftovers() == 1

    assert _archived_key(db_conn, raw_key) == short != first
    assert _size(short) <= MAX_KEY_BYTES and _size(first) <= MAX_KEY_BYTES
    assert s3_store.get_bytes(short) == body
    with pytest.raises(ObjectNotFound):
        s3_store.head(raw_key)
    archived = [obj.key for obj in s3_store.list("raw-json-data-processed/")]
    assert sorted(archived) == sorted([first, short])  # the re-run copied to the same key: no second copy
    assert main(["inspect", short, "--db", db_url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["file"]["s3_key"], report["file"]["archived_key"]) == (raw_key, short)
