"""Two README claims, proven: the embedded server runs as the unprivileged ``postgres`` user when invoked as root
(PostgreSQL refuses to run as root), and migrations applied by jobs starting together are applied once each,
serialized by the advisory lock."""

from __future__ import annotations

import os
import pwd
import threading
import uuid

import psycopg2
from psycopg2 import sql

from runtime.db.migrations import apply_migrations, available_migrations


def _owner_of(pid: int) -> str:
    with open(f"/proc/{pid}/status") as status:
        uid = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
    return pwd.getpwuid(uid).pw_name


def test_the_server_process_runs_as_postgres_when_invoked_as_root_else_as_the_caller(pg_server_url):
    conn = psycopg2.connect(pg_server_url)
    try:  # the backend process lives as long as its connection: read /proc while it is open
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            (backend,) = cur.fetchone()
        with open(f"/proc/{backend}/status") as status:
            postmaster = next(int(line.split()[1]) for line in status if line.startswith("PPid:"))
        backend_owner = _owner_of(backend)
    finally:
        conn.close()
    expected = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert _owner_of(postmaster) == expected
    assert backend_owner == expected


def test_jobs_starting_together_apply_each_migration_once(pg_server_url):
    name = f"m_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{pg_server_url.rpartition('/')[0]}/{name}"
    start = threading.Barrier(4)
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def job() -> None:
        conn = psycopg2.connect(url)
        try:
            start.wait()
            applied.append(apply_migrations(conn))
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    try:
        threads = [threading.Thread(target=job) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        versions = [m.version for m in available_migrations()]
        assert sorted(v for run in applied for v in run) == versions  # each applied by exactly one job
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT version FROM schema_migrations ORDER BY version")
            assert [v for (v,) in cur.fetchall()] == versions
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
