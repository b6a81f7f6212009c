"""``mldp retire``: an operator gives up on FAILED or QUARANTINED files, or PENDING ones when asked (``--state
PENDING``), never on a file being processed. They are never claimed again, leave the backlog and the
QuarantinedFilesTotal gauge (so its alarm can clear), keep their error and history, and come back as PENDING only
with a new version of their key or ``mldp requeue --state RETIRED``."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg2
import pytest

from runtime.cli import main
from runtime.db import queries
from runtime.db.connection import connect
from runtime.jobs.lister import run_lister
from runtime.operator.requeue import RequeueResult, Selection, requeue, retire
from runtime.storage.local import LocalStore
from tests.runtime.scenarios import test_operator_cli
from tests.runtime.scenarios.test_operator_cli import file_rows, history, run_cli, run_json

#: a.jsonl FAILED, b.jsonl and c.jsonl QUARANTINED, d.jsonl SUCCEEDED, e.jsonl PENDING (the requeue tests' fixture)
troubled = test_operator_cli.troubled

C_ERROR = "unreadable gzip file: truncated gzip stream"


def _claimable(db_conn) -> set[str]:
    with db_conn.cursor() as cur:
        cur.execute(queries.CLAIM_BATCH, {"batch_id": str(uuid.uuid4()), "job_run_id": "r", "batch_size": 100,
                                          "lease_seconds": 60})
        keys = {row[1] for row in cur.fetchall()}
    db_conn.rollback()
    return keys


def _gauges(db_conn) -> dict:
    with db_conn.cursor() as cur:
        cur.execute(queries.BACKLOG)
        row = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
    db_conn.commit()
    return row


def test_retired_files_leave_the_backlog_and_the_quarantine_gauge_and_keep_their_error(troubled, db_conn, db_url,
                                                                                      capsys):
    assert _gauges(db_conn)["quarantined_files"] == 2
    result = run_json(capsys, "retire", "--db", db_url, "--prefix", "raw-json-data/2024/week02/", "--reason",
                      "producer sent garbage; re-sent under a new name", "--actor", "alice")

    assert (result["event"], result["count"], result["keys"]) == ("RETIRED", 1, [troubled["c"]])
    state, retries, error, _due = file_rows(db_conn)[troubled["c"]]
    assert (state, error) == ("RETIRED", C_ERROR) and retries >= 1  # its error and attempts are kept
    assert history(db_conn, "RETIRED") == [
        (troubled["c"], "RETIRED", "QUARANTINED", C_ERROR, "alice", "producer sent garbage; re-sent under a new name")]
    assert _gauges(db_conn)["quarantined_files"] == 1  # only b now: the alarm's gauge went down
    status = run_json(capsys, "status", "--db", db_url)
    assert status["files_by_state"]["RETIRED"]["files"] == 1
    assert status["files_by_state"]["QUARANTINED"]["files"] == 1
    assert troubled["c"] not in _claimable(db_conn)
    assert all(e["pattern"] != C_ERROR for e in status["top_errors"])  # the error list is what still needs work


def test_retire_dry_run_changes_nothing_and_the_text_says_what_would(troubled, db_conn, db_url, capsys):
    before = file_rows(db_conn)
    code, out, _err = run_cli(capsys, "retire", "--db", db_url, "--reason", "r", "--dry-run", "--state",
                              "QUARANTINED")
    assert code == 0
    assert out.splitlines()[0] == "dry run: 2 files would be retired (-> RETIRED); nothing was changed"
    assert file_rows(db_conn) == before and history(db_conn, "RETIRED") == []
    code, out, _err = run_cli(capsys, "retire", "--db", db_url, "--reason", "gave up", "--actor", "bob")
    assert code == 0 and out.splitlines()[0] == (
        "retired 3 files -> RETIRED (never claimed; error kept; recorded as RETIRED by bob: gave up)")


def test_requeue_leaves_retired_files_alone_unless_asked_then_brings_them_back(troubled, db_conn, db_url, capsys):
    run_json(capsys, "retire", "--db", db_url, "--reason", "gave up")
    assert run_json(capsys, "requeue", "--db", db_url, "--reason", "retry")["count"] == 0
    assert run_json(capsys, "retire", "--db", db_url, "--reason", "again")["count"] == 0  # already retired
    code, out, _err = run_cli(capsys, "release", troubled["a"], "--db", db_url, "--reason", "r")
    assert code == 1 and "is RETIRED (mldp requeue --state RETIRED" in out  # release says how to undo instead

    result = run_json(capsys, "requeue", "--db", db_url, "--state", "RETIRED", "--reason", "fixed the reader")
    assert sorted(result["keys"]) == sorted(troubled[n] for n in "abc")
    rows = file_rows(db_conn)
    assert {rows[troubled[n]] for n in "abc"} == {("PENDING", 0, None, True)}
    assert {troubled[n] for n in "abc"} <= _claimable(db_conn)


def test_never_a_succeeded_processing_or_retired_file_and_a_pending_one_only_when_asked(troubled, db_conn, db_url,
                                                                                        capsys):
    for state in ("SUCCEEDED", "PROCESSING", "RETIRED"):
        with pytest.raises(SystemExit) as bad_state:
            main(["retire", "--db", db_url, "--reason", "r", "--state", state])
        assert bad_state.value.code == 2
    with pytest.raises(ValueError, match="only PENDING, FAILED or QUARANTINED files can be retired, not RETIRED"):
        retire(db_conn, Selection(states=("RETIRED",)), "r")
    with pytest.raises(ValueError, match="only FAILED, QUARANTINED or RETIRED files can be requeued, not PENDING"):
        requeue(db_conn, Selection(states=("PENDING",)), "r")
    with pytest.raises(ValueError, match=r"only FAILED, QUARANTINED or RETIRED files \(and PENDING ones, to retire "
                                         r"them\) can be selected, not PROCESSING or SUCCEEDED"):
        Selection(states=("SUCCEEDED", "PROCESSING"))
    code, _out, err = run_cli(capsys, "retire", "--db", db_url, "--reason", " ")
    assert code == 2 and "--reason is required" in err

    assert run_json(capsys, "retire", "--db", db_url, "--reason", "r")["count"] == 3  # the default: a, b, c
    rows = file_rows(db_conn)
    assert rows[troubled["d"]][0] == "SUCCEEDED" and rows[troubled["e"]][0] == "PENDING"  # never selected


def test_a_pending_file_is_retired_with_state_pending_and_requeued_back_to_pending(troubled, db_conn, db_url,
                                                                                   capsys):
    """A PENDING file the processor can never read: set aside with the same filters, dry run, reason, actor,
    history row and JSON as a FAILED one; it leaves the backlog; ``requeue --state RETIRED`` brings it back."""
    backlog = _gauges(db_conn)["backlog_files"]  # a (FAILED) and e (PENDING)
    preview = run_json(capsys, "retire", "--db", db_url, "--state", "pending", "--prefix", "raw-json-data/2024/",
                       "--since", "1h", "--reason", "r", "--dry-run")
    assert (preview["dry_run"], preview["count"], preview["preview"]) == (
        True, 1, [{"key": troubled["e"], "state": "PENDING", "error": None}])
    assert file_rows(db_conn)[troubled["e"]][0] == "PENDING" and history(db_conn, "RETIRED") == []
    assert run_json(capsys, "retire", "--db", db_url, "--state", "PENDING", "--until", "1h", "--reason", "r",
                    "--dry-run")["count"] == 0  # it became PENDING at its registration, just now

    result = run_json(capsys, "retire", "--db", db_url, "--state", "PENDING", "--reason", "AccessDenied: the role "
                      "may not read this object", "--actor", "carol")
    assert (result["event"], result["count"], result["keys"]) == ("RETIRED", 1, [troubled["e"]])
    assert file_rows(db_conn)[troubled["e"]] == ("RETIRED", 0, None, True)
    assert history(db_conn, "RETIRED") == [
        (troubled["e"], "RETIRED", "PENDING", None, "carol", "AccessDenied: the role may not read this object")]
    assert _gauges(db_conn)["backlog_files"] == backlog - 1 and troubled["e"] not in _claimable(db_conn)
    assert {k: v[0] for k, v in file_rows(db_conn).items()} == {
        troubled["a"]: "FAILED", troubled["b"]: "QUARANTINED", troubled["c"]: "QUARANTINED",
        troubled["d"]: "SUCCEEDED", troubled["e"]: "RETIRED"}

    back = run_json(capsys, "requeue", "--db", db_url, "--state", "RETIRED", "--reason", "role fixed")
    assert back["keys"] == [troubled["e"]]
    assert file_rows(db_conn)[troubled["e"]] == ("PENDING", 0, None, True)
    assert troubled["e"] in _claimable(db_conn)


@pytest.mark.parametrize("claim_ends", ["commit", "rollback"])
def test_a_file_claimed_meanwhile_is_retired_only_if_still_pending_after_the_claim(troubled, db_conn, db_url,
                                                                                   claim_ends):
    """A processor's claim holds e.jsonl's row when the retire starts: the retire waits for it, then re-checks the
    row. The claim committed: e is PROCESSING and is not retired. The claim rolled back: e is still PENDING and
    is retired."""
    claimer = psycopg2.connect(db_url)
    try:
        with claimer.cursor() as cur:
            cur.execute(queries.CLAIM_BATCH, {"batch_id": str(uuid.uuid4()), "job_run_id": "r", "batch_size": 100,
                                              "lease_seconds": 600})
            assert troubled["e"] in {row[1] for row in cur.fetchall()}  # claimed, not committed yet
        application = f"retire-{uuid.uuid4().hex[:8]}"
        outcome: list[RequeueResult | BaseException] = []
        retiring = threading.Thread(target=_retire_pending, args=(db_url, application, outcome))
        retiring.start()
        _wait_until_waiting_for_a_lock(db_conn, application)
        getattr(claimer, claim_ends)()
        retiring.join(timeout=60)
        assert not retiring.is_alive() and len(outcome) == 1
    finally:
        claimer.close()
    [result] = outcome
    assert isinstance(result, RequeueResult), result
    state = file_rows(db_conn)[troubled["e"]][0]
    if claim_ends == "commit":
        assert (result.count, state, history(db_conn, "RETIRED")) == (0, "PROCESSING", [])
    else:
        assert (result.count, result.keys, state) == (1, [troubled["e"]], "RETIRED")
        assert [row[:3] for row in history(db_conn, "RETIRED")] == [(troubled["e"], "RETIRED", "PENDING")]


def _retire_pending(db_url: str, application: str, outcome: list) -> None:
    """Retire every PENDING file on a connection of its own named ``application``; the result (or error) goes to
    ``outcome``."""
    conn = connect(db_url, application_name=application)
    try:
        outcome.append(retire(conn, Selection(states=("PENDING",)), "never readable", "t"))
    except BaseException as error:  # reported by the test, not lost in the thread
        outcome.append(error)
    finally:
        conn.close()


def _wait_until_waiting_for_a_lock(conn, application: str, seconds: float = 30) -> None:
    """Bounded wait until the session named ``application`` waits for a lock another transaction holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                        "AND wait_event_type = 'Lock'", (application,))
            waiting = cur.fetchone()[0]
        conn.commit()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError(f"{application} never waited for the claim's lock")


def test_a_new_version_of_a_retired_file_is_registered_as_pending(troubled, db_conn, db_url, capsys, tmp_path):
    run_json(capsys, "retire", "--db", db_url, "--reason", "gave up")
    store = LocalStore(tmp_path)
    store.put_bytes(troubled["c"], b'{"id": "fixed"}\n')

    assert run_lister(store, db_conn, show_progress=False).counts.changed == 1

    state, retries, error, due = file_rows(db_conn)[troubled["c"]]
    assert (state, retries, error, due) == ("PENDING", 0, None, True)
    assert troubled["c"] in _claimable(db_conn)
    assert file_rows(db_conn)[troubled["b"]][0] == "RETIRED"  # unchanged keys stay retired


def test_since_and_until_select_retired_files_by_when_they_were_retired(troubled, db_conn, db_url, capsys):
    """a.jsonl failed two days ago, b and c now; all three retired now: ``--since 1h`` finds all three (the time a
    retired file got its state is its retirement), ``--until 1h`` none."""
    run_json(capsys, "retire", "--db", db_url, "--reason", "gave up")

    recent = run_json(capsys, "requeue", "--db", db_url, "--state", "RETIRED", "--since", "1h", "--reason", "r",
                      "--dry-run")
    assert sorted(recent["keys"]) == sorted(troubled[n] for n in "abc")
    older = run_json(capsys, "requeue", "--db", db_url, "--state", "RETIRED", "--until", "1h", "--reason", "r",
                     "--dry-run")
    assert older["count"] == 0
