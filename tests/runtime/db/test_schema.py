"""``runtime/db/schema.sql`` is the current schema: the migrations, applied in order to one empty database, and the
file, loaded into another, produce the same catalog (tables and their columns, constraints, indexes, sequences,
triggers, functions and comments). A migration added without updating ``schema.sql`` fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

import runtime.db
from runtime.db.migrations import apply_migrations

#: The catalog of the ``public`` schema, one query per kind of object, each returning sorted, comparable rows.
#: ``schema_migrations`` (the migrations' bookkeeping, created by runtime/db/migrations.py) is not in schema.sql.
CATALOG = {
    "tables": """
        SELECT c.relname, c.relkind FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v', 'm', 'p') AND c.relname <> 'schema_migrations'
        ORDER BY 1""",
    "columns": """
        SELECT table_name, ordinal_position, column_name, data_type, character_maximum_length, is_nullable,
            column_default, udt_name
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> 'schema_migrations'
        ORDER BY 1, 2""",
    "constraints": """
        SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace
        WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> 'schema_migrations'
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
        ORDER BY 1, 2""",
    "triggers": """
        SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger AS t WHERE NOT t.tgisinternal
        ORDER BY 1, 2""",
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid)
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
        ORDER BY 1""",
    "comments": """
        SELECT c.relname, a.attname, d.description
        FROM pg_description AS d
        JOIN pg_class AS c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
        WHERE n.nspname = 'public'
        ORDER BY 1, 2""",
}


def catalog(url: str) -> dict[str, list[tuple]]:
    """The catalog of the database at ``url``, by kind of object. A CHECK constraint's ``NOT VALID`` is dropped:
    migration 0006 adds one so as not to scan existing rows; the constraint is the same."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            found = {}
            for kind, query in CATALOG.items():
                cur.execute(query)
                found[kind] = [tuple(re.sub(r" NOT VALID$", "", v) if isinstance(v, str) else v for v in row)
                               for row in cur.fetchall()]
        return found
    finally:
        conn.close()


def schema_sql() -> str:
    """The text of ``runtime/db/schema.sql``."""
    return (Path(runtime.db.__file__).parent / "schema.sql").read_text(encoding="utf-8")


@pytest.fixture
def migrated_url(empty_db_url: str) -> str:
    """An empty database with every migration applied."""
    conn = psycopg2.connect(empty_db_url)
    try:
        apply_migrations(conn)
    finally:
        conn.close()
    return empty_db_url


@pytest.fixture
def schema_url(pg_server_url: str, empty_db_url: str) -> Iterator[str]:
    """A second empty database (created like ``empty_db_url``), with schema.sql loaded."""
    name = empty_db_url.rpartition("/")[2] + "_schema"
    admin = psycopg2.connect(pg_server_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{empty_db_url.rpartition('/')[0]}/{name}"
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(schema_sql())
        conn.commit()
    finally:
        conn.close()
    yield url
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


def test_the_migrations_produce_exactly_schema_sql(migrated_url: str, schema_url: str):
    migrated, loaded = catalog(migrated_url), catalog(schema_url)
    assert migrated["tables"], "the migrations created nothing: the comparison would prove nothing"
    for kind in CATALOG:
        missing = [row for row in migrated[kind] if row not in loaded[kind]]
        extra = [row for row in loaded[kind] if row not in migrated[kind]]
        assert (missing, extra) == ([], []), (
            f"runtime/db/schema.sql differs from the migrations in its {kind}: the migrations have {missing}, "
            f"schema.sql has {extra} instead; update schema.sql with what the new migration changes")


def test_the_comparison_sees_a_migration_missing_from_schema_sql(migrated_url: str, schema_url: str):
    conn = psycopg2.connect(migrated_url)  # as if a new migration added a column and an index
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE processing_batches ADD COLUMN priority INTEGER")
            cur.execute("CREATE INDEX idx_batches_priority ON processing_batches (priority)")
        conn.commit()
    finally:
        conn.close()
    migrated, loaded = catalog(migrated_url), catalog(schema_url)
    assert migrated["columns"] != loaded["columns"] and migrated["indexes"] != loaded["indexes"]
