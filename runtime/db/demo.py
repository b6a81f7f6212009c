"""The SQL of ``mldp demo`` (:mod:`runtime.operator.demo`), and the two things it asks of a tracking database:
what the database holds (may the demo write into it?) and clearing it for a new sample.

The demo records the keys of the sample it generated in the table :data:`KEYS_TABLE` of the database it writes
to: a database that tracks only those keys is an earlier demo's, which the demo may clear and reuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

#: The demo's record of the keys it generated, in the tracking database it writes to.
KEYS_TABLE = "mldp_demo_files"

#: Whether the tracking table and the demo's key table exist, and how many tables the database holds.
INSPECT_STATE = """
SELECT to_regclass('file_processing_status') IS NOT NULL, to_regclass('mldp_demo_files') IS NOT NULL,
    (SELECT count(*) FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND tablename <> 'schema_migrations')
"""
#: The tracked files whose keys the demo did not record, and one of them.
FILES_NOT_THE_DEMOS = """
SELECT count(*), min(s3_key) FROM file_processing_status AS f
WHERE NOT EXISTS (SELECT 1 FROM mldp_demo_files AS d WHERE d.s3_key = f.s3_key)
"""
#: Every tracked file, and one of them (a database without the demo's key table).
ALL_FILES = "SELECT count(*), min(s3_key) FROM file_processing_status"
#: Clear a demo's database (the key table created if needed).
RESET = """
CREATE TABLE IF NOT EXISTS mldp_demo_files (s3_key TEXT PRIMARY KEY);
COMMENT ON TABLE mldp_demo_files IS 'written by mldp demo: the keys of its sample; the demo clears and reuses this '
    'database only while it tracks no other key';
TRUNCATE file_processing_status, processing_batches, file_processing_history, mldp_demo_files
    RESTART IDENTITY CASCADE
"""
#: Record the keys of the new sample.
RECORD_KEYS = "INSERT INTO mldp_demo_files (s3_key) SELECT unnest(%s::text[])"


@dataclass(frozen=True)
class DatabaseContents:
    """What a database holds, as the demo judges it: whether it has the tracking schema, how many tables it has
    (``schema_migrations`` aside), and how many tracked files the demo did not register (with one of their keys)."""

    tracking: bool
    tables: int
    foreign_files: int
    example_key: str | None


def inspect_database(conn: Connection) -> DatabaseContents:
    """What the database of ``conn`` holds (read only: rolled back)."""
    with conn.cursor() as cur:
        cur.execute(INSPECT_STATE)
        tracking, marked, tables = cur.fetchone()
        if tracking:
            cur.execute(FILES_NOT_THE_DEMOS if marked else ALL_FILES)
            foreign, example = cur.fetchone()
        else:
            foreign, example = 0, None
    conn.rollback()
    return DatabaseContents(bool(tracking), int(tables), int(foreign), example)


def reset_database(conn: Connection, keys: Sequence[str]) -> None:
    """Clear the demo's database (judged by :func:`inspect_database`) and record ``keys``, the new sample's."""
    with conn.cursor() as cur:
        cur.execute(RESET)
        cur.execute(RECORD_KEYS, (list(keys),))
    conn.commit()
