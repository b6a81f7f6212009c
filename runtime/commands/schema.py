"""``mldp schema drift`` (the fields the spec does not read, with evidence and a spec entry to paste) and ``mldp schema
diff OLD NEW`` (what a spec change does to the columns and to the data already converted)."""

from __future__ import annotations

import argparse
import sys

from runtime.commands.common import emit, open_database
from runtime.commands.options import add_db_option, add_json_option
from runtime.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp schema drift`` and ``mldp schema diff``."""
    parser = sub.add_parser("schema", help="drift of the raw data against the transform spec; what a spec change does")
    parser.set_defaults(handler=run_drift)  # each action sets its own; argparse requires one of them
    actions = parser.add_subparsers(dest="schema_action", required=True, metavar="{drift,diff}")
    drift = actions.add_parser("drift", help="every field the spec does not read: where and when it was seen, its "
                                             "JSON types with examples, a spec entry to paste")
    add_db_option(drift)
    drift.add_argument("--since", metavar="WHEN", help="only what was seen since WHEN: ISO-8601 or a duration ago "
                                                       "(24h, 7d, 2w); default: all time")
    add_json_option(drift)
    drift.set_defaults(handler=run_drift)
    diff = actions.add_parser("diff", help="columns a spec change adds, drops or retypes, and whether existing "
                                           "data must be reprocessed (exit status 1: the change is refused)")
    diff.add_argument("old", help="the spec in use (.json/.yaml; 'default' for the packaged one)")
    diff.add_argument("new", help="the changed spec")
    add_json_option(diff)
    diff.set_defaults(handler=run_diff)


def run_drift(args: argparse.Namespace) -> int:
    """Print the drift report."""
    from runtime.operator.drift import build_drift, render_drift
    from runtime.operator.timewindow import parse_time

    try:
        since = parse_time(args.since) if args.since else None
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    conn = open_database(args.db, application_name="mldp-schema-drift")
    try:
        report = build_drift(conn, since)
    finally:
        conn.close()
    emit(report, args.json, render_drift)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    """Print the diff of two specs; exit status 1 when the change is refused."""
    from runtime.operator.spec_diff import diff_specs, render_diff
    from runtime.transforms.spec import load_spec

    old = load_spec(None if args.old == "default" else args.old)
    new = load_spec(None if args.new == "default" else args.new)
    report = diff_specs(old, new)
    emit(report, args.json, render_diff)
    if report["refused"]:
        print(f"error: {report['refused']}", file=sys.stderr)
        return 1
    return 0
