"""The operator commands (``mldp status``, ``inspect``, ``requeue``, ``release``) against a real PostgreSQL.

Batches are claimed and their outcomes recorded with the runtime's own tracking store
(:class:`runtime.db.tracking.TrackingStore`), so the tracking tables look exactly as the processor leaves them;
the end-to-end test at the bottom runs the real pipeline.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
import uuid
from collections import Counter

import psycopg2
import pyarrow.parquet as pq
import pytest

from runtime.cli import main
from runtime.db import queries
from runtime.db.records import FileOutcome
from runtime.db.states import BatchState
from runtime.db.tracking import TrackingStore
from runtime.jobs.lister import run_lister
from runtime.jobs.retry import RetryPolicy
from runtime.layout import Layout
from runtime.operator.requeue import Selection
from runtime.operator.timewindow import parse_time
from runtime.sample_data import generate_sample
from runtime.storage.local import LocalStore
from tests.support.sql import files_by_key

WEEK = "raw-json-data/2024/week01/"


# --- helpers --------------------------------------------------------------------------------------------------


def put(store: LocalStore, name: str, size: int, prefix: str = WEEK) -> str:
    key = prefix + name
    store.put_bytes(key, b"x" * size)
    return key


def finish_batch(conn, outcomes: dict[str, tuple], job_run_id: str = "run-1", lease_seconds: int = 3600) -> str:
    """Claim every claimable file and record ``outcomes`` (key -> (status, error, good, bad[, dead letter])) as
    the processor does; returns the batch id. Failed files are retried after an hour."""
    batch_id = str(uuid.uuid4())
    tracking = TrackingStore(conn)
    claimed = {f.key: f.file_id for f in tracking.claim(batch_id, job_run_id, 10_000, lease_seconds)}
    assert set(claimed) == set(outcomes), "the test must give an outcome to every claimable file"
    tracking.record_outcomes(batch_id, job_run_id, [FileOutcome(claimed[k], k, *v) for k, v in outcomes.items()],
                             BatchState.COMMITTED, RetryPolicy(backoff_base_seconds=3600))
    return batch_id


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, _err = run_cli(capsys, *argv, "--json")
    assert code == 0
    return json.loads(out)


def file_rows(conn) -> dict[str, tuple]:
    """key -> (state, retry_count, error, next attempt is due now)."""
    return files_by_key(conn, "processing_status, retry_count, error_message, next_attempt_at <= now()")


def history(conn, event: str | None = None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("SELECT f.s3_key, h.event, h.processing_status, h.error_message, h.actor, h.reason "
                    "FROM file_processing_history h JOIN file_processing_status f USING (file_id) "
                    "WHERE %(event)s::text IS NULL OR h.event = %(event)s ORDER BY h.history_id", {"event": event})
        rows = cur.fetchall()
    conn.commit()
    return rows


def age_outcome(conn, key: str, hours: float) -> None:
    with conn.cursor() as cur:
        cur.execute("UPDATE file_processing_history SET recorded_at = now() - make_interval(secs => %(s)s) "
                    "WHERE file_id = (SELECT file_id FROM file_processing_status WHERE s3_key = %(k)s)",
                    {"s": hours * 3600, "k": key})
        cur.execute("UPDATE file_processing_status SET processed_at = now() - make_interval(secs => %(s)s), "
                    "updated_at = now() - make_interval(secs => %(s)s) WHERE s3_key = %(k)s",
                    {"s": hours * 3600, "k": key})
    conn.commit()


# --- status ---------------------------------------------------------------------------------------------------


@pytest.fixture
def backfill(tmp_path, db_conn):
    """Six files through one batch (3 succeeded, 1 failed, 2 quarantined), the first one's outcome 3 hours old,
    then a seventh file registered and still pending."""
    store = LocalStore(tmp_path)
    keys = {name: put(store, f"{name}.jsonl", size) for name, size in
            (("a", 100), ("b", 200), ("c", 300), ("d", 400), ("e", 500), ("f", 600))}
    run_lister(store, db_conn, show_progress=False)
    batch_id = finish_batch(db_conn, {
        keys["a"]: ("SUCCEEDED", None, 10, 1),
        keys["b"]: ("SUCCEEDED", None, 20, 0),
        keys["c"]: ("FAILED", "object vanished after listing (deleted or moved)", None, None),
        keys["d"]: ("QUARANTINED", "no good record: all 5 records malformed", 0, 5),
        keys["e"]: ("QUARANTINED", "no good record: all 7 records malformed", 0, 7),
        keys["f"]: ("SUCCEEDED", None, 30, 2),
    })
    age_outcome(db_conn, keys["a"], hours=3)
    keys["g"] = put(store, "g.jsonl", 700)
    run_lister(store, db_conn, show_progress=False)
    return store, keys, batch_id


def test_status_reports_states_backlog_throughput_batches_and_errors(backfill, db_url, capsys):
    _store, keys, batch_id = backfill
    report = run_json(capsys, "status", "--db", db_url)

    assert report["files_by_state"] == {
        "PENDING": {"files": 1, "bytes": 700}, "PROCESSING": {"files": 0, "bytes": 0},
        "SUCCEEDED": {"files": 3, "bytes": 900}, "FAILED": {"files": 1, "bytes": 300},
        "QUARANTINED": {"files": 2, "bytes": 900}, "RETIRED": {"files": 0, "bytes": 0},
    }
    assert report["total"] == {"files": 7, "bytes": 2800}
    backlog = report["backlog"]
    assert (backlog["files"], backlog["pending"], backlog["failed"], backlog["bytes"]) == (2, 1, 1, 1000)
    assert backlog["failed_due_now"] == 0 and backlog["next_retry_at"] is not None  # backoff not over yet
    assert backlog["oldest_key"] == keys["c"]
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:  # the age is measured from the state change
        cur.execute("SELECT updated_at FROM file_processing_status WHERE s3_key = %s", (keys["c"],))
        (changed_at,) = cur.fetchone()
    conn.close()
    generated_at = dt.datetime.fromisoformat(str(report["generated_at"]).replace("Z", "+00:00"))
    # reported to a tenth of a second
    assert backlog["oldest_age_seconds"] == pytest.approx((generated_at - changed_at).total_seconds(), abs=0.051)
    assert report["throughput"]["last_hour"] == {"files": 5, "succeeded": 2, "failed": 1, "quarantined": 2,
                                                 "bytes": 2000, "records_good": 50, "records_bad": 14}
    assert report["throughput"]["last_day"] == {"files": 6, "succeeded": 3, "failed": 1, "quarantined": 2,
                                                "bytes": 2100, "records_good": 60, "records_bad": 15}
    # 4 files left the backlog in the last hour (2 succeeded + 2 quarantined): 2 left take half an hour.
    assert report["eta"] == {"seconds": 1800, "files_per_hour": 4.0, "basis": "last_hour"}
    [batch] = report["recent_batches"]
    assert (batch["batch_id"], batch["glue_job_run_id"], batch["state"], batch["file_count"]) == (
        batch_id, "run-1", "COMMITTED", 6)
    assert (batch["records_good"], batch["records_bad"]) == (60, 15)
    assert batch["outcomes"] == {"SUCCEEDED": 3, "FAILED": 1, "QUARANTINED": 2}
    assert batch["outcome"] == "2 QUARANTINED, 1 FAILED"
    assert [(e["pattern"], e["files"], e["states"]) for e in report["top_errors"]] == [
        ("no good record: all N records malformed", 2, ["QUARANTINED"]),
        ("object vanished after listing (deleted or moved)", 1, ["FAILED"]),
    ]
    progress = report["in_progress"]
    assert (progress["files"], progress["recoverable_files"], progress["stuck_files"], progress["batches"]) == (
        0, 0, 0, [])


def test_status_text_is_a_readable_table(backfill, db_url, capsys):
    _store, _keys, batch_id = backfill
    code, out, _err = run_cli(capsys, "status", "--db", db_url)
    assert code == 0
    assert re.search(r"^\s+SUCCEEDED\s+3\s+900 B$", out, re.M)
    assert re.search(r"^\s+total\s+7\s+2\.7 KiB$", out, re.M)
    assert "Backlog: 2 files (1000 B): 1 pending, 1 failed awaiting retry (0 due now" in out
    assert re.search(r"^\s+last hour\s+5\s+2\s+1\s+2\s+2\.0 KiB\s+50\s+14$", out, re.M)
    assert "Time to drain: 30m00s at 4 files/h (last hour)" in out
    assert re.search(rf"^\s+{batch_id[:8]}\s+run-1\s+\S+ \S+\s+6\s+60\s+15\s+\S+\s+2 QUARANTINED, 1 FAILED$", out,
                     re.M)
    assert re.search(r"^\s+2\s+QUARANTINED\s+no good record: all N records malformed$", out, re.M)


def test_status_of_an_empty_database(db_url, capsys):
    report = run_json(capsys, "status", "--db", db_url)
    assert report["total"] == {"files": 0, "bytes": 0}
    assert report["backlog"]["files"] == 0 and report["backlog"]["oldest_key"] is None
    assert report["eta"]["seconds"] == 0
    assert report["recent_batches"] == [] and report["top_errors"] == []
    code, out, _err = run_cli(capsys, "status", "--db", db_url)
    assert code == 0 and "Last batches: none yet" in out and "no file is FAILED or QUARANTINED" in out


def test_status_shows_what_is_stuck(tmp_path, db_conn, db_url, capsys):
    store = LocalStore(tmp_path)
    put(store, "a.jsonl", 10)
    put(store, "b.jsonl", 10)
    run_lister(store, db_conn, show_progress=False)
    batch_id = str(uuid.uuid4())
    # a run that claimed a batch and died: its lease is already over
    assert len(TrackingStore(db_conn).claim(batch_id, "dead-run", batch_size=10, lease_seconds=0)) == 2

    report = run_json(capsys, "status", "--db", db_url)
    assert (report["in_progress"]["files"], report["in_progress"]["stuck_files"]) == (2, 2)
    [stuck] = report["in_progress"]["stuck_batches"]
    assert (stuck["batch_id"], stuck["glue_job_run_id"], stuck["file_count"]) == (batch_id, "dead-run", 2)
    assert (stuck["status"], stuck["why"]) == ("recoverable", "its lease expired")
    assert report["recent_batches"][0]["outcome"] == "running"
    # the files of a dead run's batch wait like the backlog's: counted in it, and in the time to drain
    assert (report["backlog"]["files"], report["backlog"]["recoverable"], report["backlog"]["bytes"]) == (2, 2, 20)
    assert report["eta"]["seconds"] is None  # nothing finished yet: unknown, not 0
    _code, out, _err = run_cli(capsys, "status", "--db", db_url)
    assert f"batch {batch_id} of run dead-run: 2 files" in out
    assert "In progress: 2 files in 1 batch: 0 running, 2 recoverable now (taken over by the next processor " \
        "run), 0 held for the operator\n" in out
    assert "recoverable now: its lease expired" in out
    assert "Backlog: 2 files (20 B)" in out and "2 in batches recoverable now" in out
    assert "Time to drain: 0s" not in out


def test_status_eta_falls_back_to_the_day_then_to_unknown(backfill, db_conn, db_url, capsys):
    _store, keys, _batch = backfill
    for key in keys.values():
        age_outcome(db_conn, key, hours=5)
    report = run_json(capsys, "status", "--db", db_url)
    # 5 files left the backlog in the last day (3 succeeded + 2 quarantined): 5/24 per hour, 2 files left.
    assert report["eta"] == {"seconds": round(2 / (5 / 24) * 3600), "files_per_hour": 0.2, "basis": "last_day"}
    for key in keys.values():
        age_outcome(db_conn, key, hours=30)
    report = run_json(capsys, "status", "--db", db_url)
    assert report["eta"]["seconds"] is None
    _code, out, _err = run_cli(capsys, "status", "--db", db_url)
    assert "Time to drain: unknown (no file finished in the last day)" in out


# --- inspect --------------------------------------------------------------------------------------------------


def test_inspect_unknown_key_exits_1_with_a_clear_message(db_url, capsys):
    code, out, err = run_cli(capsys, "inspect", "raw-json-data/nope.jsonl", "--db", db_url)
    assert code == 1 and out == ""
    assert "no tracked file has the key 'raw-json-data/nope.jsonl'" in err


def test_inspect_shows_the_whole_history_of_a_file(tmp_path, db_conn, db_url, capsys):
    store = LocalStore(tmp_path)
    key = put(store, "x.jsonl", 100)
    run_lister(store, db_conn, show_progress=False)
    first = finish_batch(db_conn, {key: ("FAILED", "object changed after listing (ETag 1 -> 2)", None, None)},
                         job_run_id="run-1")
    store.put_bytes(key, b"y" * 150)  # a new version
    run_lister(store, db_conn, show_progress=False)
    dead_letter = "error-data-lake/json_malformed_records/batch_id=b/file_id=1/"
    second = finish_batch(db_conn, {key: ("SUCCEEDED", None, 5, 1, dead_letter)}, job_run_id="run-2")
    TrackingStore(db_conn).record_archived({1: "raw-json-data-processed/x"})
    # the curated files of the second batch (named as publishing names them), and others that must not match
    curated = Layout().curated_prefix + "year=2024/month=1/day=2/mode=train/"
    mine = [f"{curated}batch-{second}-0000.snappy.parquet", f"{curated}batch-{second}-0001.snappy.parquet"]
    others = [f"{curated}batch-{first}-0000.snappy.parquet", f"{curated}batch-{uuid.uuid4()}-0000.snappy.parquet"]
    for name in mine + others:
        store.put_bytes(name, b"PAR1")

    report = run_json(capsys, "inspect", key, "--db", db_url, "--store", str(tmp_path))
    assert report["file"]["processing_status"] == "SUCCEEDED" and report["file"]["version"] == 2
    assert [(v["version"], v["last_state"], v.get("current", False)) for v in report["versions"]] == [
        (1, "FAILED", False), (2, "SUCCEEDED", True)]
    assert report["versions"][0]["etag"] != report["versions"][1]["etag"]
    assert [(a["version"], a["attempt"], a["batch_id"], a["state"]) for a in report["attempts"]] == [
        (1, 1, first, "FAILED"), (2, 1, second, "SUCCEEDED")]
    assert [h["event"] for h in report["history"]] == ["OUTCOME", "NEW_VERSION", "OUTCOME"]
    assert [b["batch_id"] for b in report["batches"]] == [first, second]
    assert report["job_runs"] == ["run-1", "run-2"]
    assert report["errors"] == [{"recorded_at": report["attempts"][0]["recorded_at"], "version": 1, "attempt": 1,
                                 "state": "FAILED", "error": "object changed after listing (ETag 1 -> 2)"}]
    assert report["dead_letter_paths"] == [dead_letter]
    assert report["archived_key"] == "raw-json-data-processed/x"
    assert report["curated"]["batch_ids"] == [second]
    assert sorted(f["key"] for f in report["curated"]["files"]) == mine

    code, out, _err = run_cli(capsys, "inspect", key, "--db", db_url)
    assert code == 0
    assert out.startswith(f"{key}  (file_id 1)\n  state         SUCCEEDED\n")
    assert re.search(r"^\s+2\s+\S+\s+SUCCEEDED\s+\S+ \S+\s+current$", out, re.M)
    assert f"batch-{second}-*.snappy.parquet" in out and "give --store to list them" in out
    # an s3:// URL and the archived key name the same file
    assert run_json(capsys, "inspect", f"s3://bucket/{key}", "--db", db_url)["file"]["file_id"] == 1
    assert run_json(capsys, "inspect", "raw-json-data-processed/x", "--db", db_url)["file"]["s3_key"] == key


# --- requeue / release ----------------------------------------------------------------------------------------


@pytest.fixture
def troubled(tmp_path, db_conn):
    """week01/a FAILED (2 days ago), week01/b and week02/c QUARANTINED (now), week02/d SUCCEEDED, week02/e PENDING."""
    store = LocalStore(tmp_path)
    keys = {n: put(store, f"{n}.jsonl", 10, prefix=f"raw-json-data/2024/{p}/") for p, n in
            (("week01", "a"), ("week01", "b"), ("week02", "c"), ("week02", "d"))}
    run_lister(store, db_conn, show_progress=False)
    finish_batch(db_conn, {
        keys["a"]: ("FAILED", "object vanished after listing (deleted or moved)", None, None),
        keys["b"]: ("QUARANTINED", "zero-byte file", 0, 0),
        keys["c"]: ("QUARANTINED", "unreadable gzip file: truncated gzip stream", 0, 0),
        keys["d"]: ("SUCCEEDED", None, 3, 0),
    })
    age_outcome(db_conn, keys["a"], hours=48)
    keys["e"] = put(store, "e.jsonl", 10, prefix="raw-json-data/2024/week02/")
    run_lister(store, db_conn, show_progress=False)
    return keys


@pytest.mark.parametrize(("filters", "expected"), [
    ((), ["a", "b", "c"]),
    (("--prefix", "raw-json-data/2024/week01/"), ["a", "b"]),
    (("--error-contains", "GZIP"), ["c"]),
    (("--state", "failed"), ["a"]),
    (("--state", "QUARANTINED", "--prefix", "raw-json-data/2024/week02/"), ["c"]),
    (("--since", "24h"), ["b", "c"]),
    (("--until", "24h"), ["a"]),
    (("--limit", "2"), ["a", "b"]),
])
def test_requeue_dry_run_selects_by_filters_and_changes_nothing(troubled, db_conn, db_url, capsys, filters,
                                                                expected):
    before = file_rows(db_conn)
    result = run_json(capsys, "requeue", "--db", db_url, "--reason", "why", "--dry-run", *filters)
    assert result["dry_run"] is True
    assert result["count"] == len(expected)
    assert result["keys"] == [troubled[n] for n in expected]
    assert file_rows(db_conn) == before and history(db_conn, "REQUEUED") == []


def test_requeue_moves_files_to_pending_and_records_who_and_why(troubled, db_conn, db_url, capsys):
    before = file_rows(db_conn)
    result = run_json(capsys, "requeue", "--db", db_url, "--prefix", "raw-json-data/2024/week02/", "--reason",
                      "gzip writer fixed upstream", "--actor", "alice")
    assert (result["count"], result["keys"], result["actor"]) == (1, [troubled["c"]], "alice")
    after = file_rows(db_conn)
    assert after[troubled["c"]] == ("PENDING", 0, None, True)  # attempts reset, claimable now, error cleared
    assert {k: v for k, v in after.items() if k != troubled["c"]} == {
        k: v for k, v in before.items() if k != troubled["c"]}
    assert history(db_conn, "REQUEUED") == [
        (troubled["c"], "REQUEUED", "QUARANTINED", "unreadable gzip file: truncated gzip stream", "alice",
         "gzip writer fixed upstream")]
    with db_conn.cursor() as cur:  # the processor claims it again
        cur.execute(queries.CLAIM_BATCH, {"batch_id": str(uuid.uuid4()), "job_run_id": "r", "batch_size": 10,
                                          "lease_seconds": 60})
        claimed = {row[1] for row in cur.fetchall()}
    db_conn.rollback()
    assert troubled["c"] in claimed


def test_requeue_prints_the_count_and_the_first_keys(troubled, db_url, capsys):
    code, out, _err = run_cli(capsys, "requeue", "--db", db_url, "--reason", "retry all", "--actor", "bob",
                              "--show", "2")
    assert code == 0
    assert out.splitlines() == [
        "requeued 3 files -> PENDING (attempts reset; recorded as REQUEUED by bob: retry all)",
        f"  {troubled['a']}", f"  {troubled['b']}", "  ... and 1 more"]
    code, out, _err = run_cli(capsys, "requeue", "--db", db_url, "--reason", "again")
    assert code == 0 and out.startswith("requeued 0 files")


def test_requeue_actor_defaults_to_env_then_os_user(troubled, db_conn, db_url, capsys, monkeypatch):
    monkeypatch.setenv("MLDP_ACTOR", "ops-bot")
    assert run_json(capsys, "requeue", "--db", db_url, "--reason", "r", "--state", "FAILED")["actor"] == "ops-bot"
    monkeypatch.delenv("MLDP_ACTOR")
    run_json(capsys, "requeue", "--db", db_url, "--reason", "r", "--prefix", "raw-json-data/2024/week01/")
    assert [row[4] for row in history(db_conn, "REQUEUED")] == ["ops-bot", getpass.getuser()]


def test_requeue_refuses_without_reason_or_for_other_states(db_url, capsys):
    with pytest.raises(SystemExit) as missing_reason:
        main(["requeue", "--db", db_url])
    assert missing_reason.value.code == 2
    with pytest.raises(SystemExit) as bad_state:
        main(["requeue", "--db", db_url, "--reason", "r", "--state", "SUCCEEDED"])
    assert bad_state.value.code == 2
    with pytest.raises(ValueError, match="only FAILED, QUARANTINED or RETIRED"):
        Selection(states=("SUCCEEDED",))
    code, _out, err = run_cli(capsys, "requeue", "--db", db_url, "--reason", " ", "--dry-run")
    assert code == 2 and "--reason is required" in err
    code, _out, err = run_cli(capsys, "requeue", "--db", db_url, "--reason", "r", "--since", "yesterday")
    assert code == 2 and "cannot read the time 'yesterday'" in err


def test_release_moves_the_given_keys_and_records_it(troubled, db_conn, db_url, capsys):
    result = run_json(capsys, "release", troubled["a"], troubled["b"], "--db", db_url, "--reason", "checked by hand",
                      "--actor", "carol")
    assert (result["event"], result["count"], sorted(result["keys"])) == (
        "RELEASED", 2, sorted([troubled["a"], troubled["b"]]))
    rows = file_rows(db_conn)
    assert rows[troubled["a"]][:2] == ("PENDING", 0) and rows[troubled["b"]][:2] == ("PENDING", 0)
    assert [(r[0], r[2], r[4], r[5]) for r in history(db_conn, "RELEASED")] == [
        (troubled["a"], "FAILED", "carol", "checked by hand"), (troubled["b"], "QUARANTINED", "carol",
                                                               "checked by hand")]


def test_release_is_all_or_nothing(troubled, db_conn, db_url, capsys):
    before = file_rows(db_conn)
    code, out, _err = run_cli(capsys, "release", troubled["c"], troubled["d"], "raw-json-data/unknown.jsonl",
                              "--db", db_url, "--reason", "r")
    assert code == 1
    assert out.splitlines() == [
        "nothing released: only FAILED or QUARANTINED files can be released, all or none",
        f"  {troubled['d']}: is SUCCEEDED", "  raw-json-data/unknown.jsonl: not tracked"]
    assert file_rows(db_conn) == before and history(db_conn, "RELEASED") == []
    dry = run_json(capsys, "release", troubled["c"], "--db", db_url, "--reason", "r", "--dry-run")
    assert (dry["dry_run"], dry["count"]) == (True, 1) and file_rows(db_conn) == before


def test_parse_time_reads_iso_and_relative_times():
    now = dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.UTC)
    assert parse_time("24h", now) == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_time("90m", now) == dt.datetime(2024, 5, 2, 10, 30, tzinfo=dt.UTC)
    assert parse_time("2w", now) == dt.datetime(2024, 4, 18, 12, 0, tzinfo=dt.UTC)
    assert parse_time("2024-05-01", now) == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    assert parse_time("2024-05-01T10:00:00Z", now) == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    assert parse_time("2024-05-01T12:00:00+02:00", now) == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="24h"):
        parse_time("last tuesday", now)


# --- end to end -----------------------------------------------------------------------------------------------


@pytest.mark.spark
def test_operator_commands_on_a_real_pipeline_run(tmp_path, db_url, spark, capsys, monkeypatch):
    monkeypatch.delenv("MLDP_ACTOR", raising=False)
    store = LocalStore(tmp_path)
    expected = generate_sample(store, files=2, records_per_file=10,
                               include_bad_inputs=["malformed-line-among-good.jsonl", "zero-byte.jsonl"])
    job = ["--store", str(tmp_path), "--db", db_url, "--no-metrics"]
    assert main(["list", *job]) == 0 and main(["process", *job, "--drain", "--batch-size", "10"]) == 0
    capsys.readouterr()

    status = run_json(capsys, "status", "--db", db_url)
    by_state = Counter(expected.files.values())
    assert {s: v["files"] for s, v in status["files_by_state"].items() if v["files"]} == dict(by_state)
    hour = status["throughput"]["last_hour"]
    assert (hour["records_good"], hour["records_bad"]) == (expected.good_records, expected.bad_records)
    assert [(e["pattern"], e["files"]) for e in status["top_errors"]] == [("zero-byte file", 1)]

    # every row of a succeeded file is in the curated files inspect lists
    mixed = next(k for k in expected.files if k.endswith("malformed-line-among-good.jsonl"))
    report = run_json(capsys, "inspect", mixed, "--db", db_url, "--store", str(tmp_path))
    lineage = f"{store.url.rstrip('/')}/{mixed}"
    rows = sum(pq.read_table(tmp_path / f["key"]).column("source_s3_path").to_pylist().count(lineage)
               for f in report["curated"]["files"])
    assert rows == expected.good_by_file[mixed] and report["file"]["records_good"] == rows
    [dead_letter] = report["dead_letter_paths"]
    assert list(store.list(dead_letter)), "the dead-letter path inspect shows holds the file's bad records"
    assert report["archived_key"] and store.exists(report["archived_key"])

    # requeue the quarantined file: the next run processes it again and quarantines it again, attempts reset
    result = run_json(capsys, "requeue", "--db", db_url, "--error-contains", "zero-byte", "--reason", "retry")
    [zero] = result["keys"]
    assert main(["process", *job, "--drain"]) == 0
    capsys.readouterr()
    report = run_json(capsys, "inspect", zero, "--db", db_url)
    assert [h["event"] for h in report["history"]] == ["OUTCOME", "REQUEUED", "OUTCOME"]
    assert report["file"]["processing_status"] == "QUARANTINED" and report["file"]["retry_count"] == 1
    conn = psycopg2.connect(db_url)
    try:
        assert history(conn, "REQUEUED")[0][1:] == ("REQUEUED", "QUARANTINED", "zero-byte file", getpass.getuser(),
                                                    "retry")
    finally:
        conn.close()
