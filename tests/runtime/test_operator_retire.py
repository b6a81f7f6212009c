"""``mldp retire``: an operator gives up on FAILED or QUARANTINED files. They are never claimed again, leave the
backlog and the QuarantinedFilesTotal gauge (so its alarm can clear), keep their error and history, and come back
as PENDING only with a new version of their key or ``mldp requeue --state RETIRED``."""

from __future__ import annotations

import uuid

import pytest

from runtime.cli import main
from runtime.db import queries
from runtime.jobs.lister import run_lister
from runtime.operator.requeue import Selection, retire
from runtime.storage.local import LocalStore
from tests.runtime import test_operator_cli
from tests.runtime.test_operator_cli import file_rows, history, run_cli, run_json

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


def test_only_failed_or_quarantined_files_can_be_retired(troubled, db_conn, db_url, capsys):
    with pytest.raises(SystemExit) as bad_state:
        main(["retire", "--db", db_url, "--reason", "r", "--state", "PENDING"])
    assert bad_state.value.code == 2
    with pytest.raises(ValueError, match="only FAILED or QUARANTINED files can be retired"):
        retire(db_conn, Selection(states=("RETIRED",)), "r")
    code, _out, err = run_cli(capsys, "retire", "--db", db_url, "--reason", " ")
    assert code == 2 and "--reason is required" in err
    rows = file_rows(db_conn)
    assert rows[troubled["d"]][0] == "SUCCEEDED" and rows[troubled["e"]][0] == "PENDING"  # never selected


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
