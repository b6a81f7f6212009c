"""Every ``mldp`` subcommand, one module each, listed once in :data:`COMMANDS`.

A command module has ``register(sub)``, which adds its parser(s) to the ``mldp`` subparsers and sets ``handler``
(``handler(args) -> exit status``) with ``set_defaults``. Shared options live in :mod:`runtime.commands.options`,
shared run-time helpers in :mod:`runtime.commands.common`. Every module here is imported by every ``mldp`` run,
the Glue Python-shell lister included: module-level imports stay Python 3.9-compatible and free of
pyspark/pyarrow; a handler imports what it alone needs inside its body.
"""

from __future__ import annotations

from types import ModuleType

from runtime.commands import (
    compact,
    db,
    demo,
    inspect,
    migrate,
    process,
    recover,
    reprocess,
    requeue,
    schema,
    smoke,
    snapshot,
    status,
)
from runtime.commands import list as list_command

#: The command modules, in the order ``mldp --help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (db, migrate, list_command, demo, inspect, process, recover, requeue, reprocess,
                                     schema, smoke, snapshot, compact, status)
