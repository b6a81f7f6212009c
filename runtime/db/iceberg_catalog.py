"""The tracking database's part in the Iceberg table format (:mod:`runtime.table`): the schema that holds the local
pyiceberg ``SqlCatalog`` and the advisory lock that serializes the project's own commits to one table. Python
3.9-compatible."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from psycopg2 import sql

from runtime.db.connection import connect


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


@contextlib.contextmanager
def advisory_lock(conn: Any, key: int) -> Iterator[None]:
    """Hold the session-level advisory lock ``key`` on ``conn`` (released on exit, or when the session ends: a
    killed process never keeps it). The transaction it was taken in is committed at once."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (key,))
    conn.commit()
    try:
        yield
    finally:
        with contextlib.suppress(Exception), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
            conn.commit()
