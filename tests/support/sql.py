"""Reading a test database in one call."""

from __future__ import annotations

from typing import Any

import psycopg2


def fetch_all(db_url: str, statement: str, params: Any = None) -> list[tuple]:
    """The rows of ``statement`` run on a connection of its own (closed afterwards, so it holds no lock)."""
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    finally:
        conn.close()


def files_by_key(conn: Any, columns: str) -> dict[str, tuple]:
    """``s3_key -> (columns...)`` of every tracked file, read on ``conn`` (its transaction ended afterwards, so
    the next read sees later commits)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT s3_key, {columns} FROM file_processing_status")
        rows = {row[0]: row[1:] for row in cur.fetchall()}
    conn.commit()
    return rows
