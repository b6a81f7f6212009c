"""``mldp db start|stop|status|url``: the embedded PostgreSQL server of local runs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp db``."""
    parser = sub.add_parser("db", help="manage the embedded PostgreSQL server")
    parser.add_argument("action", choices=["start", "stop", "status", "url"])
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
