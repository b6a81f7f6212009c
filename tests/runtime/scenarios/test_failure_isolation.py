"""A failure is charged to the file that causes it, or to no file (issue 10 item 2, issue 11 item 3): 4 good files
and 1 poison file in one batch end with 4 SUCCEEDED (all their records, one publish) and the poison alone
FAILED or QUARANTINED with its real reason; a failure that belongs to no file stops the run (exit 3) and charges
no file. Real PostgreSQL, local Spark, local store."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from runtime.errors import RunStopped
from runtime.jobs import precheck
from runtime.jobs.lister import run_lister
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from runtime.transforms.spec import load_spec
from tests.support import spark_inputs as inputs
from tests.support.pipeline import LAYOUT, curated_rows, per_source, states, write_spec

pytestmark = pytest.mark.spark
POISON_KEY = "raw-json-data/2024/week02/poison"
POISON_LINES = inputs.lines(*(inputs.record(900 + i, id=f"poison-{i}") for i in range(4)))

HOOKS = """
from pyspark.sql import functions as F


def null_mode_for_poison(df):
    return df.withColumn("mode", F.when(F.col("id").startswith("poison"), F.lit(None).cast("string"))
                         .otherwise(F.col("mode")))


def model_service_down(df):
    @F.udf("string")
    def lookup(mode):
        raise ValueError("the feature service is down")

    return df.withColumn("event_mode", lookup("event_mode"))


def drop_eval(df):
    return df.filter(F.col("mode") != "eval")
"""


def bucket(tmp_path: Path) -> LocalStore:
    """A local store in ``tmp_path/bucket`` (the hooks and spec live beside it, in ``tmp_path/config``)."""
    (tmp_path / "bucket").mkdir(exist_ok=True)
    return LocalStore(tmp_path / "bucket")


def make_processor(store, conn, spark, spec_path: Path | None = None, **settings) -> BatchProcessor:
    spec = load_spec(str(spec_path) if spec_path else None)
    return BatchProcessor(store, conn, lambda: spark, spec, ProcessorSettings(**settings), LAYOUT)


def file_rows(conn) -> dict[str, tuple]:
    """key -> (state, error, retry_count, records_good) of every tracked file."""
    with conn.cursor() as cur:
        cur.execute("SELECT s3_key, processing_status, error_message, retry_count, records_good "
                    "FROM file_processing_status")
        rows = {key: tuple(rest) for key, *rest in cur.fetchall()}
    conn.commit()
    return rows


def four_good_and(store: LocalStore, conn, name: str, body: bytes):
    """4 good files and one more (``POISON_KEY + name``), listed; the good files' expectation."""
    expected = generate_sample(store, files=4, records_per_file=6, include_bad_inputs=False)
    store.put_bytes(POISON_KEY + name, body)
    run_lister(store, conn)
    return expected


def assert_good_files_untouched(root: Path, conn, expected) -> None:
    """Every good file SUCCEEDED at its first attempt with all its records, published once."""
    rows = file_rows(conn)
    for key, count in expected.good_by_file.items():
        assert rows[key] == ("SUCCEEDED", None, 1, count), key
    curated = curated_rows(root)
    assert len(curated) == len(set(curated))
    assert {k: v for k, v in per_source(curated, root).items() if not k.startswith(POISON_KEY)} == \
        expected.good_by_file


@pytest.mark.parametrize(("name", "body", "state", "reason"), [
    ("truncated.jsonl.bz2", inputs.truncated(inputs.compressed(POISON_LINES, ".bz2")), "QUARANTINED",
     "unreadable bz2 file: truncated bz2 stream (unexpected end of file)"),
    ("garbage.jsonl.deflate", inputs.GARBAGE, "QUARANTINED", "unreadable deflate file: corrupt deflate data: "),
    ("garbage.jsonl.lz4", inputs.GARBAGE, "QUARANTINED", "unreadable lz4 file: "),
    ("garbage.jsonl.zst", inputs.GARBAGE, "QUARANTINED", "unreadable zstd file: "),
    ("valid.jsonl.zst", inputs.compressed(POISON_LINES, ".zst"), "QUARANTINED",
     "unsupported compression codec .zst: this Spark cannot decompress it (java.lang.RuntimeException: native "
     "zStandard library not available"),
])
def test_a_poison_file_ends_alone_and_its_batch_mates_succeed(tmp_path, db_conn, spark, name, body, state, reason):
    store = LocalStore(tmp_path)
    expected = four_good_and(store, db_conn, name, body)
    reports = make_processor(store, db_conn, spark, batch_size=100).drain()
    assert len(reports) == 1 and reports[0].files == {"SUCCEEDED": 4, state: 1}
    poison_state, error, attempts, _good = file_rows(db_conn)[POISON_KEY + name]
    assert (poison_state, attempts) == (state, 1) and error.startswith(reason)
    assert_good_files_untouched(tmp_path, db_conn, expected)


def test_a_hook_failing_on_one_files_records_is_narrowed_to_that_file(tmp_path, db_conn, spark):
    store = bucket(tmp_path)
    expected = four_good_and(store, db_conn, ".jsonl", POISON_LINES)
    spec = write_spec(tmp_path / "config", HOOKS, "null_mode_for_poison")
    (report,) = make_processor(store, db_conn, spark, spec, batch_size=100, max_attempts=1).run_once()
    assert report.files == {"SUCCEEDED": 4, "QUARANTINED": 1}
    state, error, attempts, _good = file_rows(db_conn)[POISON_KEY + ".jsonl"]
    assert (state, attempts) == ("QUARANTINED", 1)
    assert error.startswith("gave up after 1 attempts: conversion fails on this file alone: "
                            "java.lang.RuntimeException: the transform hook ")
    assert error.endswith("hooks.py:null_mode_for_poison produced a null or unsafe 'mode' partition value")
    assert_good_files_untouched(tmp_path / "bucket", db_conn, expected)


def test_three_bad_files_at_the_front_of_a_batch_are_charged_and_the_others_converted(tmp_path, db_conn, spark):
    """Case 3 of "Data safety, second round": depth-first bisection found the three bad files at the front (the same
    cause) before any good half was tried, decided no file was to blame, and gave the batch back: every run, for
    ever (exit 3, the good files never tried, the bad ones never charged)."""
    store = bucket(tmp_path)
    expected = generate_sample(store, files=13, records_per_file=3, include_bad_inputs=False)
    poison = [f"raw-json-data/2024/week00/poison-{i}.jsonl" for i in range(3)]  # claimed first (key order)
    for key in poison:
        store.put_bytes(key, POISON_LINES)
    run_lister(store, db_conn)
    spec = write_spec(tmp_path / "config", HOOKS, "null_mode_for_poison")
    (report,) = make_processor(store, db_conn, spark, spec, batch_size=16).run_once()
    assert report.files == {"SUCCEEDED": 13, "FAILED": 3}
    rows = file_rows(db_conn)
    for key in poison:
        state, error, attempts, _good = rows[key]
        assert (state, attempts) == ("FAILED", 1) and error.startswith("conversion fails on this file alone: ")
    assert_good_files_untouched(tmp_path / "bucket", db_conn, expected)


def test_a_file_spark_fails_to_read_is_narrowed_to_itself_with_the_java_root_cause(tmp_path, db_conn, spark,
                                                                                   monkeypatch):
    monkeypatch.setattr(precheck, "intended_codec_suffix", lambda key: None)  # as if the pre-check let it through
    store = LocalStore(tmp_path)
    expected = four_good_and(store, db_conn, ".jsonl.deflate", inputs.GARBAGE)
    (report,) = make_processor(store, db_conn, spark, batch_size=100).run_once()
    assert report.files == {"SUCCEEDED": 4, "FAILED": 1}
    state, error, attempts, _good = file_rows(db_conn)[POISON_KEY + ".jsonl.deflate"]
    assert (state, attempts) == ("FAILED", 1)
    assert error == "conversion fails on this file alone: java.io.IOException: incorrect header check"
    assert_good_files_untouched(tmp_path, db_conn, expected)


def assert_no_file_charged(conn, keys, cause: str) -> None:
    """No file has an outcome or an attempt counted: the run gave its batch back, recording the root cause."""
    rows = file_rows(conn)
    assert set(rows) == set(keys)
    assert {(state, attempts) for state, _e, attempts, _g in rows.values()} == {("PENDING", 0)}
    with conn.cursor() as cur:
        cur.execute("SELECT state, error_message FROM processing_batches")
        ((state, error),) = cur.fetchall()
    conn.commit()
    assert state == "ABANDONED" and cause in error


def test_a_hook_that_raises_for_every_record_stops_the_run_with_exit_3(tmp_path, db_url, db_conn, spark, capsys):
    from runtime.cli import main

    store = bucket(tmp_path)
    expected = generate_sample(store, files=5, records_per_file=4, include_bad_inputs=False)
    run_lister(store, db_conn)
    spec = write_spec(tmp_path / "config", HOOKS, "model_service_down")
    status = main(["process", "--store", str(tmp_path / "bucket"), "--db", db_url, "--no-metrics", "--drain",
                   "--transform-spec", str(spec)])
    assert status == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("error: run stopped: every file tried fails the same way")
    assert "PythonException: ValueError: the feature service is down" in lines[-1]
    assert_no_file_charged(db_conn, expected.files, "PythonException: ValueError: the feature service is down")
    assert curated_rows(tmp_path / "bucket") == []


def test_unwritable_staging_stops_the_run_with_the_java_root_cause(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=3, records_per_file=4, include_bad_inputs=False)
    run_lister(store, db_conn)
    store.put_bytes(LAYOUT.staging_prefix.rstrip("/"), b"a file where the staging folder should be")
    with pytest.raises(RunStopped) as stopped:
        make_processor(store, db_conn, spark, batch_size=100).drain()
    assert stopped.value.cause.startswith("org.apache.hadoop.fs.ParentNotDirectoryException: ")
    assert "the conversion fails without any file" in str(stopped.value)
    assert_no_file_charged(db_conn, expected.files, "org.apache.hadoop.fs.ParentNotDirectoryException: ")


ODD_NAMES = {
    "X.JSONL.GZ": inputs.compressed(inputs.good_lines(3, 300), ".GZ"),
    "_name.jsonl": inputs.good_lines(4, 310),
    ".name.jsonl": inputs.good_lines(2, 320),
    "_upper.json.BZ2": inputs.compressed(inputs.json_array(3, 330), ".bz2"),
    "copy.jsonl._COPYING_": inputs.good_lines(1, 340),
    "block.jsonl.lz4": inputs.compressed(inputs.good_lines(5, 350), ".lz4"),
}


def test_hidden_looking_and_upper_case_names_convert_like_any_file(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    for name, body in ODD_NAMES.items():
        store.put_bytes(f"raw-json-data/2024/week03/{name}", body)
    run_lister(store, db_conn)
    (report,) = make_processor(store, db_conn, spark, batch_size=100).run_once()
    assert report.files == {"SUCCEEDED": len(ODD_NAMES)}
    by_source = per_source(curated_rows(tmp_path), tmp_path)
    assert by_source == {f"raw-json-data/2024/week03/{name}": count for name, count in
                         zip(ODD_NAMES, (3, 4, 2, 3, 1, 5), strict=True)}  # lineage names the raw key, not the alias
    assert all((tmp_path / LAYOUT.archived_key(f"raw-json-data/2024/week03/{name}")).exists() for name in ODD_NAMES)
    assert not list((tmp_path / LAYOUT.staging_prefix).rglob("*.*"))


def test_hidden_looking_and_upper_case_names_convert_on_s3(s3_store, db_conn, spark):
    for name in ("X.JSONL.GZ", "_name.jsonl"):
        s3_store.put_bytes(f"raw-json-data/2024/week03/{name}", ODD_NAMES[name])
    run_lister(s3_store, db_conn)
    (report,) = make_processor(s3_store, db_conn, spark).run_once()
    assert report.files == {"SUCCEEDED": 2} and report.records_good == 7


def test_rows_with_a_null_etag_convert_and_archive_the_version_read(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=3, records_per_file=5, include_bad_inputs=False)
    run_lister(store, db_conn)
    with db_conn.cursor() as cur:  # as the reference schema registers them
        cur.execute("UPDATE file_processing_status SET etag = NULL")
    db_conn.commit()
    (report,) = make_processor(store, db_conn, spark, batch_size=100).run_once()
    assert report.files == {"SUCCEEDED": 3}
    assert states(db_conn) == expected.files
    assert all((tmp_path / LAYOUT.archived_key(key)).exists() for key in expected.files)
    assert dict(per_source(curated_rows(tmp_path), tmp_path)) == expected.good_by_file


def test_records_good_counts_what_the_hook_wrote(tmp_path, db_conn, spark):
    store = bucket(tmp_path)
    generate_sample(store, files=3, records_per_file=9, include_bad_inputs=False)
    run_lister(store, db_conn)
    spec = write_spec(tmp_path / "config", HOOKS, "drop_eval")
    (report,) = make_processor(store, db_conn, spark, spec, batch_size=100).run_once()
    written = Counter(per_source(curated_rows(tmp_path / "bucket"), tmp_path / "bucket"))
    assert 0 < sum(written.values()) < 27  # the hook dropped the eval records
    assert report.records_good == sum(written.values())
    assert {key: good for key, (_s, _e, _a, good) in file_rows(db_conn).items()} == dict(written)


def test_a_date_before_the_gregorian_calendar_is_written_not_a_batch_failure(tmp_path, db_conn, spark):
    """Spark 3.5 refuses by default to write Parquet dates before 1582-10-15 (EXCEPTION rebase mode), but only when
    it writes: every dry run converted, and a batch holding a typo year failed again on every run. The session
    writes such dates as they are (CORRECTED)."""
    store = bucket(tmp_path)
    key = "raw-json-data/2024/week01/typo-year.jsonl"
    store.put_bytes(key, b'{"id": "t1", "DATE": "1500-01-05", "MODE": "train"}\n'
                         b'{"id": "t2", "DATE": "2024-01-05", "MODE": "train"}\n')
    run_lister(store, db_conn)
    (report,) = make_processor(store, db_conn, spark).run_once()
    assert report.files == {"SUCCEEDED": 1}
    assert sorted(row[0] for row in curated_rows(tmp_path / "bucket")) == ["t1", "t2"]
