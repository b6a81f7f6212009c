"""``mldp demo``: the whole pipeline on one machine, on generated sample data (the README's main command).

Where the demo writes, and why:

* **The database every other command reads without flags**: ``--db``, else ``$DATABASE_URL``, else the embedded
  server's ``data_platform_db``, resolved as every command resolves it. So the README's next commands, ``mldp
  status`` and ``mldp inspect KEY`` as the demo prints them, show the demo's results as they are. The
  alternatives are worse for a newcomer: a demo database of its own (``mldp_demo``, as before) means every
  command needs ``--db`` and a forgotten flag shows an empty database; an embedded server that remembers the demo
  database and points the operator commands at it would split the commands (``mldp list`` registering into one
  database, ``mldp status`` reading another); a hint printed by ``status`` fixes nothing by itself.
* **Never into data it did not write.** Before anything is written, a database that tracks a file the demo did
  not register (or holds tables but no tracking schema) is refused, with the one flag that gives the demo a
  database of its own (on the embedded server the demo creates it). There is no ``--force`` for that: a tracking
  database is the pipeline's record of what was processed, and neither adding sample files to it nor clearing it
  should take one flag. A database that tracks only the files of earlier demos (their keys are recorded in the
  table ``mldp_demo_files``) is cleared and reused, so ``make demo`` can be run again.
* **Never deletes or writes into a folder it did not create.** ``WORKDIR/bucket`` is created with a marker file
  (:data:`MARKER`); a later run replaces a folder only if it carries the marker or lies in the project's state
  folder (``.mldp``, or ``$MLDP_HOME``: mldp's own, where earlier demos left theirs). Any other existing folder is
  refused unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runtime.commands.common import connect_database
from runtime.commands.options import add_db_option, add_json_option, positive_int
from runtime.commands.process import summarize
from runtime.db.connection import describe_url, redact, resolve_database_url
from runtime.errors import UsageError

#: Files per batch of the demo: small on purpose, so the sample run shows several batches (the processor's
#: default, :data:`platform_contract.defaults.BATCH_SIZE`, would take the whole sample in one).
DEMO_BATCH_SIZE = 25
#: Fewest good files of a demo: it deletes the second and overwrites the third after listing.
MIN_FILES = 3
#: The file the demo writes into the store folder it creates; only a folder holding it is replaced by a later run.
MARKER = ".mldp-demo"
#: The demo's record of the keys it generated, in the tracking database it writes to (see the module docstring).
KEYS_TABLE = "mldp_demo_files"
#: A database of its own for the demo on the embedded server, suggested when the default one holds other files.
OWN_DATABASE = "mldp_demo"

_INSPECT_STATE = """
SELECT to_regclass('file_processing_status') IS NOT NULL, to_regclass('mldp_demo_files') IS NOT NULL,
    (SELECT count(*) FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND tablename <> 'schema_migrations')
"""
_FILES_NOT_THE_DEMOS = """
SELECT count(*), min(s3_key) FROM file_processing_status AS f
WHERE NOT EXISTS (SELECT 1 FROM mldp_demo_files AS d WHERE d.s3_key = f.s3_key)
"""
_ALL_FILES = "SELECT count(*), min(s3_key) FROM file_processing_status"
_RESET = """
CREATE TABLE IF NOT EXISTS mldp_demo_files (s3_key TEXT PRIMARY KEY);
COMMENT ON TABLE mldp_demo_files IS 'written by mldp demo: the keys of its sample; the demo clears and reuses this '
    'database only while it tracks no other key';
TRUNCATE file_processing_status, processing_batches, file_processing_history, mldp_demo_files
    RESTART IDENTITY CASCADE
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp demo``."""
    parser = sub.add_parser(
        "demo", help="generate sample data and run lister + processor locally, end to end",
        description="Generate sample raw JSON (good files and one of every bad-input kind) in WORKDIR/bucket, "
                    "register it,\nsimulate trouble, process it with local Spark and show where every record "
                    "went. It writes into the\ndatabase the other commands read without --db, so mldp status "
                    "and mldp inspect show its results.\nIt refuses a database that tracks other files, and "
                    "a WORKDIR/bucket it did not create (unless --force).")
    add_db_option(parser)
    parser.add_argument("--workdir", default=".mldp/demo",
                        help="the local store goes to WORKDIR/bucket (default %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="delete WORKDIR/bucket even if an earlier demo did not create it (default: refuse)")
    parser.add_argument("--files", type=positive_int, default=36,
                        help=f"good sample files to generate, at least {MIN_FILES} (default %(default)s)")
    parser.add_argument("--records-per-file", type=positive_int, default=150,
                        help="records per good file (default %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=DEMO_BATCH_SIZE,
                        help="files per batch (default %(default)s)")
    add_json_option(parser)
    parser.set_defaults(handler=run)


# --- where the demo may write ------------------------------------------------------------------------------------


def _program() -> str:
    """How to run ``mldp`` again from this directory: ``mldp`` when that is the program on ``PATH``, else the path
    this one was started by (``.venv/bin/mldp`` under ``make demo``)."""
    started_as = sys.argv[0] if sys.argv else ""
    if Path(started_as).name != "mldp":
        return "mldp"
    on_path = shutil.which("mldp")
    if on_path and Path(on_path).resolve() == Path(started_as).resolve():
        return "mldp"
    return shlex.quote(started_as)


def _check_store_folder(store_dir: Path, force: bool) -> None:
    """Refuse an existing ``store_dir`` the demo did not create (no :data:`MARKER`, outside the project's state
    folder) unless ``force``: nothing has been written yet when this raises."""
    from runtime.db.embedded import project_state_dir

    if force or not (store_dir.exists() or store_dir.is_symlink()):
        return
    if (store_dir / MARKER).is_file() or store_dir.resolve().is_relative_to(project_state_dir()):
        return
    raise UsageError(f"{store_dir} exists and was not created by mldp demo (no {MARKER} file in it): the demo never "
                     "deletes or writes into a folder it did not create. Choose another --workdir, or add --force "
                     f"to delete {store_dir} with everything in it")


def _prepare_store_folder(store_dir: Path) -> None:
    """Replace ``store_dir`` (checked by :func:`_check_store_folder`) by an empty folder holding the marker."""
    if store_dir.is_symlink() or (store_dir.exists() and not store_dir.is_dir()):
        store_dir.unlink()
    elif store_dir.exists():
        shutil.rmtree(store_dir)
    store_dir.mkdir(parents=True)
    (store_dir / MARKER).write_text("created by mldp demo: the next mldp demo deletes and recreates this folder\n")


def _embedded_base(url: str) -> str | None:
    """``postgresql://postgres@127.0.0.1:PORT/`` when ``url`` names a database of the embedded server, else None."""
    if "@127.0.0.1:" not in url:
        return None
    from runtime.db.embedded import default_server

    base = default_server().url.rsplit("/", 1)[0] + "/"
    return base if url.startswith(base) else None


def _demo_database(db_url: str | None) -> str:
    """The URL of the database the demo writes to, resolved as every command resolves it; a database of the
    embedded server named by ``--db`` is created (and the server started) if needed."""
    url = resolve_database_url(db_url)
    base = _embedded_base(url) if db_url else None
    name = urlsplit(url).path.lstrip("/") if base else ""
    if base and name:
        from runtime.db.embedded import default_server

        server = default_server()
        server.start()
        server.create_database(name)
    return url


def _check_database(conn: Any, url: str) -> None:
    """Refuse (:class:`UsageError`, nothing written) a database that holds what the demo did not write: tables but
    no tracking schema, or a tracked file whose key the demo did not record."""
    from runtime.operator.formatting import count_of

    with conn.cursor() as cur:
        cur.execute(_INSPECT_STATE)
        tracking, marked, tables = cur.fetchone()
        if tracking:
            cur.execute(_FILES_NOT_THE_DEMOS if marked else _ALL_FILES)
            foreign, example = cur.fetchone()
        else:
            foreign, example = 0, None
    conn.rollback()
    where = describe_url(url)
    if not tracking and tables:
        found = f"{where} holds {count_of(tables, 'table')} and is not a tracking database"
    elif foreign:
        found = f"{where} tracks {count_of(foreign, 'file')} the demo did not register (e.g. {example})"
    else:
        return
    base = _embedded_base(url)
    if base and not url.startswith(base + OWN_DATABASE):
        advice = (f"give it a database of its own: {_program()} demo --db {base}{OWN_DATABASE} (created on the "
                  "embedded server), then pass the same --db to mldp status and mldp inspect")
    else:
        advice = "give it an empty database: --db postgresql://USER@HOST:PORT/NEW_DATABASE"
    raise UsageError(f"{found}: the demo writes only into an empty database or an earlier demo's, never among other "
                     f"files; {advice}")


def _reset_database(conn: Any, keys: list[str]) -> None:
    """Clear the demo's database (checked by :func:`_check_database`) and record the keys of the new sample."""
    with conn.cursor() as cur:
        cur.execute(_RESET)
        cur.execute("INSERT INTO mldp_demo_files (s3_key) SELECT unnest(%s::text[])", (keys,))
    conn.commit()


# --- the run -----------------------------------------------------------------------------------------------------


def _states(conn: Any) -> dict:
    from runtime.db.tracking import TrackingStore

    return TrackingStore(conn).files_by_state()


def _problems(conn: Any) -> list:
    from runtime.db.tracking import TrackingStore

    return [(p.key, p.state.value, p.error) for p in TrackingStore(conn).files_needing_attention()]


def _next_commands(args: argparse.Namespace, url: str, store_dir: Path, overwritten: str,
                   problems: list[dict]) -> list[str]:
    """The commands to try next, correct to copy and paste in this directory."""
    program = _program()
    db = f" --db {shlex.quote(redact(url, url))}" if args.db else ""
    shown = os.path.relpath(store_dir) if store_dir.is_relative_to(Path.cwd()) else str(store_dir)
    commands = [f"{program} status{db}",
                f"{program} inspect {overwritten} --store {shlex.quote(shown)}{db}"]
    if problems:
        commands.append(f"{program} inspect {shlex.quote(problems[0]['key'])}{db}")
        commands.append(f"{program} requeue --state {problems[0]['state']} --reason \"retry after a fix\" "
                        f"--dry-run{db}")
    return commands


def run(args: argparse.Namespace) -> int:
    """Generate the sample, list it, process it, and check every record is accounted for (exit 1 if not)."""
    from runtime.db.migrations import apply_migrations
    from runtime.jobs.lister import run_lister
    from runtime.jobs.processor import BatchProcessor, ProcessorSettings
    from runtime.layout import Layout
    from runtime.sample_data import generate_sample, jsonl, record
    from runtime.spark.session import get_spark
    from runtime.storage.local import LocalStore
    from runtime.transforms.spec import load_spec

    started = time.monotonic()
    if not args.verbose:  # the demo prints its own story; job logs stay available with -v
        logging.getLogger("runtime").setLevel(logging.WARNING)
    if args.files < MIN_FILES:
        raise UsageError(f"--files must be at least {MIN_FILES}: the demo deletes one sample file and overwrites "
                         "another after listing")
    store_dir = Path(args.workdir).absolute() / "bucket"
    _check_store_folder(store_dir, args.force)
    url = _demo_database(args.db)
    conn = connect_database(url, application_name="mldp-demo")
    try:
        _check_database(conn, url)
    except BaseException:
        conn.close()
        raise
    apply_migrations(conn)
    _prepare_store_folder(store_dir)
    store = LocalStore(store_dir)
    layout = Layout()
    say = (lambda *a, **k: None) if args.json else print

    say(f"1. generating sample raw JSON in {store_dir} (tracking database {describe_url(url)})")
    expected = generate_sample(store, files=args.files, records_per_file=args.records_per_file)
    _reset_database(conn, sorted(expected.files))

    say("2. FileListerAndDbPopulator: registering raw files")
    listing = run_lister(store, conn).as_dict()
    say(f"   {json.dumps(listing)}")

    vanished = "raw-json-data/2024/week01/part-0001.jsonl"
    overwritten = "raw-json-data/2024/week02/part-0002.jsonl"
    say(f"3. simulating trouble after listing: deleting {vanished}, overwriting {overwritten}")
    store.delete(vanished)
    time.sleep(0.01)
    store.put_bytes(overwritten, store.get_bytes(overwritten) + jsonl([record(random.Random(1), 99_000_000)]))

    say("4. JsonToParquetBatchProcessor --drain")
    processor = BatchProcessor(store, conn, lambda: get_spark("mldp-demo"), load_spec(None),
                               ProcessorSettings(batch_size=args.batch_size), layout)
    reports = processor.drain()
    say("5. the next lister run finds nothing new: the run that found the overwritten file registered its new "
        "version and converted it; processing what is left")
    relisting = run_lister(store, conn).as_dict()
    reports += processor.drain()

    summary = summarize(reports, time.monotonic() - started)
    problems = [{"key": k, "state": s, "reason": r} for k, s, r in _problems(conn)]
    result = {
        "database": describe_url(url),
        "listing": listing,
        "relisting": relisting,
        "processing": summary,
        "files_by_state": _states(conn),
        "problems": problems,
        "curated_parquet": str(store_dir / layout.curated_prefix),
        "dead_letter": str(store_dir / layout.dead_letter_prefix),
        "archived_raw": str(store_dir / layout.processed_prefix),
        # the generator's expectation, less the deleted file's records, plus the overwrite's one new record
        "expected_good_records": expected.good_records - expected.good_by_file[vanished] + 1,
        "expected_bad_records": expected.bad_records,
        "next_commands": _next_commands(args, url, store_dir, overwritten, problems),
    }
    conn.close()
    result["check_ok"] = (summary["records_good"], summary["records_bad"]) == (result["expected_good_records"],
                                                                             result["expected_bad_records"])
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0 if result["check_ok"] else 1
    return _print_result(result, summary)


def _print_result(result: dict, summary: dict) -> int:
    """The demo's result as text; exit status 1 when a record is not accounted for."""
    print("\n=== demo result ===")
    print(f"tracking database:  {result['database']}")
    print("files by state:     " + ", ".join(f"{k} {v}" for k, v in result["files_by_state"].items()))
    print(f"batches:            {summary['batches']}")
    print(f"records written:    {summary['records_good']:,} (curated Parquet)")
    print(f"records dead-lettered: {summary['records_bad']:,}")
    print(f"partitions written: {summary['partitions_written']}")
    print(f"curated Parquet:    {result['curated_parquet']}")
    print(f"dead letters:       {result['dead_letter']}")
    print(f"archived raw files: {result['archived_raw']}")
    print(f"files needing attention ({_program()} inspect KEY / {_program()} requeue):")
    for problem in result["problems"]:
        print(f"  {problem['state']:<11} {problem['key']}\n              {problem['reason']}")
    matches = result["check_ok"]
    print(f"check:              {'OK' if matches else 'MISMATCH'}: expected {result['expected_good_records']:,} "
          f"written and {result['expected_bad_records']:,} dead-lettered")
    print(f"total time:         {summary['seconds']:.1f}s")
    print("next, from this directory:")
    for command in result["next_commands"]:
        print(f"  {command}")
    return 0 if matches else 1
