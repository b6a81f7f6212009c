"""Every bad value, lost database and closed pipe ends ``mldp`` in one line (or quietly), never in a traceback and
never with a password: absurd times and counts, a URL that is not one, the server stopped under a running
command, ``mldp status | head -1``; and ``status --errors 0`` says that the errors are not shown."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from runtime.cli import EXIT_CLOSED_PIPE, main
from runtime.commands import status as status_command
from runtime.commands.options import MAX_COUNT
from runtime.db.embedded import EmbeddedPostgres, free_port
from tests.conftest import PROJECT_ROOT

SECRET = "S3cr3tPw"
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def with_password(url: str) -> str:
    """``url`` with a password (the test server trusts every local connection, so it is accepted and ignored)."""
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{SECRET}@{host}"


def assert_one_error_line(code: int, out: str, err: str, *expected: str) -> str:
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if " INFO " not in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert SECRET not in out + err and "Traceback" not in err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# --- values ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [
    ["--since", "99999999d"],
    ["--until", "99999999d"],
    ["--since", "9" * 400 + "w"],
    ["--since", "0001-01-01T00:00:00+05:00"],
    ["--until", "9999-12-31T23:59:59-05:00"],
])
def test_a_time_out_of_range_is_one_line_before_anything_is_opened(bound: list[str], capsys) -> None:
    code, out, err = run_cli(capsys, "requeue", "--db", NOWHERE, "--reason", "r", "--dry-run", *bound)
    assert_one_error_line(code, out, err, f"the time {bound[1]!r} is out of range", "7d")


@pytest.mark.parametrize("option", ["--batches", "--errors"])
def test_status_counts_too_large_are_one_line(option: str, capsys) -> None:
    code, out, err = run_cli(capsys, "status", "--db", NOWHERE, option, "99999999999999999999")
    assert_one_error_line(code, out, err, f"{option} 99999999999999999999 is too large", f"{MAX_COUNT:,}")


@pytest.mark.parametrize("argv", [
    ["requeue", "--reason", "r", "--limit", "99999999999999999999"],
    ["requeue", "--reason", "r", "--limit", "0"],
    ["requeue", "--reason", "r", "--show", "-1"],
    ["release", "k", "--reason", "r", "--show", "99999999999999999999"],
    ["process", "--store", "s3://b", "--batch-size", "99999999999999999999"],
    ["process", "--store", "s3://b", "--lease-seconds", "99999999999999999999"],
    ["demo", "--files", "99999999999999999999"],
])
def test_counting_options_out_of_range_are_refused_by_the_parser(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[-2]}: must be an integer from" in err and f"to {MAX_COUNT:,}, got" in err


def test_the_largest_counts_are_accepted_by_the_database(db_url: str, capsys) -> None:
    biggest = str(MAX_COUNT)
    assert run_cli(capsys, "status", "--db", db_url, "--batches", biggest, "--errors", biggest)[0] == 0
    code, out, _err = run_cli(capsys, "requeue", "--db", db_url, "--reason", "r", "--dry-run", "--limit", biggest,
                              "--show", biggest)
    assert code == 0 and out.startswith("dry run: 0 files")


# --- database URLs -----------------------------------------------------------------------------------------------

BAD_URLS = ["not-a-url", f"postgresql:/u:{SECRET}@127.0.0.1/db", f"postgresql://u:{SECRET}@127.0.0.1:99999/db",
            f"postgres://u:{SECRET}@127.0.0.1:1/db"]


def commands_with_db(tmp_path: Path) -> dict[str, list[str]]:
    """Every command that takes ``--db``, with the other arguments it needs."""
    (tmp_path / "store").mkdir(exist_ok=True)
    store = str(tmp_path / "store")
    return {
        "status": ["status"], "inspect": ["inspect", "raw-json-data/x.jsonl"],
        "requeue": ["requeue", "--reason", "r"], "release": ["release", "raw-json-data/x.jsonl", "--reason", "r"],
        "migrate": ["migrate"], "list": ["list", "--store", store, "--no-metrics"],
        "process": ["process", "--store", store, "--no-metrics"],
        "demo": ["demo", "--workdir", str(tmp_path / "demo")],
    }


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_bad_database_url_is_one_line_through_every_command(url: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MLDP_HOME", str(tmp_path / "home"))
    for name, argv in commands_with_db(tmp_path).items():
        code, out, err = run_cli(capsys, *argv, "--db", url)
        line = assert_one_error_line(code, out, err)
        assert "database URL" in line or "cannot connect to PostgreSQL" in line, (name, line)
    assert not (tmp_path / "demo").exists(), "the demo wrote before it could open its database"


@pytest.mark.parametrize("url", BAD_URLS[:2])
def test_a_bad_database_url_in_the_environment_is_one_line(url: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    for argv in commands_with_db(tmp_path).values():
        assert_one_error_line(*run_cli(capsys, *argv))


# --- a database lost under a running command ---------------------------------------------------------------------


def _terminated_first(monkeypatch, target: str, admin_url: str) -> None:
    """Make ``target`` (``module.function``, the command's work on its open connection) start by having the server
    end the command's session, as a server shutdown or a failover does."""
    module_name, function_name = target.rsplit(".", 1)
    module = importlib.import_module(module_name)
    real = getattr(module, function_name)

    def lose_the_server_first(conn, *args, **kwargs):
        admin = psycopg2.connect(admin_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        admin.close()
        return real(conn, *args, **kwargs)

    monkeypatch.setattr(module, function_name, lose_the_server_first)


@pytest.mark.parametrize(("target", "argv"), [
    ("runtime.operator.status.build_status", ["status"]),
    ("runtime.operator.inspection.inspect_file", ["inspect", "raw-json-data/x.jsonl"]),
    ("runtime.operator.requeue.requeue", ["requeue", "--reason", "r"]),
    ("runtime.operator.requeue.requeue", ["requeue", "--reason", "r", "--dry-run"]),
])
def test_a_database_lost_mid_command_is_one_line_naming_the_server(target: str, argv: list[str], db_url: str,
                                                                   pg_server_url: str, capsys, monkeypatch) -> None:
    _terminated_first(monkeypatch, target, pg_server_url)
    url = with_password(db_url)
    code, out, err = run_cli(capsys, *argv, "--db", url)
    database = db_url.rsplit("/", 1)[1]
    line = assert_one_error_line(code, out, err, "error: lost the connection to PostgreSQL at postgres@127.0.0.1:",
                                 f"/{database}: ", "run the command again")
    assert "already closed" not in line  # the cause: a rollback on the dead connection does not hide it
    code, _out, err = run_cli(capsys, "-v", *argv, "--db", url)
    assert code == 2 and "Traceback" in err and err.splitlines()[-1].startswith("error: lost the connection")


def test_a_database_error_that_is_not_a_lost_connection_names_its_sqlstate(db_url: str, capsys, monkeypatch) -> None:
    def lock_timeout(conn, *args, **kwargs):
        with conn.cursor() as cur:
            cur.execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'lock_not_available', "
                        "MESSAGE = 'could not obtain lock on row'; END $$")

    monkeypatch.setattr("runtime.operator.status.build_status", lock_timeout)
    code, out, err = run_cli(capsys, "status", "--db", with_password(db_url))
    assert_one_error_line(code, out, err, "failed: could not obtain lock on row (SQLSTATE 55P03)")


def test_the_server_stopped_under_mldp_status_is_one_line(tmp_path: Path) -> None:
    """The real thing: the server shuts down between the command's connect and its queries."""
    root = PROJECT_ROOT / ".mldp" / f"test-lost-server-{os.getpid()}"
    server = EmbeddedPostgres(root, port=free_port(), durable=False)
    server.start()
    try:
        url = with_password(server.url)
        script = (
            "import sys\n"
            "from runtime.db.embedded import EmbeddedPostgres\n"
            "import runtime.operator.status as status\n"
            "real = status.build_status\n"
            f"server = EmbeddedPostgres({str(root)!r}, port={server.port})\n"
            "def stopped_first(conn, *a, **k):\n"
            "    server.stop()\n"
            "    return real(conn, *a, **k)\n"
            "status.build_status = stopped_first\n"
            "from runtime.cli import main\n"
            f"sys.exit(main(['status', '--db', {url!r}]))\n"
        )
        result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 2, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr and SECRET not in result.stderr
        [line] = [line for line in result.stderr.splitlines() if " INFO " not in line]  # migrations are logged
        assert line.startswith(f"error: lost the connection to PostgreSQL at postgres@127.0.0.1:{server.port}/"
                               "data_platform_db: "), line
    finally:
        server.stop()
        shutil.rmtree(server.data_root, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


# --- closed pipes ------------------------------------------------------------------------------------------------


def test_a_closed_pipe_ends_mldp_status_quietly(db_url: str) -> None:
    """``mldp status | head -1`` with the reader gone before ``mldp`` writes: no traceback, status 141."""
    process = subprocess.Popen([sys.executable, "-m", "runtime.cli", "status", "--db", db_url], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader goes away
    err = process.stderr.read()
    assert process.wait(timeout=120) == EXIT_CLOSED_PIPE, err
    assert "Traceback" not in err and "Broken pipe" not in err and "Exception ignored" not in err, err


def test_mldp_status_into_head_shows_one_line_and_no_error(db_url: str) -> None:
    result = subprocess.run(f"{sys.executable} -m runtime.cli status --db '{db_url}' | head -1", shell=True,
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.startswith("Tracking database status at ") and result.stdout.count("\n") == 1
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr


def test_a_broken_pipe_that_is_not_the_output_keeps_its_traceback(monkeypatch) -> None:
    def broken_socket(args):
        raise BrokenPipeError(32, "Broken pipe")  # e.g. the Spark gateway's socket: a failure, not a reader gone

    monkeypatch.setattr(status_command, "run", broken_socket)
    with pytest.raises(BrokenPipeError):
        main(["status"])


# --- status --errors 0 -------------------------------------------------------------------------------------------


def test_status_errors_0_says_the_errors_are_not_shown(db_url: str, db_conn, capsys) -> None:
    _code, out, _err = run_cli(capsys, "status", "--db", db_url, "--errors", "0")
    assert "Errors: no file is FAILED or QUARANTINED" in out  # true: there is none
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO file_processing_status (s3_key, file_size_bytes, processing_status, error_message) "
                    "VALUES ('raw-json-data/a', 1, 'QUARANTINED', 'zero-byte file'), "
                    "('raw-json-data/b', 1, 'FAILED', 'gone'), ('raw-json-data/c', 1, 'QUARANTINED', 'zero-byte file')")
    db_conn.commit()
    code, out, _err = run_cli(capsys, "status", "--db", db_url, "--errors", "0")
    assert code == 0
    assert "Errors: not shown (--errors 0); 3 files FAILED or QUARANTINED" in out
    assert "no file is FAILED" not in out
    _code, out, _err = run_cli(capsys, "status", "--db", db_url, "--errors", "1")
    assert "Most frequent errors" in out and "zero-byte file" in out
    _code, out, _err = run_cli(capsys, "status", "--db", db_url, "--errors", "1", "--json")
    assert [e["pattern"] for e in json.loads(out)["top_errors"]] == ["zero-byte file"]  # the more frequent of two


def test_status_batches_0_says_the_batches_are_not_shown(db_url: str, db_conn, capsys) -> None:
    _code, out, _err = run_cli(capsys, "status", "--db", db_url)
    assert "Last batches: none yet" in out  # true: there is none
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO processing_batches (batch_id, state, file_count, lease_expires_at, finished_at) "
                    "SELECT gen_random_uuid(), 'COMMITTED', n, now(), now() FROM generate_series(1, 3) AS n")
    db_conn.commit()
    code, out, _err = run_cli(capsys, "status", "--db", db_url, "--batches", "0")
    assert code == 0
    assert "Last batches: not shown (--batches 0)" in out and "none yet" not in out
    _code, out, _err = run_cli(capsys, "status", "--db", db_url, "--batches", "2")
    assert "Last 2 batches" in out
    _code, out, _err = run_cli(capsys, "status", "--db", db_url, "--batches", "2", "--errors", "4", "--json")
    report = json.loads(out)
    assert len(report["recent_batches"]) == 2 and report["limits"] == {"recent_batches": 2, "top_errors": 4}


def test_a_run_whose_batch_was_taken_over_is_one_line(db_url: str, capsys, monkeypatch) -> None:
    from runtime.db.tracking import LeaseLost

    def taken_over(args):  # what a command sees when another run took its batch over
        raise LeaseLost("batch 1234 was taken over by run-2 (CLAIMED); not publishing")

    monkeypatch.setattr(status_command, "run", taken_over)
    code, out, err = run_cli(capsys, "status", "--db", db_url)
    assert (code, out) == (1, ""), "a run that lost its batch fails with status 1, as when it ended in a traceback"
    assert err == "error: batch 1234 was taken over by run-2 (CLAIMED); not publishing\n"
