"""``mldp requeue`` (FAILED / QUARANTINED files matching filters) and ``mldp release`` (given keys): back to
PENDING, attempts reset; ``mldp retire`` (FAILED / QUARANTINED files matching filters, PENDING ones with ``--state
PENDING``): RETIRED, given up on. Each change is recorded in the file's history with who, when and why."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from runtime.commands.common import emit, open_database, user_input
from runtime.commands.options import add_db_option, add_json_option, non_negative_int, positive_int
from runtime.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp requeue``, ``mldp release`` and ``mldp retire``."""
    requeue = sub.add_parser("requeue", help="move FAILED or QUARANTINED files back to PENDING (filtered)")
    _add_selection_options(requeue, ["FAILED", "QUARANTINED", "RETIRED"],
                           "default: FAILED and QUARANTINED; RETIRED undoes mldp retire")
    requeue.set_defaults(handler=run_requeue)

    release = sub.add_parser("release", help="move the given FAILED or QUARANTINED files back to PENDING")
    release.add_argument("keys", nargs="+", metavar="KEY", help="raw keys (relative to the bucket)")
    add_db_option(release)
    _add_change_options(release)
    release.set_defaults(handler=run_release)

    retire = sub.add_parser("retire", help="give up on FAILED or QUARANTINED files, or PENDING ones with --state "
                                           "PENDING (filtered): never claimed again, out of the backlog and of the "
                                           "quarantine alarm; never a file being processed")
    _add_selection_options(retire, ["PENDING", "FAILED", "QUARANTINED"],
                           "default: FAILED and QUARANTINED; PENDING only when named, e.g. a file the processor may "
                           "not read")
    retire.set_defaults(handler=run_retire)


def _add_selection_options(parser: argparse.ArgumentParser, states: list[str], states_default: str) -> None:
    add_db_option(parser)
    parser.add_argument("--state", action="append", dest="states", choices=states, type=str.upper,
                        help=f"only files in this state (repeatable; {states_default})")
    parser.add_argument("--prefix", help="only keys starting with this prefix (default: any key)")
    parser.add_argument("--error-contains", metavar="TEXT",
                        help="only files whose error contains TEXT, in any case (default: any error)")
    parser.add_argument("--since", metavar="WHEN",
                        help="only files that got their state at or after WHEN: ISO-8601 (2024-05-01, "
                             "2024-05-01T10:00:00Z) or a duration ago (90m, 24h, 7d, 2w) (default: no bound)")
    parser.add_argument("--until", metavar="WHEN",
                        help="only files that got their state before WHEN, written as for --since (default: no bound)")
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="change at most N files, oldest registered first (default: no limit)")
    _add_change_options(parser)


def _add_change_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", required=True, help="why (recorded in each file's history)")
    parser.add_argument("--actor", help="who (recorded; default: $MLDP_ACTOR, else the OS user)")
    parser.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    parser.add_argument("--show", type=non_negative_int, default=20, metavar="N",
                        help="keys to print (default %(default)s)")
    add_json_option(parser)


def _check_reason(reason: str) -> None:
    """A blank ``--reason`` is refused before anything is opened (the history row must say why)."""
    if not reason.strip():
        raise UsageError("--reason is required: say why these files change state")


def _selection(args: argparse.Namespace) -> Any:
    """The :class:`runtime.operator.requeue.Selection` of the filter options (FAILED and QUARANTINED by default)."""
    from runtime.operator.requeue import REQUEUABLE_STATES, Selection
    from runtime.operator.timewindow import parse_time

    with user_input():
        return Selection(
            states=tuple(args.states or REQUEUABLE_STATES), prefix=args.prefix, error_contains=args.error_contains,
            since=parse_time(args.since) if args.since else None,
            until=parse_time(args.until) if args.until else None, limit=args.limit,
        )


def run_requeue(args: argparse.Namespace) -> int:
    """Requeue the selected files (or show them with ``--dry-run``)."""
    from runtime.operator.requeue import requeue

    return _change(args, requeue, "mldp-requeue")


def run_retire(args: argparse.Namespace) -> int:
    """Retire the selected files (or show them with ``--dry-run``)."""
    from runtime.operator.requeue import retire

    return _change(args, retire, "mldp-retire")


def _change(args: argparse.Namespace, change: Callable[..., Any], application_name: str) -> int:
    from runtime.operator.requeue import render_result

    _check_reason(args.reason)
    selection = _selection(args)
    conn = open_database(args.db, application_name=application_name)
    try:
        result = change(conn, selection, args.reason, args.actor, dry_run=args.dry_run, show=args.show)
    finally:
        conn.close()
    emit(result.as_dict(), args.json, lambda _d: render_result(result, args.show))
    return 0


def run_release(args: argparse.Namespace) -> int:
    """Release the given keys (all or none); exit status 1 when one cannot be released."""
    from runtime.operator.inspection import normalize_key
    from runtime.operator.requeue import release, render_result

    _check_reason(args.reason)
    conn = open_database(args.db, application_name="mldp-release")
    try:
        result = release(conn, [normalize_key(k) for k in args.keys], args.reason, args.actor,
                         dry_run=args.dry_run)
    finally:
        conn.close()
    emit(result.as_dict(), args.json, lambda _d: render_result(result, args.show))
    return 1 if result.refused else 0
