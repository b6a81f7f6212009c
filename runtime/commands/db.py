"""``mldp db start|stop|status|url``: the embedded PostgreSQL server of local runs."""

from __future__ import annotations

import argparse

#: What each action does, as ``mldp db --help`` shows it.
ACTIONS = {
    "start": "initialise (first time) and start the server, create data_platform_db, print its URL (safe to repeat)",
    "stop": "stop the server (fast shutdown: open sessions are ended); its data stays",
    "status": "print running or stopped, the URL and the data folder; exit status 3 when stopped",
    "url": "print the URL every command uses without --db or $DATABASE_URL (does not start the server)",
}

DESCRIPTION = """\
The embedded PostgreSQL server of local runs: a cluster of its own in .mldp/postgres ($MLDP_HOME/postgres),
listening on 127.0.0.1 only (trust authentication), on port 54329, or the port it last started on when 54329 was
taken by another program ($MLDP_PG_PORT pins a port). Run as root, the server runs as the 'postgres' user.
Every command without --db (and without $DATABASE_URL) uses its database data_platform_db; mldp demo too.

actions:
""" + "\n".join(f"  {name:<7} {what}" for name, what in ACTIONS.items())


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp db``."""
    parser = sub.add_parser("db", help="manage the embedded PostgreSQL server (start, stop, status, url)",
                            description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=list(ACTIONS), help="what to do (see actions above)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the action; ``status`` exits 3 when the server is stopped."""
    from runtime.db.embedded import default_server

    server = default_server()
    if args.action == "start":
        print(server.start())
    elif args.action == "stop":
        print("stopped" if server.stop() else "not running")
    elif args.action == "status":
        running = server.is_running()
        print(f"{'running' if running else 'stopped'}: {server.url} (data in {server.data_dir})")
        return 0 if running else 3
    else:
        print(server.url)
    return 0
