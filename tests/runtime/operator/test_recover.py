"""``mldp status`` and ``mldp recover`` against the real PostgreSQL: each open batch shown with its owner, lease and
whether it is running, recoverable now or held; a dead run's files counted as waiting; a named batch recovered only
when its owner is gone (or with ``--force``), fenced, with who and why recorded. No Spark."""

from __future__ import annotations

import socket
import uuid

import pytest

from runtime.cli import main
from runtime.db.states import BatchState
from runtime.db.tracking import LeaseLost, TrackingStore
from runtime.jobs.owner import current_owner, live_run
from runtime.jobs.retry import RetryPolicy
from runtime.storage.local import LocalStore
from tests.support.leases import (
    claim,
    dead_owner,
    files,
    one,
    processor,
    register,
    run_json,
    take_over_recoverable,
)


def test_status_shows_each_open_batch_with_its_owner_and_counts_a_dead_runs_files_as_waiting(db_conn, db_url,
                                                                                              capsys):
    keys = register(db_conn, *(f"{n}.json" for n in range(8)))
    live = claim(db_conn, current_owner("live-run"), batch_size=2)
    dead_owner_facts = dead_owner("dead-run")
    dead = claim(db_conn, dead_owner_facts, batch_size=6)
    with live_run("live-run"):  # a run of this process, alive while the status is taken
        _code, report = run_json(capsys, "status", "--db", db_url)
    progress = report["in_progress"]
    by_id = {b["batch_id"]: b for b in progress["batches"]}
    assert (by_id[live]["status"], by_id[dead]["status"]) == ("running", "recoverable")
    assert by_id[dead]["why"] == f"its process (pid {dead_owner_facts.pid} on {socket.gethostname()}) has ended"
    assert by_id[live]["owner"] == f"run live-run on {socket.gethostname()} pid {current_owner('x').pid}"
    assert by_id[live]["lease_expires_at"] and by_id[live]["heartbeat_at"]
    assert (progress["files"], progress["running_files"], progress["recoverable_files"]) == (8, 2, 6)
    assert (report["backlog"]["files"], report["backlog"]["recoverable"]) == (6, 6)
    assert report["eta"]["seconds"] is None  # 8 files left, none finished yet: unknown, never "0s"
    with live_run("live-run"):
        assert main(["status", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "In progress: 8 files in 2 batches: 2 running, 6 recoverable now" in out
    assert f"batch {dead} of run dead-run on {socket.gethostname()} pid {dead_owner_facts.pid}: 6 files" in out
    assert "Time to drain: 0s" not in out and len(keys) == 8


def test_recover_refuses_a_live_owner_unless_forced_and_records_who_and_why(tmp_path, db_conn, db_url, capsys):
    keys = register(db_conn, "a.json", "b.json")
    batch = claim(db_conn, current_owner("live-run"))
    with live_run("live-run"):  # a run of this process, alive while the operator looks at it
        code, refused = run_json(capsys, "recover", batch, "--reason", "looks stuck", "--db", db_url)
        assert code == 1 and "may still be running" in refused["refused"] and refused["action"] is None
        assert one(db_conn, "SELECT glue_job_run_id FROM processing_batches")[0] == "live-run"

        code, forced = run_json(capsys, "recover", batch, "--reason", "host lost", "--force", "--actor", "bob",
                                "--db", db_url)
    assert code == 0 and (forced["forced"], forced["action"], forced["files"]) == (True, "handed back", 2)
    with pytest.raises(LeaseLost):  # the old owner is fenced off: it cannot renew, publish or commit
        TrackingStore(db_conn).ensure_lease(batch, "live-run", 600)
    rows = one(db_conn, "SELECT array_agg(DISTINCT actor), array_agg(DISTINCT reason), count(*) "
                        "FROM file_processing_history WHERE event = 'RECOVER'")
    assert rows[0] == ["bob"] and rows[1][0].startswith("host lost (forced: its process") and rows[2] == 2
    # handed back: the next processor run recovers it at once (abandons it: no manifest; two files, so neither is
    # charged: both back to PENDING, next claimed one at a time)
    processor(LocalStore(tmp_path), db_conn).recover_expired()
    assert {k: v[0] for k, v in files(db_conn).items()} == dict.fromkeys(keys, "PENDING")


def test_recover_of_a_dead_owners_batch_and_of_unknown_or_closed_batches(db_conn, db_url, capsys):
    register(db_conn, "a.json")
    batch = claim(db_conn, dead_owner())
    code, result = run_json(capsys, "recover", batch[:13], "--reason", "OOM", "--db", db_url)
    assert code == 0 and result["action"] == "handed back" and not result["forced"]
    assert result["why"].endswith("has ended")
    assert run_json(capsys, "recover", str(uuid.uuid4()), "--reason", "x", "--db", db_url)[0] == 1
    assert run_json(capsys, "recover", "nothex!", "--reason", "x", "--db", db_url)[1]["refused"].startswith("'nothex!'")
    take_over_recoverable(TrackingStore(db_conn), "run-3", 600)
    TrackingStore(db_conn).record_outcomes(batch, "run-3", [], BatchState.COMMITTED, RetryPolicy())
    code, closed = run_json(capsys, "recover", batch, "--reason", "x", "--db", db_url)
    assert code == 1 and "not open" in closed["refused"]
