"""The embedded server keeps its port across ``mldp db stop`` / ``start``, also when clients were connected
(their connections linger in TIME-WAIT on that port after the server closes them)."""

from __future__ import annotations

import shutil

import psycopg2

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
        assert main(["db", "stop"]) == 0  # the server closes the connections: TIME-WAIT on its port
        for conn in clients:
            conn.close()
        capsys.readouterr()
        assert main(["db", "start"]) == 0
        assert capsys.readouterr().out.strip() == url
        assert main(["db", "url"]) == 0 and capsys.readouterr().out.strip() == url
    finally:
        main(["db", "stop"])
        shutil.rmtree(home, ignore_errors=True)
