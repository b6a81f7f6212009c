"""A PostgreSQL server for benchmarks: ``$BENCH_DATABASE_SERVER_URL`` or an embedded durable server."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
from psycopg2 import sql

from runtime.db.embedded import EmbeddedPostgres, free_port
from runtime.db.migrations import apply_migrations

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def bench_server() -> Iterator[str]:
    """Yield the admin URL of a server for the benchmark (durable settings, as in production)."""
    existing = os.environ.get("BENCH_DATABASE_SERVER_URL")
    if existing:
        yield existing
        return
    server = EmbeddedPostgres(ROOT / ".mldp" / "pg-bench", port=free_port(), database="postgres", durable=True)
    server.stop()
    server.start()
    try:
        yield server.admin_url()
    finally:
        server.stop()


@contextlib.contextmanager
def fresh_database(admin_url: str, migrate: bool = True) -> Iterator[str]:
    """A new database on the server (migrated unless told otherwise), dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    if migrate:
        conn = psycopg2.connect(url)
        apply_migrations(conn)
        conn.close()
    try:
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
