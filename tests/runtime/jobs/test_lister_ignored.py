"""Every listed key the lister does not register is counted by reason and named (issue "Data safety, second
round", cases 9 and 10): weekly folders users really have are registered, and a key the tracking table cannot
hold (a name that is not UTF-8, longer than 1,024 bytes, holding a NUL) is reported and never stops the listing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from platform_contract import metrics as metric_names
from runtime.cli import main
from runtime.jobs.lister import (
    EXAMPLES_PER_REASON,
    FOLDER_MARKER,
    IGNORED_REASONS,
    KEY_TOO_LONG,
    NOT_UTF8,
    NUL_CHARACTER,
    OUTSIDE_LAYOUT_FOLDERS,
    PIPELINE_OUTPUT,
    KeyFilter,
    is_default_raw_key,
    run_lister,
    shown_key,
)
from runtime.layout import MAX_KEY_BYTES, Layout
from runtime.storage.local import LocalStore
from runtime.storage.s3 import S3Store
from tests.support.sql import files_by_key

RAW = "raw-json-data/"
#: The layouts of the issue: registered with the default prefixes.
WEEKLY_KEYS = [RAW + "2024/week1/x.jsonl", RAW + "2024/Week02/x.jsonl", RAW + "2024/WEEK3/sub/x.jsonl",
               RAW + "2024/week07/x.jsonl"]
#: Outside the default folders: ignored, but named, with the default prefixes.
OUTSIDE_KEYS = [RAW + "2024/week02.jsonl", RAW + "x.jsonl", RAW + "scratch/y.jsonl", RAW + "2024/week123/z.jsonl"]
NON_UTF8_NAME = b"caf\xe9-latin1.jsonl"
NON_UTF8_KEY = RAW + "all_historical_files/" + os.fsdecode(NON_UTF8_NAME)


@pytest.fixture
def cloudwatch(monkeypatch):
    """A moto CloudWatch with fake credentials and region in the environment, as on Glue (the fixture of
    ``test_metrics.py``, whose module imports the processor)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-west-1")


def _published_sum(client, name: str) -> float:
    """The sum of the values of ``name`` (Environment ``test``) published in the last hour, in its contract unit."""
    now = datetime.now(UTC)
    response = client.get_metric_statistics(
        Namespace=metric_names.DEFAULT_NAMESPACE, MetricName=name, Statistics=["Sum"], Period=3600,
        Dimensions=[{"Name": metric_names.ENVIRONMENT_DIMENSION, "Value": "test"}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5), Unit=metric_names.UNITS[name])
    return sum(point["Sum"] for point in response["Datapoints"])


def _write(root: Path, key: str, body: bytes = b'{"id": "1"}\n') -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def _write_bytes_name(root: Path, folder: str, name: bytes) -> None:
    """A file whose name is the raw bytes ``name`` (not UTF-8: ``Path`` cannot spell it)."""
    (root / folder).mkdir(parents=True, exist_ok=True)
    with open(os.fsencode(str(root / folder)) + b"/" + name, "wb") as handle:
        handle.write(b'{"id": "1"}\n')


def _long_key(size: int, folder: str = RAW + "all_historical_files/") -> str:
    """A key of exactly ``size`` bytes under ``folder``: incompressible hex, a ``/`` every 200 characters (a local
    file system allows 255 bytes a name), so PostgreSQL cannot squeeze it into its index."""
    hex_text = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(size // 64 + 1))
    chars = list(hex_text[:size - len(folder) - len(".jsonl")])
    for position in range(200, len(chars) - 1, 201):
        chars[position] = "/"
    key = folder + "".join(chars) + ".jsonl"
    assert len(key.encode()) == size
    return key


# --- B. the weekly folders users have ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [*WEEKLY_KEYS, RAW + "all_historical_files/a.json", RAW + "2024/week00/a.json"])
def test_weekly_folders_with_one_or_two_digits_and_any_case_are_default_folders(key):
    assert is_default_raw_key(key)


@pytest.mark.parametrize("key", [*OUTSIDE_KEYS, RAW + "2024/weekly01/a.json", RAW + "24/week01/a.json",
                                 RAW + "2024/week/a.json", RAW + "2024/week\u0661/a.json"])  # an Arabic-Indic 1
def test_files_that_are_not_in_a_weekly_folder_are_not_default_keys(key):
    assert not is_default_raw_key(key)


def test_the_issues_weekly_layouts_are_registered_and_the_rest_named_as_outside(tmp_path, db_conn, caplog):
    for key in WEEKLY_KEYS + OUTSIDE_KEYS:
        _write(tmp_path, key)

    with caplog.at_level(logging.WARNING, logger="runtime.jobs.lister"):
        summary = run_lister(LocalStore(tmp_path), db_conn, show_progress=False)

    assert set(files_by_key(db_conn, "version")) == set(WEEKLY_KEYS)
    assert summary.counts.listed == len(WEEKLY_KEYS)
    assert summary.ignored == {OUTSIDE_LAYOUT_FOLDERS: len(OUTSIDE_KEYS)}
    assert sorted(summary.ignored_examples[OUTSIDE_LAYOUT_FOLDERS]) == sorted(OUTSIDE_KEYS)
    [line] = [r.getMessage() for r in caplog.records if "outside the default listing folders" in r.getMessage()]
    assert line.startswith(f"ignored {len(OUTSIDE_KEYS)} keys outside the default listing folders")
    assert all(key in line for key in OUTSIDE_KEYS)
    assert "`mldp list --prefix raw-json-data/`" in line and "--prefixes" in line and "listing_prefixes" in line


def test_the_raw_prefix_as_prefix_registers_what_the_default_folders_leave_out(tmp_path, db_conn):
    for key in WEEKLY_KEYS + OUTSIDE_KEYS:
        _write(tmp_path, key)
    summary = run_lister(LocalStore(tmp_path), db_conn, [RAW], show_progress=False)
    assert set(files_by_key(db_conn, "version")) == set(WEEKLY_KEYS + OUTSIDE_KEYS)
    assert summary.ignored == {}


# --- A. every key not registered is counted and named: summary, --json, log, metric --------------------------------

def test_the_json_summary_counts_every_reason_and_names_a_few_keys_of_each(tmp_path, db_url, db_conn, capsys):
    outside = [f"{RAW}scratch/f{i:02d}.jsonl" for i in range(EXAMPLES_PER_REASON + 3)]
    for key in [WEEKLY_KEYS[0], *outside]:
        _write(tmp_path, key)
    _write_bytes_name(tmp_path, RAW + "all_historical_files", NON_UTF8_NAME)
    too_long = _long_key(MAX_KEY_BYTES + 1)
    _write(tmp_path, too_long)

    assert main(["list", "--store", str(tmp_path), "--db", db_url, "--json", "--no-metrics"]) == 0
    report = json.loads(capsys.readouterr().out)

    assert (report["listed"], report["new"]) == (1, 1)
    assert report["ignored"] == {OUTSIDE_LAYOUT_FOLDERS: len(outside), PIPELINE_OUTPUT: 0, NOT_UTF8: 1,
                                 KEY_TOO_LONG: 1, NUL_CHARACTER: 0, FOLDER_MARKER: 0}
    assert list(report["ignored"]) == list(IGNORED_REASONS)
    assert report["ignored_examples"] == {
        OUTSIDE_LAYOUT_FOLDERS: outside[:EXAMPLES_PER_REASON],  # listed in key order; only the first few kept
        NOT_UTF8: [RAW + "all_historical_files/caf\\xe9-latin1.jsonl"],  # pasteable: the byte as \xe9
        KEY_TOO_LONG: [too_long],
    }
    assert set(files_by_key(db_conn, "version")) == {WEEKLY_KEYS[0]}


def test_the_text_summary_says_what_was_ignored_and_what_to_set(tmp_path, db_url, capsys):
    for key in [WEEKLY_KEYS[0], OUTSIDE_KEYS[0], OUTSIDE_KEYS[1]]:
        _write(tmp_path, key)
    _write_bytes_name(tmp_path, RAW + "2024/week01", NON_UTF8_NAME)

    assert main(["list", "--store", str(tmp_path), "--db", db_url, "--no-metrics"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].startswith("listed 1 files: 1 new, 0 changed, 0 unchanged, 3 ignored (")
    assert lines[1] == (
        "ignored 2 keys outside the default listing folders (raw-json-data/all_historical_files/, "
        "raw-json-data/YYYY/weekN/): raw-json-data/2024/week02.jsonl, raw-json-data/x.jsonl; "
        "`mldp list --prefix raw-json-data/` registers every key under the raw prefix (on Glue: the lister job's "
        "--prefixes argument, set by JsonToParquetWorkflowProps.listing_prefixes, e.g. --prefixes raw-json-data/)")
    assert lines[2].startswith("ignored 1 key whose name is not valid UTF-8")
    assert lines[2].count("raw-json-data/2024/week01/caf\\xe9-latin1.jsonl") == 1
    assert len(lines) == 3


@pytest.mark.parametrize("prefixes", [None, ["data/"]])
def test_pipeline_output_under_the_raw_prefix_is_counted_whatever_the_prefixes(prefixes, tmp_path, db_conn):
    layout = Layout(raw_prefix="data/", processed_prefix="data/all_historical_files/_processed/",
                    dead_letter_prefix="data/2024/week01/_errors/")
    pipeline = ["data/all_historical_files/_processed/a.json", "data/2024/week01/_errors/batch_id=x/e.json"]
    for key in ["data/2024/week01/b.json", *pipeline]:
        _write(tmp_path, key)
    summary = run_lister(LocalStore(tmp_path), db_conn, prefixes, layout=layout, show_progress=False)
    assert summary.ignored == {PIPELINE_OUTPUT: 2}
    assert sorted(summary.ignored_examples[PIPELINE_OUTPUT]) == sorted(pipeline)
    assert summary.as_dict()["ignored"][PIPELINE_OUTPUT] == 2


def test_the_lister_publishes_how_many_keys_it_ignored(cloudwatch, tmp_path, db_url):
    for key in [WEEKLY_KEYS[0], *OUTSIDE_KEYS]:
        _write(tmp_path, key)
    assert main(["list", "--store", str(tmp_path), "--db", db_url, "--environment", "test"]) == 0
    assert _published_sum(cloudwatch, metric_names.FILES_IGNORED) == len(OUTSIDE_KEYS)
    assert _published_sum(cloudwatch, metric_names.FILES_REGISTERED) == 1


def test_the_filter_keeps_counts_and_a_few_names_never_the_keys_themselves():
    keep = KeyFilter(Layout(), default_folders_only=True)
    kept = sum(keep(f"{RAW}scratch/{i:06d}.json") for i in range(10_000))
    assert kept == 0 and keep.ignored == {OUTSIDE_LAYOUT_FOLDERS: 10_000}
    assert keep.examples == {OUTSIDE_LAYOUT_FOLDERS: [f"{RAW}scratch/{i:06d}.json" for i in range(5)]}


# --- C. a key that cannot be registered never stops the rest --------------------------------------------------------

def test_a_local_name_that_is_not_utf8_is_reported_and_the_rest_registered(tmp_path, db_conn):
    """``os.scandir`` hands the name over with its bad byte as a lone surrogate (``surrogateescape``); the COPY
    used to fail on it and register nothing. It is neither registered (under any spelling) nor a crash."""
    good = [RAW + "all_historical_files/a.jsonl", RAW + "all_historical_files/z.jsonl"]
    for key in good:
        _write(tmp_path, key)
    _write_bytes_name(tmp_path, RAW + "all_historical_files", NON_UTF8_NAME)
    store = LocalStore(tmp_path)
    assert NON_UTF8_KEY in {obj.key for obj in store.list(RAW)}  # how it arrives

    summary = run_lister(store, db_conn, show_progress=False, chunk_size=10)

    assert sorted(files_by_key(db_conn, "version")) == good
    assert summary.ignored == {NOT_UTF8: 1}
    assert summary.ignored_examples == {NOT_UTF8: [RAW + "all_historical_files/caf\\xe9-latin1.jsonl"]}
    json.dumps(summary.as_dict()).encode("utf-8")  # printable as it is


@pytest.mark.parametrize("size", [MAX_KEY_BYTES + 1, 3000])
def test_a_key_longer_than_s3_allows_is_reported_and_the_rest_registered(size, tmp_path, db_conn):
    """3,000 incompressible bytes overflowed the unique index on s3_key ("index row size exceeds btree maximum")
    and failed the whole page; any key over S3's 1,024 bytes is now left out by name."""
    fits, too_long = _long_key(MAX_KEY_BYTES), _long_key(size)
    for key in [fits, too_long, RAW + "all_historical_files/zz.jsonl"]:
        _write(tmp_path, key)

    summary = run_lister(LocalStore(tmp_path), db_conn, show_progress=False)

    assert set(files_by_key(db_conn, "version")) == {fits, RAW + "all_historical_files/zz.jsonl"}
    assert summary.ignored == {KEY_TOO_LONG: 1}
    assert summary.ignored_examples == {KEY_TOO_LONG: [too_long]}


def test_s3_keys_with_a_nul_or_over_1024_bytes_are_reported_and_the_rest_registered(s3_client, s3_bucket, db_conn):
    """moto accepts both keys (S3 refuses keys over 1,024 bytes); PostgreSQL cannot store a NUL in text, so such a
    key used to fail the COPY of its page."""
    nul_key = RAW + "2024/week01/a\x00b.jsonl"
    too_long = RAW + "2024/week01/" + "é" * 500 + ".jsonl"  # 1,024 characters of 1,524 bytes
    good = [RAW + "2024/week01/good.jsonl", RAW + "2024/week01/zz.jsonl"]
    for key in [nul_key, too_long, *good]:
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=b'{"id": "1"}\n')
    assert len(too_long) <= MAX_KEY_BYTES < len(too_long.encode())

    summary = run_lister(S3Store(s3_bucket, client=s3_client), db_conn, show_progress=False)

    assert sorted(files_by_key(db_conn, "version")) == good
    assert summary.ignored == {NUL_CHARACTER: 1, KEY_TOO_LONG: 1}
    assert summary.ignored_examples[NUL_CHARACTER] == [RAW + "2024/week01/a\\x00b.jsonl"]


@pytest.mark.parametrize(("key", "shown"), [
    ("raw-json-data/a b/ü.json", "raw-json-data/a b/ü.json"),
    (NON_UTF8_KEY, RAW + "all_historical_files/caf\\xe9-latin1.jsonl"),
    ("raw-json-data/a\nb\x00c", "raw-json-data/a\\x0ab\\x00c"),
])
def test_keys_are_shown_so_that_they_print_and_paste(key, shown):
    assert shown_key(key) == shown
    shown.encode("utf-8")
