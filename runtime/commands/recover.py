"""``mldp recover BATCH --reason WHY``: recover a named batch whose owner is gone (fenced: a batch whose owner may
still be running is refused unless ``--force``), recording who and why in each file's history."""

from __future__ import annotations

import argparse

from runtime.commands.common import emit, open_database
from runtime.commands.options import add_db_option, add_json_option, add_layout_options
from runtime.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp recover``."""
    parser = sub.add_parser(
        "recover", help="recover a batch whose run is gone (or held after failed recoveries)",
        description="Recover an open batch whose owner is gone: its lease expired, its run handed it back, its\n"
                    "process or Glue job run has ended, or it is held for the operator after failed recoveries.\n"
                    "Without --store the batch is handed to the next processor run, which recovers it at once;\n"
                    "with --store it is rolled forward (manifest found) or abandoned (files retried) right here.\n"
                    "Each of its files gets a RECOVER history row with --actor and --reason. Exit status 1 when\n"
                    "nothing was recovered.")
    parser.add_argument("batch", metavar="BATCH", help="batch id, or its first 8 characters or more (mldp status)")
    parser.add_argument("--reason", required=True, help="why (recorded in each file's history)")
    parser.add_argument("--actor", help="who (recorded; default $MLDP_ACTOR, else the OS user)")
    parser.add_argument("--force", action="store_true",
                        help="take the batch over even if its owner may be running (default: refuse); the owner "
                             "then stops before publishing")
    parser.add_argument("--store", help="s3://bucket or a local directory: recover the batch now (default: hand "
                                        "it to the next processor run)")
    add_layout_options(parser, metavar="PREFIX", help_text="bucket layout with --store (default: the reference "
                                                           "layout)")
    add_db_option(parser)
    add_json_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Recover the batch; exit status 1 when it was refused or its recovery failed."""
    from runtime.layout import PREFIX_OPTIONS, Layout
    from runtime.operator.recover import recover, render_result

    if not args.reason.strip():
        raise UsageError("--reason is required: say why this batch is recovered")
    store = layout = None
    if args.store:
        from runtime.storage.factory import open_store

        try:
            layout = Layout(**{k: getattr(args, k) for k in PREFIX_OPTIONS if getattr(args, k) is not None})
        except ValueError as error:
            raise UsageError(str(error)) from error
        from runtime.storage.sdk_check import check_store

        store = open_store(args.store)
        check_store(store)  # a roll-forward archives: an SDK that cannot send its deletes stops here, exit 3
    conn = open_database(args.db, application_name="mldp-recover")
    try:
        result = recover(conn, args.batch, args.reason, args.actor, force=args.force, store=store, layout=layout)
    finally:
        conn.close()
    emit(result.as_dict(), args.json, lambda _d: render_result(result))
    return 1 if result.refused or result.error else 0
