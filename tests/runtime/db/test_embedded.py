"""``mldp db start|stop|status|url``: the project-managed PostgreSQL server (a separate cluster from the test
server, in a git-ignored project folder)."""

from __future__ import annotations

import shutil

import psycopg2
import pytest

from runtime.cli import main
from runtime.db.embedded import EmbeddedPostgres, find_server_binaries, free_port, server_reachable_root
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def mldp_home(monkeypatch):
    home = PROJECT_ROOT / ".mldp" / "test-db-cli"
    shutil.rmtree(home, ignore_errors=True)
    monkeypatch.setenv("MLDP_HOME", str(home))
    monkeypatch.setenv("MLDP_PG_PORT", str(free_port()))
    yield home
    server = EmbeddedPostgres(home / "postgres", port=0)
    server.stop()
    shutil.rmtree(server.data_root, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


def test_db_start_status_url_stop(mldp_home, capsys):
    assert main(["db", "status"]) == 3
    assert "stopped" in capsys.readouterr().out

    assert main(["db", "start"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.endswith("/data_platform_db")
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone() == ("data_platform_db",)
    conn.close()
    assert (server_reachable_root(mldp_home / "postgres") / "data" / "PG_VERSION").exists()

    assert main(["db", "start"]) == 0  # idempotent while running
    assert capsys.readouterr().out.strip() == url
    assert main(["db", "status"]) == 0 and "running" in capsys.readouterr().out
    assert main(["db", "url"]) == 0 and capsys.readouterr().out.strip() == url

    assert main(["db", "stop"]) == 0 and capsys.readouterr().out.strip() == "stopped"
    assert main(["db", "stop"]) == 0 and capsys.readouterr().out.strip() == "not running"
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=2)


def test_migrate_command_reports_up_to_date(db_url, capsys):
    assert main(["migrate", "--db", db_url]) == 0
    assert capsys.readouterr().out.strip() == "schema is up to date"


def test_server_binaries_are_found():
    assert (find_server_binaries() / "pg_ctl").exists()


def test_a_taken_default_port_moves_the_server_to_a_free_one_and_remembers_it(monkeypatch, capsys):
    import socket

    from runtime.db.embedded import DEFAULT_PORT

    home = PROJECT_ROOT / ".mldp" / "test-db-port"
    shutil.rmtree(home, ignore_errors=True)
    monkeypatch.setenv("MLDP_HOME", str(home))
    monkeypatch.delenv("MLDP_PG_PORT", raising=False)
    squatter = socket.socket()
    try:
        try:
            squatter.bind(("127.0.0.1", DEFAULT_PORT))
            squatter.listen()
        except OSError:
            pass  # another program holds it already: the same situation
        assert main(["db", "start"]) == 0
        url = capsys.readouterr().out.strip()
        assert f":{DEFAULT_PORT}/" not in url
        assert main(["db", "url"]) == 0 and capsys.readouterr().out.strip() == url

        monkeypatch.setenv("MLDP_PG_PORT", str(DEFAULT_PORT))  # a pinned port that is taken: a clear error
        monkeypatch.setenv("MLDP_HOME", str(home / "pinned"))
        assert main(["db", "start"]) == 2
        assert f"port {DEFAULT_PORT} on 127.0.0.1 is in use" in capsys.readouterr().err
    finally:
        squatter.close()
        monkeypatch.setenv("MLDP_HOME", str(home))
        monkeypatch.delenv("MLDP_PG_PORT", raising=False)
        main(["db", "stop"])
        shutil.rmtree(home, ignore_errors=True)


def test_a_data_folder_the_server_user_cannot_reach_moves_under_the_temp_directory(tmp_path):
    import os

    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    os.chmod(hidden, 0o700)
    server = EmbeddedPostgres(hidden / "checkout" / ".mldp" / "postgres", port=0)
    if os.geteuid() == 0:  # the server runs as 'postgres', which cannot traverse a 0700 folder of root's
        assert server.data_root.parent.name.startswith("mldp-") and server.data_root.name == "postgres"
        again = EmbeddedPostgres(hidden / "checkout" / ".mldp" / "postgres", port=0)
        assert again.data_root == server.data_root  # every command finds the same cluster
    else:  # the server runs as this user, which owns the folder
        assert server.data_root == hidden / "checkout" / ".mldp" / "postgres"
