"""The tracking database's part in the Iceberg table format (:mod:`runtime.table`): the schema that holds the local
pyiceberg ``SqlCatalog`` and the advisory lock that serializes the project's own commits to one table. Python
3.9-compatible."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from psycopg2 import sql

from runtime.db.connection import connect
from runtime.errors import RunStopped


def ensure_schema(database_url: str, schema: str) -> None:
    """Create ``schema`` in the database at ``database_url`` if it is missing (idempotent)."""
    conn = connect(database_url, application_name="mldp-iceberg-catalog")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    finally:
        conn.close()


def schema_exists(database_url: str, schema: str) -> bool:
    """Whether the database at ``database_url`` has ``schema`` (read-only)."""
    conn = connect(database_url, application_name="mldp-iceberg-catalog")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            return cur.fetchone() is not None
    finally:
        conn.close()


#: Seconds a commit waits for a table's advisory lock (held by another commit, or a long ``mldp compact``) before
#: the run stops (:class:`TableLockBusy`, exit status 3).
LOCK_WAIT_SECONDS = 900.0
#: Seconds between two tries of the lock.
LOCK_POLL_SECONDS = 0.5


class TableLockBusy(RunStopped):
    """The table's advisory lock stayed held by another writer longer than the wait allowed: the run stops with exit
    status 3 before its commit (no file is charged; the batch has its manifest and is rolled forward later)."""


@contextlib.contextmanager
def advisory_lock(conn: Any, key: int, wait_seconds: float = LOCK_WAIT_SECONDS,
                  poll_seconds: float = LOCK_POLL_SECONDS) -> Iterator[None]:
    """Hold the session-level advisory lock ``key`` on ``conn`` (released on exit, or when the session ends: a
    killed process never keeps it), tried every ``poll_seconds`` (``pg_try_advisory_lock``: no statement waits, so
    no ``statement_timeout`` cancels one) for at most ``wait_seconds``, then :class:`TableLockBusy`. Each try's
    transaction is committed at once."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            taken = bool(cur.fetchone()[0])
        conn.commit()
        if taken:
            break
        if time.monotonic() >= deadline:
            raise TableLockBusy(f"the Iceberg table's commit lock stayed held by another writer (mldp compact, "
                                f"another processor) for {wait_seconds:.0f}s; nothing was committed or charged, "
                                "a later run commits the batch")
        time.sleep(poll_seconds)
    try:
        yield
    finally:
        with contextlib.suppress(Exception), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
            conn.commit()
