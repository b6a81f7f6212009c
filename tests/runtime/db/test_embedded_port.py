"""The embedded server keeps its port across ``mldp db stop`` / ``start``, also when clients were connected
(the server's side of their connections lingers on that port after the server closes them)."""

from __future__ import annotations

import shutil

import psycopg2
import pytest

from runtime.cli import main
from tests.conftest import PROJECT_ROOT


def test_a_restart_after_connected_clients_keeps_the_port(monkeypatch, capsys):
    home = PROJECT_ROOT / ".mldp" / "test-db-restart"
    shutil.rmtree(home, ignore_errors=True)
    monkeypatch.setenv("MLDP_HOME", str(home))
    monkeypatch.delenv("MLDP_PG_PORT", raising=False)  # unpinned: the server may move only when it must
    try:
        assert main(["db", "start"]) == 0
        url = capsys.readouterr().out.strip()
        clients = [psycopg2.connect(url) for _ in range(3)]
        for conn in clients:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        # the server closes the connections, the clients (a psql in another terminal...) have not yet: the
        # server's side of each lingers on its port (FIN-WAIT-2, then TIME-WAIT) while nothing listens there
        assert main(["db", "stop"]) == 0
        capsys.readouterr()
        assert main(["db", "start"]) == 0
        assert capsys.readouterr().out.strip() == url
        assert main(["db", "url"]) == 0 and capsys.readouterr().out.strip() == url
        for conn in clients:
            conn.close()
    finally:
        main(["db", "stop"])
        shutil.rmtree(home, ignore_errors=True)


def test_the_server_says_which_urls_name_its_databases(tmp_path):
    from runtime.db.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path / "pg", port=54400)
    assert server.serves("postgresql://postgres@127.0.0.1:54400/data_platform_db")
    assert server.serves("postgresql://postgres@127.0.0.1:54400/mldp_demo")
    assert server.base_url() == "postgresql://postgres@127.0.0.1:54400/"
    for other in ("postgresql://postgres@127.0.0.1:54401/data_platform_db",  # another port
                  "postgresql://bob@127.0.0.1:54400/data_platform_db",  # another user
                  "postgresql://postgres:secret@127.0.0.1:54400/data_platform_db",  # a password: not ours
                  "postgresql://postgres@db.example.com:54400/x?host=127.0.0.1",
                  "postgresql://x@db.example.com/y?note=@127.0.0.1:54400/"):  # the old substring test's false hit
        assert not server.serves(other), other


def test_a_url_of_no_local_superuser_is_answered_without_looking_for_the_server(tmp_path, monkeypatch):
    from runtime.db import embedded

    monkeypatch.setattr(embedded, "default_server", lambda: pytest.fail("looked for the server"))
    assert embedded.embedded_base_url("postgresql://app@db.example.com:5432/tracking") is None
