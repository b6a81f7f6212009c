"""What command handlers share at run time: the database they open, how they print a result, and the boundary
where the values a user typed are validated.

The database modules are imported at module level on purpose: the lister's import closure (checked
Python 3.9-compatible in the tests) follows the module-level imports of ``runtime/commands``. Python
3.9-compatible, no Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2

from runtime.db.connection import connect, describe_url, redact
from runtime.db.credentials import CredentialsProvider, owner_credentials, resolve_credentials
from runtime.db.migrations import apply_migrations, require_current_schema
from runtime.errors import UsageError
from runtime.transforms import exact_json

#: The database URL this process connected to last (see :func:`database_error_message`).
_database_url: str | None = None


def credentials_from_args(args: Any) -> CredentialsProvider:
    """The credentials provider a job's options name (``--db``, ``--db-host``/``--db-port``/``--db-name``,
    ``--db-secret-arn``, ``--db-iam-user``, ``--db-ca-bundle``; see
    :func:`runtime.db.credentials.resolve_credentials`)."""
    host = getattr(args, "db_host", None)
    endpoint = ({"host": host, "port": getattr(args, "db_port", None), "dbname": getattr(args, "db_name", None)}
                if host else None)
    return resolve_credentials(getattr(args, "db", None), getattr(args, "db_secret_arn", None),
                               iam_user=getattr(args, "db_iam_user", None),
                               ca_bundle=getattr(args, "db_ca_bundle", None), endpoint=endpoint)


def connect_database(db: str | CredentialsProvider | None, secret_arn: str | None = None,
                     application_name: str = "mldp") -> Any:
    """Connect to ``db``: a credentials provider (asked for a fresh URL now), else resolved as a URL (``--db``,
    ``$DATABASE_URL``, the secret, the embedded server), remembering the URL so that a failure later in the command
    names the server. Returns the psycopg2 connection."""
    global _database_url
    provider = db if db is not None and not isinstance(db, str) else resolve_credentials(db, secret_arn)
    url = provider.connection_url()
    _database_url = url
    return connect(url, application_name=application_name)


def open_database(db: str | CredentialsProvider | None, secret_arn: str | None = None,
                  application_name: str = "mldp") -> Any:
    """Resolve, migrate and connect: every job and command starts here. Returns the psycopg2 connection.

    The migrations run as the owner: on a connection of their own, closed before the work starts, when the working
    connections authenticate as the application role (IAM tokens as ``mldp_app``), else on the working
    connection itself (local mode: one URL). A job without owner credentials (given the endpoint and no secret:
    the processor and backfill jobs on AWS) migrates nothing: it checks that every migration of its code is
    applied, and stops with :class:`~runtime.db.migrations.MigrationPending` (exit status 3) before any work when
    one is not."""
    provider = db if db is not None and not isinstance(db, str) else resolve_credentials(db, secret_arn)
    owner = owner_credentials(provider)
    if owner is None:
        conn = connect_database(provider, application_name=application_name)
        try:
            require_current_schema(conn, current_database())
        except BaseException:
            conn.close()
            raise
        return conn
    if owner is provider:
        conn = connect_database(provider, application_name=application_name)
        apply_migrations(conn)
        return conn
    owner_conn = connect_database(owner, application_name=f"{application_name}-migrations")
    try:
        apply_migrations(owner_conn)
    finally:
        owner_conn.close()
    return connect_database(provider, application_name=application_name)


def current_database() -> str:
    """``user@host:port/database`` of the database this process connected to last (no password), for messages."""
    return describe_url(_database_url) if _database_url else "the tracking database"


def database_error_message(error: psycopg2.Error) -> str:
    """One line for a database that failed under a running command (``psycopg2.OperationalError`` or
    ``InterfaceError`` after the connection was opened): what happened, on which server, what to do. Never the
    password.

    The root cause is reported: a rollback on a connection the server closed raises "connection already closed"
    over the error that says why it closed.
    """
    cause = _root_database_error(error)
    diag = getattr(cause, "diag", None)  # a server error's own message, without its CONTEXT and HINT lines
    reason = " ".join(str(getattr(diag, "message_primary", None) or cause).split()).rstrip(".")
    reason = reason or type(cause).__name__
    if _database_url:
        reason = redact(reason, _database_url)
    code = getattr(cause, "pgcode", None)
    if isinstance(cause, psycopg2.InterfaceError) or not code or code.startswith(("08", "57P")):
        return (f"lost the connection to PostgreSQL at {current_database()}: {reason}; check that the server is "
                "running (mldp db status, for the embedded one) and run the command again")
    if code == "57014":  # query_canceled: the session's statement timeout (runtime.db.connection.SessionLimits)
        return (f"PostgreSQL at {current_database()} failed: {reason} (SQLSTATE {code}): a statement waited or ran "
                "longer than the session's statement_timeout (10 min by default); look for a session holding a "
                "lock (pg_stat_activity), or raise it in the URL: ?options=-c%20statement_timeout%3D30min")
    return f"PostgreSQL at {current_database()} failed: {reason} (SQLSTATE {code})"


def _root_database_error(error: BaseException) -> BaseException:
    """The earliest ``psycopg2.OperationalError`` in the chain of ``error`` (its context, its context's ...)."""
    found, seen = error, set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg2.OperationalError):
            found = current
        current = current.__cause__ or current.__context__
    return found


def emit(data: dict, as_json: bool, human: Callable[[dict], str]) -> None:
    """Print ``data`` as one JSON document or as the human text ``human(data)``."""
    # exact numbers (a rescued example's JsonNumber) as their text; anything else json cannot write as str()
    print(exact_json.dumps(data, (", ", ": "), ensure_ascii=True, default=str) if as_json else human(data))


@contextmanager
def user_input() -> Iterator[None]:
    """Around the validation of values the user gave (options, times, settings, names): a ``ValueError`` raised
    inside is the user's to fix and leaves as a :class:`~runtime.errors.UsageError` (one ``error:`` line, exit 2).

    Wrap only the calls that validate such values, never a whole command: a ``ValueError`` anywhere else is a bug
    and keeps its traceback.
    """
    try:
        yield
    except UsageError:
        raise
    except ValueError as error:
        raise UsageError(str(error)) from error
