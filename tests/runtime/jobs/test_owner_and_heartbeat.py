"""Leases and owners against the real PostgreSQL: a batch records the process that owns it, a batch whose owner is
provably gone (its process ended; its Glue job run is over) is recovered at once, a live one never is; the run-wide
heartbeat renews every batch of a run; a run that stops on an error gives its batch back without charging an
attempt; each batch is recovered on its own and one whose recovery keeps failing is held for the operator;
``mldp status`` shows it (``test_operator_recover.py``: status and ``mldp recover``). No Spark."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from platform_contract import defaults
from runtime.cli import main
from runtime.db.records import FileOutcome, Owner
from runtime.db.states import BatchState, FileState
from runtime.db.tracking import LeaseLost, TrackingStore
from runtime.jobs.heartbeat import RunHeartbeat, heartbeat_interval
from runtime.jobs.owner import (
    OwnerProbe,
    current_owner,
    glue_job_name,
    live_run,
    process_identity,
    recoverability,
)
from runtime.jobs.recovery import MAX_RECOVERY_TRIES
from runtime.jobs.retry import RetryPolicy
from runtime.jobs.settings import ProcessorSettings
from runtime.layout import Layout
from runtime.operator.status import build_status
from runtime.storage.local import LocalStore
from tests.support.leases import (
    GLUE_OWNER,
    claim,
    dead_owner,
    files,
    glue_client,
    one,
    processor,
    register,
    run_json,
)

# --- the owner ------------------------------------------------------------------------------------------------


def test_a_claim_records_the_process_that_owns_the_batch(db_conn):
    register(db_conn, "a.json")
    owner = current_owner("run-1", argv=["script.py", "--JOB_NAME", "JsonToParquetBatchProcessor-dev"])
    batch = claim(db_conn, owner)
    row = one(db_conn, "SELECT glue_job_run_id, owner_host, owner_pid, owner_node, owner_glue_job, "
                       "heartbeat_at IS NOT NULL FROM processing_batches WHERE batch_id = %(b)s", {"b": batch})
    assert row == ("run-1", socket.gethostname(), owner.pid, process_identity(owner.pid),
                   "JsonToParquetBatchProcessor-dev", True)
    assert glue_job_name(["x.py", "--JOB_NAME=j"]) == "j" and glue_job_name(["x.py"]) is None


def test_a_local_owner_is_gone_once_its_process_ended_and_never_while_it_runs():
    probe = OwnerProbe(cache_seconds=0)
    me = current_owner("live")
    with live_run("live"):
        verdict = probe.check(me)
        assert not verdict.gone and verdict.alive
    # a run of this very process that ended (crashed, or returned without giving its batch back) holds nothing
    ended = probe.check(me)
    assert ended.gone and not ended.alive and "its run ended in this process" in ended.why
    dead = dead_owner()
    verdict = probe.check(dead)
    assert verdict.gone and f"pid {dead.pid}" in verdict.why
    # the same pid started at another time is another process: the owner is gone
    reused = Owner("old", me.host, me.pid, me.node.rsplit("/", 1)[0] + "/1", None)
    assert probe.check(reused).gone
    # a process of another node (boot or pid namespace) cannot be judged from here: the lease decides
    elsewhere = Owner("far", "other-host", me.pid, "another-boot/pid:[1]/5", None)
    assert not probe.check(elsewhere).gone and "lease decides" in probe.check(elsewhere).why
    assert not probe.check(Owner("legacy")).gone  # a batch claimed before owners were recorded


def test_a_killed_but_unreaped_process_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    owner = Owner("zombie-run", socket.gethostname(), child.pid, process_identity(child.pid), None)
    probe = OwnerProbe(cache_seconds=0)
    assert not probe.check(owner).gone
    child.kill()
    deadline = time.monotonic() + 10  # bounded poll: the kernel makes it a zombie, nobody has reaped it yet
    while process_identity(child.pid) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert probe.check(owner).gone
    child.wait()


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"])
def test_a_glue_owner_is_gone_once_its_job_run_ended(state):
    verdict = OwnerProbe(glue_client=lambda: glue_client([state])).check(GLUE_OWNER)
    assert verdict == type(verdict)(True, f"its Glue job run is {state}")


def test_a_running_or_uncheckable_glue_owner_is_not_gone_and_alive_verdicts_are_rechecked():
    now = [0.0]
    probe = OwnerProbe(glue_client=lambda: glue_client(["RUNNING", "STOPPED"]), cache_seconds=30,
                       clock=lambda: now[0])
    assert probe.check(GLUE_OWNER).why == "its Glue job run is RUNNING"
    now[0] = 29.0
    assert not probe.check(GLUE_OWNER).gone  # cached: no second call
    now[0] = 31.0
    assert probe.check(GLUE_OWNER).gone  # asked again: STOPPED
    denied = OwnerProbe(glue_client=lambda: glue_client(error="AccessDeniedException")).check(GLUE_OWNER)
    assert not denied.gone and "AccessDeniedException" in denied.why


# --- recovery of gone owners -----------------------------------------------------------------------------------


def test_the_batch_of_a_dead_process_is_recovered_at_once_a_live_ones_never(tmp_path, db_conn):
    keys = register(db_conn, "dead.json", "live.json")
    dead_batch = claim(db_conn, dead_owner(), batch_size=1)  # lease of an hour, owner gone
    live_batch = claim(db_conn, current_owner("live-run"), batch_size=1)  # a live run of this process
    rescuer = processor(LocalStore(tmp_path), db_conn)
    with live_run("live-run"):
        reports = rescuer.recover_expired()  # abandoned (no manifest): reported as such, its one file charged
    assert [(r.batch_id, r.abandoned, r.files) for r in reports] == [(dead_batch, True, {"FAILED": 1})]
    states = dict(one(db_conn, "SELECT json_object_agg(batch_id, state) FROM processing_batches")[0])
    assert states == {dead_batch: "ABANDONED", live_batch: "CLAIMED"}
    assert files(db_conn) == {keys[0]: ("FAILED", 1, False), keys[1]: ("PROCESSING", 1, True)}


def test_the_batch_of_an_ended_glue_run_is_recovered_at_once(tmp_path, db_conn):
    register(db_conn, "a.json")
    batch = claim(db_conn, GLUE_OWNER)
    running = OwnerProbe(glue_client=lambda: glue_client(["RUNNING"]))
    processor(LocalStore(tmp_path), db_conn, running).recover_expired()
    assert one(db_conn, "SELECT state FROM processing_batches")[0] == "CLAIMED"
    failed = OwnerProbe(glue_client=lambda: glue_client(["FAILED"]))
    processor(LocalStore(tmp_path), db_conn, failed).recover_expired()
    assert one(db_conn, "SELECT state, error_message FROM processing_batches WHERE batch_id = %(b)s",
               {"b": batch})[0] == "ABANDONED"


def test_the_commit_is_fenced_a_run_whose_batch_was_taken_over_records_nothing(db_conn):
    """The commit-time fence (README, step 7): recording outcomes for a batch that is no longer this run's raises
    LeaseLost and changes nothing, even when the old run got past its own lease checks."""
    from runtime.db.records import FileOutcome
    from runtime.db.states import BatchState, FileState
    from runtime.jobs.retry import RetryPolicy

    register(db_conn, "a.json", "b.json")
    owner = dead_owner("old-run")
    batch = claim(db_conn, owner)
    files = TrackingStore(db_conn, owner).batch_files(batch)
    taker = TrackingStore(db_conn, current_owner("new-run"))
    [open_batch] = taker.open_batches()
    assert taker.take_over(open_batch, "new-run", 600, owner_gone=True)
    before = one(db_conn, "SELECT array_agg(processing_status || ':' || retry_count ORDER BY file_id) "
                          "FROM file_processing_status")
    outcomes = [FileOutcome(f.file_id, f.key, FileState.SUCCEEDED, None, 1, 0) for f in files]
    with pytest.raises(LeaseLost):
        TrackingStore(db_conn, owner).record_outcomes(batch, "old-run", outcomes, BatchState.COMMITTED,
                                                      RetryPolicy())
    assert one(db_conn, "SELECT array_agg(processing_status || ':' || retry_count ORDER BY file_id) "
                        "FROM file_processing_status") == before
    assert one(db_conn, "SELECT state FROM processing_batches")[0] == "CLAIMED"


def test_a_taken_over_batch_is_fenced_from_its_old_owner(db_conn):
    register(db_conn, "a.json")
    owner = dead_owner("old-run")
    batch = claim(db_conn, owner)
    store = TrackingStore(db_conn, current_owner("new-run"))
    [open_batch] = store.open_batches()
    assert not store.take_over(open_batch, "new-run", 600, owner_gone=False)  # lease valid, owner not proved gone
    assert store.take_over(open_batch, "new-run", 600, owner_gone=True)
    assert not store.take_over(open_batch, "third-run", 600, owner_gone=True)  # it changed: compare-and-set
    with pytest.raises(LeaseLost):
        store.ensure_lease(batch, "old-run", 600)


# --- the run-wide heartbeat ---------------------------------------------------------------------------------------


def test_the_heartbeat_renews_every_batch_of_its_run_and_nothing_else(db_conn, db_url):
    register(db_conn, "a.json", "b.json", "c.json")
    mine = [claim(db_conn, Owner("run-1"), lease_seconds=0, batch_size=1) for _ in range(2)]
    other = claim(db_conn, Owner("run-2"), lease_seconds=0, batch_size=1)
    TrackingStore(db_conn).hand_back(mine[1], "run-1", "stopping")
    heartbeat = RunHeartbeat(lambda: psycopg2.connect(db_url), "run-1", lease_seconds=600, interval=0.05)
    assert heartbeat_interval(300) == 60 and heartbeat.beat(TrackingStore(db_conn)) == [mine[0]]
    with heartbeat:  # the thread, on its own connection: bounded wait for its first renewal
        deadline = time.monotonic() + 30
        while heartbeat.renewals < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert heartbeat.renewals >= 2
    leases = dict(one(db_conn, "SELECT json_object_agg(batch_id, lease_expires_at > now() + interval '5 min') "
                               "FROM processing_batches")[0])
    assert leases == {mine[0]: True, mine[1]: False, other: False}
    assert one(db_conn, "SELECT count(*) FROM file_processing_status WHERE lease_expires_at > now() + "
                        "interval '5 min'")[0] == 1


def test_the_run_renews_its_lease_from_the_claim_on_not_only_during_the_conversion(tmp_path, db_conn, db_url):
    register(db_conn, "a.json")
    renewed_before_conversion = []

    def after_claim(name: str) -> None:
        if name != "after_claim":
            return
        deadline = time.monotonic() + 30  # bounded wait for a heartbeat renewal before any Spark work
        while time.monotonic() < deadline:
            row = one(db_conn, "SELECT heartbeat_at > claimed_at FROM processing_batches")
            if row[0]:
                renewed_before_conversion.append(True)
                break
            time.sleep(0.01)
        raise RuntimeError("stop here")

    run = processor(LocalStore(tmp_path), db_conn, checkpoint=after_claim)
    run.heartbeat_connect, run.heartbeat_interval = lambda: psycopg2.connect(db_url), 0.05
    with pytest.raises(RuntimeError, match="stop here"):
        run.run_once()
    assert renewed_before_conversion == [True]


# --- a run that stops on its own error ------------------------------------------------------------------------


def test_a_run_stopping_on_an_error_gives_its_batch_back_without_charging_an_attempt(tmp_path, db_conn):
    keys = register(db_conn, "a.json", "b.json")
    with db_conn.cursor() as cur:  # b had failed once before: it goes back to FAILED, its one attempt kept
        cur.execute("UPDATE file_processing_status SET processing_status = 'FAILED', retry_count = 1, "
                    "error_message = 'vanished' WHERE s3_key = %s", (keys[1],))
    db_conn.commit()

    def unwritable(name: str) -> None:
        if name == "after_claim":
            raise PermissionError("staging is not writable")

    with pytest.raises(PermissionError):
        processor(LocalStore(tmp_path), db_conn, checkpoint=unwritable).run_once()
    assert files(db_conn) == {keys[0]: ("PENDING", 0, True), keys[1]: ("FAILED", 1, True)}
    state, error = one(db_conn, "SELECT state, error_message FROM processing_batches")
    assert state == "ABANDONED" and error == "released: run stopped by PermissionError: staging is not writable"
    assert one(db_conn, "SELECT array_agg(event ORDER BY file_id) FROM file_processing_history")[0] == [
        "UNCLAIMED", "UNCLAIMED"]
    assert one(db_conn, "SELECT count(*) FROM file_processing_history WHERE event = 'OUTCOME'")[0] == 0


def test_the_store_releases_only_its_own_batch(db_conn):
    register(db_conn, "a.json")
    batch = claim(db_conn, Owner("run-1"))
    store = TrackingStore(db_conn)
    assert store.release(batch, "run-2", "not mine", RetryPolicy()) is None
    assert not store.hand_back(batch, "run-2", "no")
    assert store.release(batch, "run-1", "stop", RetryPolicy()) == 1


# --- recovery isolation -----------------------------------------------------------------------------------------


def stage_unreadable_manifest(store: LocalStore, batch_id: str) -> None:
    store.put_bytes(f"{Layout().staging_prefix}{batch_id}/_MANIFEST.json", b'{"batch_id": "trunc')


def test_each_batch_is_recovered_on_its_own_and_a_failing_one_is_held_after_bounded_tries(tmp_path, db_conn,
                                                                                      db_url, capsys):
    store = LocalStore(tmp_path)
    keys = register(db_conn, "bad.json", "good.json")
    bad = claim(db_conn, Owner("dead-1"), lease_seconds=0, batch_size=1)
    good = claim(db_conn, Owner("dead-2"), lease_seconds=0, batch_size=1)
    stage_unreadable_manifest(store, bad)

    first = processor(store, db_conn)
    first.recover_expired()  # the bad batch does not stop the good one
    assert files(db_conn)[keys[1]][0] == "FAILED"
    assert one(db_conn, "SELECT state FROM processing_batches WHERE batch_id = %(b)s", {"b": good}) == ("ABANDONED",)
    first.recover_expired()  # not tried again by the same run
    assert one(db_conn, "SELECT recovery_attempts, held_at IS NULL FROM processing_batches WHERE batch_id = %(b)s",
               {"b": bad}) == (1, True)
    for _ in range(MAX_RECOVERY_TRIES):  # each new run tries once, until it is held
        processor(store, db_conn).recover_expired()
    attempts, held, error = one(db_conn, "SELECT recovery_attempts, held_at IS NOT NULL, recovery_error "
                                         "FROM processing_batches WHERE batch_id = %(b)s", {"b": bad})
    assert (attempts, held) == (MAX_RECOVERY_TRIES, True) and "JSONDecodeError" in error
    assert files(db_conn)[keys[0]] == ("PROCESSING", 1, True)

    _code, report = run_json(capsys, "status", "--db", db_url)
    [shown] = report["in_progress"]["batches"]
    assert (shown["batch_id"], shown["status"], shown["recovery_attempts"]) == (bad, "held", MAX_RECOVERY_TRIES)
    assert "cannot be read" in shown["recovery_error"] and report["in_progress"]["held_files"] == 1
    assert main(["status", "--db", db_url]) == 0
    assert f"HELD: UnrecoverableBatch: batch {bad}" in capsys.readouterr().out

    # the operator fixes it (the staging was never published: remove the broken manifest) and recovers it
    store.delete(f"{Layout().staging_prefix}{bad}/_MANIFEST.json")
    code, result = run_json(capsys, "recover", bad[:8], "--reason", "broken manifest removed", "--actor", "alice",
                            "--db", db_url, "--store", str(tmp_path))
    assert code == 0 and (result["batch_id"], result["action"], result["files"]) == (bad, "abandoned", 1)
    assert files(db_conn)[keys[0]] == ("FAILED", 1, False)
    assert one(db_conn, "SELECT actor, reason FROM file_processing_history WHERE event = 'RECOVER'") == (
        "alice", "broken manifest removed")


def test_the_retry_backoff_stays_bounded_for_any_attempt_count(db_conn):
    [key] = register(db_conn, "flaky.json")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE file_processing_status SET retry_count = 1499")
    db_conn.commit()
    batch = claim(db_conn, Owner("run"))
    policy = RetryPolicy(max_attempts=10**6, backoff_base_seconds=60, backoff_max_seconds=3600)
    assert policy.backoff_seconds(1500) == policy.backoff_seconds(10**6) == 3600
    [file_id] = one(db_conn, "SELECT file_id FROM file_processing_status")
    TrackingStore(db_conn).record_outcomes(batch, "run", [FileOutcome(file_id, key, FileState.FAILED, "flaky")],
                                           BatchState.COMMITTED, policy)
    state, retries, delay = one(db_conn, "SELECT processing_status, retry_count, round(extract(epoch FROM "
                                         "next_attempt_at - processed_at)) FROM file_processing_status")
    assert (state, retries, delay) == ("FAILED", 1500, 3600)


def test_max_attempts_is_bounded(db_url, capsys):
    with pytest.raises(ValueError, match="at most 100"):
        ProcessorSettings(max_attempts=101)
    assert ProcessorSettings(max_attempts=100).max_attempts == 100
    with pytest.raises(SystemExit) as exited:
        main(["process", "--store", "/nonexistent", "--db", db_url, "--max-attempts", "101"])
    assert exited.value.code == 2 and "must be at most 100" in capsys.readouterr().err


def test_a_provably_alive_owner_keeps_its_batch_whatever_its_lease_says(tmp_path, db_conn):
    """Case 8 of "Data safety, second round": an expired lease used to skip the owner check, so a second run took
    over the batch of a live run on the same host (the owner then got LeaseLost)."""
    register(db_conn, "a.json")
    live = claim(db_conn, current_owner("live-run"), lease_seconds=0, batch_size=1)  # the lease lapsed at once
    rescuer = processor(LocalStore(tmp_path), db_conn)
    with live_run("live-run"):
        assert rescuer.recover_expired() == []
        assert one(db_conn, "SELECT state, glue_job_run_id FROM processing_batches")[0:2] == ("CLAIMED", "live-run")
        status = build_status(db_conn)  # what mldp status says of it
        [batch] = status["in_progress"]["batches"]
        assert (batch["batch_id"], batch["status"]) == (live, "running") and "is running" in batch["why"]
    assert [r.batch_id for r in rescuer.recover_expired()] == [live]  # its run ended: recovered at once


def test_a_running_glue_owner_keeps_its_batch_after_its_lease_lapsed(tmp_path, db_conn):
    register(db_conn, "a.json")
    claim(db_conn, GLUE_OWNER, lease_seconds=0)
    running = OwnerProbe(glue_client=lambda: glue_client(["RUNNING"]))
    assert processor(LocalStore(tmp_path), db_conn, running).recover_expired() == []
    assert one(db_conn, "SELECT state FROM processing_batches")[0] == "CLAIMED"


@pytest.mark.parametrize("lease", ["0", "29"])
def test_a_lease_shorter_than_the_heartbeat_can_keep_alive_is_refused(lease, db_url, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["process", "--store", "/nonexistent", "--db", db_url, "--lease-seconds", lease])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"must be at least {defaults.MIN_LEASE_SECONDS}, got {lease}" in error and "heartbeat" in error
    with pytest.raises(ValueError, match="the heartbeat renews the lease every fifth of it"):
        ProcessorSettings(lease_seconds=int(lease))


def test_a_run_whose_connection_is_lost_gives_its_batch_back_on_a_new_one(tmp_path, db_conn, db_url):
    """Case 11 of "Data safety, second round": the run's own connection is what is lost (a failover, a killed
    session); the give-back, which used to need that very connection, now runs on a new one."""
    keys = register(db_conn, "a.json", "b.json")
    run_conn = psycopg2.connect(db_url)

    def lose_the_connection(name: str) -> None:
        if name == "after_claim":
            one(db_conn, "SELECT pg_terminate_backend(%(pid)s)", {"pid": run_conn.get_backend_pid()})
            with run_conn.cursor() as cur:
                cur.execute("SELECT 1")  # the run's next statement: the server has closed the connection

    run = processor(LocalStore(tmp_path), run_conn, checkpoint=lose_the_connection)
    run.heartbeat_connect = lambda: psycopg2.connect(db_url)
    with pytest.raises(psycopg2.OperationalError):
        run.run_once()
    assert files(db_conn) == {keys[0]: ("PENDING", 0, True), keys[1]: ("PENDING", 0, True)}
    state, error = one(db_conn, "SELECT state, error_message FROM processing_batches")
    assert state == "ABANDONED" and error.startswith("released: run stopped by OperationalError")


# --- found by a review of the second round -------------------------------------------------------------------------


def test_a_stopped_owner_is_not_proven_alive_its_lease_decides(tmp_path, db_conn):
    """A process stopped by Ctrl-Z, SIGSTOP or a debugger may never go on (its heartbeat is stopped with it): its
    batch used to be "provably alive" for ever."""
    import os
    import signal

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        owner = Owner("suspended-run", socket.gethostname(), child.pid, process_identity(child.pid), None)
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
            assert time.monotonic() < deadline, "the child never stopped"
            time.sleep(0.01)
        verdict = OwnerProbe().check(owner)
        assert not verdict.gone and not verdict.alive and "is stopped" in verdict.why
        register(db_conn, "a.json")
        batch = claim(db_conn, owner, lease_seconds=0)  # its lease lapsed: recovered
        assert [r.batch_id for r in processor(LocalStore(tmp_path), db_conn).recover_expired()] == [batch]
    finally:
        child.kill()
        child.wait()


def test_a_take_over_judged_by_the_lease_fails_once_the_owner_renewed_it(db_conn):
    far = Owner("far-run", "other-host", 4242, "other-boot/pid:[1]/7", None)  # another node: the lease decides
    register(db_conn, "a.json")
    batch = claim(db_conn, far, lease_seconds=0)
    tracking = TrackingStore(db_conn, Owner("taker"))
    [seen] = tracking.open_batches(batch)
    verdict = recoverability(seen, OwnerProbe())
    assert verdict.gone and verdict.by_record and verdict.why == "its lease expired"
    assert tracking.renew_run_leases("far-run", 300) == [batch]  # the owner's heartbeat renews meanwhile
    assert not tracking.take_over(seen, "taker", 300, owner_gone=verdict.gone and not verdict.by_record)
    assert one(db_conn, "SELECT glue_job_run_id FROM processing_batches")[0] == "far-run"


def test_a_batch_whose_recovery_failed_is_handed_back_not_kept_by_the_live_run_that_failed(tmp_path, db_conn,
                                                                                           db_url):
    store = LocalStore(tmp_path)
    register(db_conn, "bad.json")
    bad = claim(db_conn, Owner("dead-1"), lease_seconds=0, batch_size=1)
    store.put_bytes(f"{Layout().staging_prefix}{bad}/_MANIFEST.json", b'{"batch_id": "trunc')  # unreadable
    first = processor(store, db_conn)
    with live_run(first.settings.job_run_id):
        first.recover_expired()  # fails, counted: handed back, so that another run may try while this one lives
        assert one(db_conn, "SELECT recovery_attempts, released_at IS NOT NULL FROM processing_batches") == (1, True)
        with RunHeartbeat(lambda: psycopg2.connect(db_url), first.settings.job_run_id, 600, interval=0.05) as beat:
            deadline = time.monotonic() + 30
            while beat.renewals < 2:
                assert time.monotonic() < deadline
                time.sleep(0.01)
        assert one(db_conn, "SELECT lease_expires_at <= now() FROM processing_batches")[0]  # not renewed
        second = processor(store, db_conn)
        second.recover_expired()  # another run takes it over at once and fails too
        assert one(db_conn, "SELECT recovery_attempts FROM processing_batches")[0] == 2


def test_a_run_that_cannot_reach_the_database_to_give_its_batch_back_records_it_in_the_staging(tmp_path, db_conn,
                                                                                               db_url):
    """The run's connection is lost and no new one can be made: the batch of one file used to be abandoned as a
    dead run's by the next run, which charges a file abandoned alone."""
    from runtime.db.connection import DatabaseUnavailable

    keys = register(db_conn, "only.json")
    run_conn = psycopg2.connect(db_url)

    def database_goes_away(name: str) -> None:
        if name == "after_claim":
            one(db_conn, "SELECT pg_terminate_backend(%(pid)s)", {"pid": run_conn.get_backend_pid()})
            with run_conn.cursor() as cur:
                cur.execute("SELECT 1")

    def no_database():
        raise DatabaseUnavailable("cannot connect to PostgreSQL at postgres@localhost:5432/x: Connection refused")

    run = processor(LocalStore(tmp_path), run_conn, checkpoint=database_goes_away)
    run.heartbeat_connect, run.heartbeat_interval = no_database, 3600
    with pytest.raises(psycopg2.OperationalError):
        run.run_once()
    assert files(db_conn)[keys[0]][0] == "PROCESSING"  # nothing could be recorded
    (report,) = processor(LocalStore(tmp_path), db_conn).recover_expired()
    assert report.abandoned and report.files == {"PENDING": 1}
    assert files(db_conn) == {keys[0]: ("PENDING", 0, True)}  # given back as its run meant to: not charged
    error = one(db_conn, "SELECT error_message FROM processing_batches")[0]
    assert error.startswith("released: run stopped by OperationalError") and "the database was away" in error
