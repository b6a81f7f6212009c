"""The newcomer's path: ``make demo`` (``mldp demo``), then the commands it prints, without extra flags, show its
results; the demo never writes into a folder or a database that holds what it did not create."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import psycopg2
import pytest

from runtime.cli import main
from runtime.db.embedded import EmbeddedPostgres, free_port
from runtime.jobs.lister import run_lister
from runtime.operator.demo import MARKER, OWN_DATABASE
from runtime.storage.local import LocalStore
from tests.conftest import PROJECT_ROOT

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"
SMALL = ["--files", "3", "--records-per-file", "5"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    [line] = [line for line in err.splitlines() if " INFO " not in line]
    return line


def register_a_file_of_yours(tmp_path: Path, conn) -> str:
    (tmp_path / "yours").mkdir(exist_ok=True)
    store = LocalStore(tmp_path / "yours")
    key = "raw-json-data/2024/week09/orders.jsonl"
    store.put_bytes(key, b'{"id": 1}\n')
    run_lister(store, conn, show_progress=False)
    return key


def tracked_keys(url: str) -> list[str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT s3_key FROM file_processing_status ORDER BY 1")
        keys = [row[0] for row in cur.fetchall()]
    conn.close()
    return keys


# --- the store folder --------------------------------------------------------------------------------------------


def test_the_demo_refuses_a_store_folder_it_did_not_create(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MLDP_HOME", str(tmp_path / "home"))
    precious = tmp_path / "bucket" / "precious.txt"
    precious.parent.mkdir()
    precious.write_text("mine")
    code, out, err = run_cli(capsys, "demo", "--workdir", str(tmp_path), "--db", NOWHERE)
    assert (code, out) == (2, "")
    assert error_line(err) == (
        f"error: {tmp_path / 'bucket'} exists and was not created by mldp demo (no {MARKER} file in it): the demo "
        "never deletes or writes into a folder it did not create. Choose another --workdir, or add --force to "
        f"delete {tmp_path / 'bucket'} with everything in it")
    assert precious.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["bucket"]


@pytest.mark.parametrize("how", ["--force", "marker", "state folder"])
def test_the_demo_replaces_a_folder_only_when_told_or_its_own(how: str, tmp_path: Path, capsys,
                                                               monkeypatch) -> None:
    """Past the folder check, the demo checks its database before it deletes anything: an unreachable one stops
    it with the folder untouched."""
    home = tmp_path / "home"
    monkeypatch.setenv("MLDP_HOME", str(home))
    workdir = home / "demo" if how == "state folder" else tmp_path / "work"
    (workdir / "bucket").mkdir(parents=True)
    (workdir / "bucket" / "old.txt").write_text("old")
    if how == "marker":
        (workdir / "bucket" / MARKER).write_text("created by mldp demo")
    code, _out, err = run_cli(capsys, "demo", "--workdir", str(workdir), "--db", NOWHERE,
                              *(["--force"] if how == "--force" else []))
    assert code == 2 and error_line(err).startswith("error: cannot connect to PostgreSQL at nobody@127.0.0.1:1/none")
    assert (workdir / "bucket" / "old.txt").read_text() == "old"


# --- the database ------------------------------------------------------------------------------------------------


def test_the_demo_refuses_a_database_that_tracks_other_files(tmp_path: Path, db_url: str, db_conn, capsys) -> None:
    key = register_a_file_of_yours(tmp_path, db_conn)
    code, out, err = run_cli(capsys, "demo", "--workdir", str(tmp_path / "w"), "--db", db_url, *SMALL)
    database = db_url.rsplit("/", 1)[1]
    assert (code, out) == (2, "")
    assert error_line(err) == (
        f"error: postgres@127.0.0.1:{db_url.split(':')[2].split('/')[0]}/{database} tracks 1 file the demo did not "
        f"register (e.g. {key}): the demo writes only into an empty database or an earlier demo's, never among "
        "other files; give it an empty database: --db postgresql://USER@HOST:PORT/NEW_DATABASE")
    assert tracked_keys(db_url) == [key] and not (tmp_path / "w").exists()


def test_the_demo_refuses_a_database_that_is_not_a_tracking_database(tmp_path: Path, pg_server_url: str,
                                                                     capsys) -> None:
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS shop_orders_demo_test")
        cur.execute("CREATE DATABASE shop_orders_demo_test")
    url = pg_server_url.rsplit("/", 1)[0] + "/shop_orders_demo_test"
    try:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE orders (id int)")
        conn.close()
        code, _out, err = run_cli(capsys, "demo", "--workdir", str(tmp_path), "--db", url, *SMALL)
        assert code == 2 and "shop_orders_demo_test holds 1 table and is not a tracking database" in error_line(err)
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('file_processing_status'), to_regclass('schema_migrations')")
            assert cur.fetchone() == (None, None), "the demo migrated a database it refused"
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS shop_orders_demo_test WITH (FORCE)")
        admin.close()


# --- the newcomer's path, on the embedded server -----------------------------------------------------------------


@pytest.fixture
def embedded_home(monkeypatch):
    """A project state folder of its own (its embedded server on a free port), no $DATABASE_URL: as on a fresh
    clone."""
    home = PROJECT_ROOT / ".mldp" / "test-demo-newcomer"
    shutil.rmtree(home, ignore_errors=True)
    monkeypatch.setenv("MLDP_HOME", str(home))
    monkeypatch.setenv("MLDP_PG_PORT", str(free_port()))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    yield home
    server = EmbeddedPostgres(home / "postgres", port=0)
    server.stop()
    shutil.rmtree(server.data_root, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


def run_printed(capsys, command: str, *extra: str) -> tuple[int, str, str]:
    """Run a command the demo printed, as printed (its first word is how to start mldp)."""
    words = shlex.split(command)
    assert words[0] == "mldp" or words[0].endswith("/mldp"), command
    return run_cli(capsys, *words[1:], *extra)


@pytest.mark.spark
def test_after_the_demo_its_printed_commands_show_its_results(embedded_home, tmp_path: Path, spark, capsys) -> None:
    workdir = tmp_path / "w"
    code, out, _err = run_cli(capsys, "demo", "--workdir", str(workdir), *SMALL, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["database"].endswith("/data_platform_db")  # the database every command reads without --db
    assert (workdir / "bucket" / MARKER).is_file()
    status, inspect_overwritten, inspect_problem, requeue, drift = result["next_commands"]
    assert drift == "mldp schema drift" or drift.endswith(" schema drift")
    assert "device" in result["rescued_fields"]["paths"] and '"device"' in result["rescued_fields"]["example"][
        "_rescued_data"]
    assert "--db" not in " ".join(result["next_commands"])

    code, out, _err = run_printed(capsys, status, "--json")
    assert code == 0
    assert {s: v["files"] for s, v in json.loads(out)["files_by_state"].items() if v["files"]} == \
        result["files_by_state"]
    code, out, _err = run_printed(capsys, inspect_overwritten)
    assert code == 0 and "state         SUCCEEDED" in out and "Curated Parquet: " in out
    assert inspect_overwritten.split()[2] == "raw-json-data/2024/week02/part-0002.jsonl"
    code, out, _err = run_printed(capsys, inspect_problem)
    assert code == 0 and result["problems"][0]["key"] in out
    code, out, _err = run_printed(capsys, requeue)
    assert code == 0 and out.startswith("dry run: ")
    code, out, _err = run_printed(capsys, drift)
    assert code == 0 and "device  (unknown field)" in out and "suggested spec column" in out

    # make demo again: the earlier demo's database and folder are cleared and reused
    code, out, _err = run_cli(capsys, "demo", "--workdir", str(workdir), *SMALL, "--json")
    again = json.loads(out)
    assert code == 0 and again["files_by_state"] == result["files_by_state"]
    assert again["listing"]["new"] == result["listing"]["new"]  # registered anew, not next to the first run's
    url = f"postgresql://{result['database']}"
    assert len(tracked_keys(url)) == sum(result["files_by_state"].values())

    # your own files in that database: the demo refuses and names a database of its own, which it creates
    conn = psycopg2.connect(url)
    register_a_file_of_yours(tmp_path, conn)
    conn.close()
    code, _out, err = run_cli(capsys, "demo", "--workdir", str(workdir), *SMALL)
    own = url.rsplit("/", 1)[0] + f"/{OWN_DATABASE}"
    assert code == 2 and f"give it a database of its own: mldp demo --db {own} (created on the embedded " \
        "server), then pass the same --db to mldp status and mldp inspect" in error_line(err)


def test_the_demo_run_itself_refuses_a_store_folder_it_did_not_create(tmp_path: Path, db_conn, db_url,
                                                                       monkeypatch) -> None:
    """The folder rule holds in :func:`runtime.operator.demo.run_demo` itself, not only in the CLI's order of calls
    (found by the review of the demo split): a caller of the operator API cannot delete a folder the demo did not
    create."""
    from runtime.errors import UsageError
    from runtime.operator import demo

    monkeypatch.setenv("MLDP_HOME", str(tmp_path / "home"))
    precious = tmp_path / "work" / "bucket" / "precious.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("mine")
    options = demo.DemoOptions(db=db_url, workdir=tmp_path / "work", force=False, files=3)

    with pytest.raises(UsageError, match="was not created by mldp demo"):
        demo.run_demo(db_conn, db_url, options, say=lambda *_: None, started=0.0)
    assert precious.read_text() == "mine"
