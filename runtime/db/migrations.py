"""Versioned SQL migrations (``runtime/db/migrations/NNNN_name.sql``), applied idempotently under an advisory
lock by ``mldp migrate`` and by every job at start.

The files are package data read through ``importlib.resources``: on Glue the ``runtime`` package is imported
from a zip (``--extra-py-files``), where globbing ``Path(__file__).parent`` finds nothing."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from typing import TYPE_CHECKING

import psycopg2

from runtime.errors import MldpError

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

log = logging.getLogger(__name__)

#: The migrations folder inside the ``runtime.db`` package (a directory, or a folder of a zip).
MIGRATIONS_DIR: Traversable = resources.files("runtime.db").joinpath("migrations")
#: Arbitrary constant: the advisory-lock key every migrating process takes.
ADVISORY_LOCK_KEY = 7_345_120_011
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: For the rest of the transaction only (see :func:`apply_migrations`).
_NO_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = 0"


@dataclass(frozen=True)
class Migration:
    """One migration file: its version, name and SQL."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL: a migration changed after it was applied is reported, not re-applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationFailed(MldpError):
    """A migration the server refused (its own check failing, e.g. 0009's on the application role, or SQL the
    database cannot run): one line naming the migration, the server's message and its hint. Nothing of it was
    applied (each migration runs in its own transaction)."""

    exit_status = 3

    def __init__(self, migration: Migration, error: psycopg2.Error) -> None:
        diag = getattr(error, "diag", None)
        message = " ".join(str(getattr(diag, "message_primary", None) or error).split())
        hint = getattr(diag, "message_hint", None)
        super().__init__(f"migration {migration.version:04d}_{migration.name} failed: {message}"
                         + (f" ({hint})" if hint else "") + f" [SQLSTATE {getattr(error, 'pgcode', None)}]")


def available_migrations(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file in version order; a file with a bad name is an error, not skipped.

    ``directory`` is a folder as a ``pathlib.Path`` or an ``importlib.resources`` traversable (zip-safe).
    """
    migrations = []
    for entry in sorted((e for e in directory.iterdir() if e.name.endswith(".sql")), key=lambda e: e.name):
        match = _NAME.match(entry.name)
        if not match:
            raise ValueError(f"migration file {entry.name} must be named NNNN_snake_case.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    if not migrations:
        raise MldpError(f"no migration found in {directory}: the runtime package was bundled without its SQL files")
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return migrations


def apply_migrations(conn: Connection, directory: Traversable = MIGRATIONS_DIR) -> list[int]:
    """Apply the migrations not yet recorded in ``schema_migrations``; return the versions applied now.

    Concurrent callers serialise on an advisory lock, so two jobs starting together apply each migration once.
    Each migration runs in its own transaction with its bookkeeping row. Neither the wait for the lock (another
    process applying a long migration) nor a migration (an index built over millions of rows) is cut by the
    connection's ``statement_timeout`` (:class:`runtime.db.connection.SessionLimits`): both lift it with ``SET
    LOCAL``, which ends with their transaction, so the connection keeps its limit for everything else.
    """
    migrations = available_migrations(directory)
    conn.rollback()
    previous_autocommit = conn.autocommit
    conn.autocommit = True
    applied_now: list[int] = []
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute(_NO_STATEMENT_TIMEOUT)
        cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))  # a session lock: it outlives the COMMIT
        cur.execute("COMMIT")
        try:
            cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not cur.fetchone()[0]:  # checked first: the application role may read it, not create it (0008)
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
                    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
            cur.execute("SELECT version, checksum FROM schema_migrations")
            done = dict(cur.fetchall())
            for migration in migrations:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        log.warning("migration %04d_%s changed after it was applied; not re-applied",
                                    migration.version, migration.name)
                    continue
                cur.execute("BEGIN")
                try:
                    cur.execute(_NO_STATEMENT_TIMEOUT)
                    cur.execute(migration.sql)
                    cur.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                    cur.execute("COMMIT")
                except Exception as exc:
                    cur.execute("ROLLBACK")
                    if isinstance(exc, psycopg2.Error) and not isinstance(
                            exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):  # the SQL refused: say which
                        raise MigrationFailed(migration, exc) from exc
                    raise
                applied_now.append(migration.version)
                log.info("applied migration %04d_%s", migration.version, migration.name)
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    conn.autocommit = previous_autocommit
    return applied_now


class MigrationPending(MldpError):
    """The database lacks a migration this code needs, in a job that may not migrate (it connects as the
    application role and holds no owner credentials: the processor and backfill jobs on AWS). The run stops
    before claiming anything; the message names the fix."""

    exit_status = 3


def pending_migrations(conn: Connection, directory: Traversable | None = None) -> list[Migration]:
    """The migrations of this code (``directory``, default :data:`MIGRATIONS_DIR`) that ``schema_migrations``
    does not record (all of them when the table is missing). Ends the connection's transaction."""
    migrations = available_migrations(directory or MIGRATIONS_DIR)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not cur.fetchone()[0]:
                return migrations
            cur.execute("SELECT version FROM schema_migrations")
            applied = {row[0] for row in cur.fetchall()}
    finally:
        conn.rollback()
    unknown = sorted(applied - {m.version for m in migrations})
    if unknown:  # a newer lister migrated further: this (older) code runs on the schema it knows
        log.warning("the database has migrations this code does not know (%s): a newer version migrated it",
                    ", ".join(f"{v:04d}" for v in unknown))
    return [m for m in migrations if m.version not in applied]


def require_current_schema(conn: Connection, where: str, directory: Traversable | None = None) -> None:
    """Raise :class:`MigrationPending` (exit status 3) unless every migration of this code is applied to the
    database ``where`` names: what a job that does not migrate checks before claiming anything."""
    pending = pending_migrations(conn, directory)
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        raise MigrationPending(
            f"the tracking database {where} lacks migration {names}, which this code needs, and this job does not "
            "migrate (it holds no owner credentials): run the lister job, which migrates as the owner (aws glue "
            "start-job-run --job-name FileListerAndDbPopulator<suffix>), or `mldp migrate` as the database owner, "
            "then start this run again; nothing was claimed")
