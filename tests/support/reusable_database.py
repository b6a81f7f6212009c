"""One migrated database per test process, emptied between tests instead of re-cloned.

Cloning the ~8 MB template costs about a quarter of a second per test (it writes every catalog file); emptying
the tables costs about 30 ms. A test still starts from what a fresh clone would give it:

- every connection the previous test left open is terminated (as ``DROP DATABASE ... WITH (FORCE)`` did), which
  also releases its locks and advisory locks;
- every table except the migration ledger is truncated and its identity sequences restart at 1;
- the database's statistics counters (``pg_stat_database``: deadlocks, ...) are reset;
- and if the test changed the schema itself (a dropped index, a new table, a disabled trigger, a policy, another
  schema, a large object, a database setting), the database is dropped and cloned again from the template, so no
  test ever sees another test's schema.
"""

from __future__ import annotations

import uuid

import psycopg2
from psycopg2 import sql

#: a digest of everything a migration (or a test) can change in the schema of the ``public`` namespace (relations
#: with their options, row security and grants, columns, indexes, constraints, triggers and whether they are
#: enabled, functions, policies, rules), of the other namespaces and large objects, and of the database's settings
SCHEMA_FINGERPRINT = """
SELECT md5(string_agg(part, E'\\n' ORDER BY part)) FROM (
  SELECT format('rel %s %s rls=%s %s %s', c.relname, c.relkind, c.relrowsecurity, c.reloptions, c.relacl) AS part
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('col %s.%s %s %s %s', a.attrelid::regclass, a.attname, format_type(a.atttypid, a.atttypmod),
                pg_get_expr(ad.adbin, ad.adrelid), a.attnotnull)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('idx %s', indexdef) FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL
  SELECT format('con %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) FROM pg_constraint
   WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('trg %s enabled=%s', pg_get_triggerdef(oid), tgenabled) FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
  SELECT format('fn %s %s', p.oid::regprocedure, md5(p.prosrc)) FROM pg_proc p
   WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('pol %s %s %s', polrelid::regclass, polname, polcmd) FROM pg_policy
  UNION ALL
  SELECT format('rule %s', definition) FROM pg_rules WHERE schemaname <> 'pg_catalog'
  UNION ALL
  SELECT format('ns %s', nspname) FROM pg_namespace
   WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
  UNION ALL
  SELECT format('large objects %s', count(*)) FROM pg_largeobject_metadata
  UNION ALL
  SELECT format('set %s', s.setconfig) FROM pg_db_role_setting s
    JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database()
  UNION ALL
  SELECT format('ledger %s', version) FROM schema_migrations
) AS parts
"""

TABLES_TO_EMPTY = """
SELECT string_agg(format('%I', tablename), ', ' ORDER BY tablename) FROM pg_tables
 WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
"""

TERMINATE_OTHER_SESSIONS = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


def with_database(url: str, database: str) -> str:
    """``url`` pointing at ``database`` on the same server."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


class ReusableDatabase:
    """A migrated database cloned once from ``template`` and handed to test after test, emptied in between.

    :meth:`acquire` returns its URL in the state of a fresh clone; :meth:`release` empties it after the test (or
    drops it when the test changed its schema, so the next :meth:`acquire` clones it again).
    """

    def __init__(self, server_url: str, template: str) -> None:
        self._server_url = server_url
        self._template = template
        self._name: str | None = None
        # read once from the template: a database whose schema still matches it has the same tables
        self._template_fingerprint, tables = self._read_template(with_database(server_url, template))
        self._empty_tables = f"TRUNCATE {tables} RESTART IDENTITY CASCADE" if tables else None

    def acquire(self) -> str:
        """The URL of a database equal to a fresh clone of the template."""
        if self._name is None:
            name = f"t_{uuid.uuid4().hex[:12]}"
            self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                         sql.Identifier(self._template)))
            self._name = name
        return with_database(self._server_url, self._name)

    def release(self) -> None:
        """Empty the database for the next test, or drop it if its schema is no longer the template's (or it
        cannot be read at all: the test dropped the ledger, or the database)."""
        if self._name is not None and not self._emptied():
            self.drop()

    def _emptied(self) -> bool:
        try:
            # a session that survived its termination would make TRUNCATE wait: give up and re-clone instead
            conn = psycopg2.connect(with_database(self._server_url, self._name), options="-c lock_timeout=10s")
        except psycopg2.Error:
            return False
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(TERMINATE_OTHER_SESSIONS)
                cur.execute(SCHEMA_FINGERPRINT)
                if cur.fetchone()[0] != self._template_fingerprint:
                    return False
                if self._empty_tables:
                    cur.execute(self._empty_tables)
                cur.execute("SELECT pg_stat_reset()")
                return True
        except psycopg2.Error:
            return False
        finally:
            conn.close()

    def drop(self) -> None:
        """Drop the database (the next :meth:`acquire` clones a new one)."""
        if self._name is not None:
            self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self._name)))
            self._name = None

    def _admin(self, statement: sql.Composable) -> None:
        admin = psycopg2.connect(self._server_url)
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(statement)
        finally:
            admin.close()

    @staticmethod
    def _read_template(url: str) -> tuple[str, str | None]:
        """The template's schema fingerprint and the tables to empty (``a, b, c``; None if there is none)."""
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute(SCHEMA_FINGERPRINT)
                fingerprint = cur.fetchone()[0]
                cur.execute(TABLES_TO_EMPTY)
                return fingerprint, cur.fetchone()[0]
        finally:
            conn.close()
