"""What command handlers share at run time: the database they open, how they print a result, and the boundary
where the values a user typed are validated.

The database modules are imported at module level on purpose: the lister's import closure (checked
Python 3.9-compatible in the tests) follows the module-level imports of ``runtime/commands``. Python
3.9-compatible, no Spark.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from runtime.db.connection import connect, resolve_database_url
from runtime.db.migrations import apply_migrations
from runtime.errors import UsageError


def open_database(db_url: str | None, secret_arn: str | None = None, application_name: str = "mldp") -> Any:
    """Resolve, connect and migrate: every job and command starts here. Returns the psycopg2 connection."""
    conn = connect(resolve_database_url(db_url, secret_arn), application_name=application_name)
    apply_migrations(conn)
    return conn


def emit(data: dict, as_json: bool, human: Callable[[dict], str]) -> None:
    """Print ``data`` as one JSON document or as the human text ``human(data)``."""
    print(json.dumps(data, default=str) if as_json else human(data))


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
