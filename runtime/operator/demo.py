"""``mldp demo``: the whole pipeline on one machine, on generated sample data (the README's main command). The
command (:mod:`runtime.commands.demo`) parses and prints; this module decides where the demo may write, stages
the trouble and runs the jobs; its SQL is in :mod:`runtime.db.demo`. Its module-level imports are Python
3.9-compatible: the command imports it, and the commands are in the Glue lister's import closure.

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
  table :data:`runtime.db.demo.KEYS_TABLE`) is cleared and reused, so ``make demo`` can be run again.
* **Never deletes or writes into a folder it did not create.** ``WORKDIR/bucket`` is created with a marker file
  (:data:`MARKER`); a later run replaces a folder only if it carries the marker or lies in the project's state
  folder (``.mldp``, or ``$MLDP_HOME``: mldp's own, where earlier demos left theirs). Any other existing folder is
  refused unless ``force``.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runtime.db.connection import describe_url, redact, resolve_database_url
from runtime.db.demo import inspect_database, reset_database
from runtime.db.embedded import default_server, embedded_base_url, project_state_dir
from runtime.errors import UsageError
from runtime.operator.formatting import count_of
from runtime.operator.summary import summarize

#: Files per batch of the demo: small on purpose, so the sample run shows several batches (the processor's
#: default, :data:`platform_contract.defaults.BATCH_SIZE`, would take the whole sample in one).
DEMO_BATCH_SIZE = 25
#: Fewest good files of a demo: it deletes the second and overwrites the third after listing.
MIN_FILES = 3
#: The file the demo writes into the store folder it creates; only a folder holding it is replaced by a later run.
MARKER = ".mldp-demo"
#: A database of its own for the demo on the embedded server, suggested when the default one holds other files.
OWN_DATABASE = "mldp_demo"
#: The trouble staged after listing: a sample file deleted, another overwritten.
VANISHED = "raw-json-data/2024/week01/part-0001.jsonl"
OVERWRITTEN = "raw-json-data/2024/week02/part-0002.jsonl"


@dataclass(frozen=True)
class DemoOptions:
    """What ``mldp demo`` was asked: ``db`` (``--db``, ``None``: the default database), the work folder (the
    store goes to ``workdir/bucket``), ``force`` (replace a ``workdir/bucket`` the demo did not create), the size
    of the sample and of a batch."""

    db: str | None
    workdir: Path
    force: bool = False
    files: int = 36
    records_per_file: int = 150
    batch_size: int = DEMO_BATCH_SIZE
    #: ``parquet`` (loose files) or ``iceberg`` (a table in the demo database's local catalog)
    table_format: str = "parquet"

    @property
    def store_dir(self) -> Path:
        """``workdir/bucket``, absolute: the local object store of the demo."""
        return Path(self.workdir).absolute() / "bucket"


def program() -> str:
    """How to run ``mldp`` again from this directory: ``mldp`` when that is the program on ``PATH``, else the path
    this one was started by (``.venv/bin/mldp`` under ``make demo``)."""
    started_as = sys.argv[0] if sys.argv else ""
    if Path(started_as).name != "mldp":
        return "mldp"
    on_path = shutil.which("mldp")
    if on_path and Path(on_path).resolve() == Path(started_as).resolve():
        return "mldp"
    return shlex.quote(started_as)


# --- where the demo may write ------------------------------------------------------------------------------------


def check_store_folder(store_dir: Path, force: bool) -> None:
    """Refuse an existing ``store_dir`` the demo did not create (no :data:`MARKER`, outside the project's state
    folder) unless ``force``: nothing has been written yet when this raises."""
    if force or not (store_dir.exists() or store_dir.is_symlink()):
        return
    if (store_dir / MARKER).is_file() or store_dir.resolve().is_relative_to(project_state_dir()):
        return
    raise UsageError(f"{store_dir} exists and was not created by mldp demo (no {MARKER} file in it): the demo never "
                     "deletes or writes into a folder it did not create. Choose another --workdir, or add --force "
                     f"to delete {store_dir} with everything in it")


def prepare_store_folder(store_dir: Path, force: bool) -> None:
    """Replace ``store_dir`` by an empty folder holding the marker, after :func:`check_store_folder` (the check and
    the deletion in one function, so no caller deletes a folder the demo did not create)."""
    check_store_folder(store_dir, force)
    if store_dir.is_symlink() or (store_dir.exists() and not store_dir.is_dir()):
        store_dir.unlink()
    elif store_dir.exists():
        shutil.rmtree(store_dir)
    store_dir.mkdir(parents=True)
    (store_dir / MARKER).write_text("created by mldp demo: the next mldp demo deletes and recreates this folder\n")


def demo_database(db_url: str | None) -> str:
    """The URL of the database the demo writes to, resolved as every command resolves it; a database of the
    embedded server named by ``--db`` is created (and the server started) if needed."""
    url = resolve_database_url(db_url)
    base = embedded_base_url(url) if db_url else None
    name = urlsplit(url).path.lstrip("/") if base else ""
    if base and name:
        server = default_server()
        server.start()
        server.create_database(name)
    return url


def check_database(conn: Any, url: str) -> None:
    """Refuse (:class:`UsageError`, nothing written) a database that holds what the demo did not write: tables but
    no tracking schema, or a tracked file whose key the demo did not record."""
    contents = inspect_database(conn)
    where = describe_url(url)
    if not contents.tracking and contents.tables:
        found = f"{where} holds {count_of(contents.tables, 'table')} and is not a tracking database"
    elif contents.foreign_files:
        found = (f"{where} tracks {count_of(contents.foreign_files, 'file')} the demo did not register "
                 f"(e.g. {contents.example_key})")
    else:
        return
    base = embedded_base_url(url)
    if base and not url.startswith(base + OWN_DATABASE):
        advice = (f"give it a database of its own: {program()} demo --db {base}{OWN_DATABASE} (created on the "
                  "embedded server), then pass the same --db to mldp status and mldp inspect")
    else:
        advice = "give it an empty database: --db postgresql://USER@HOST:PORT/NEW_DATABASE"
    raise UsageError(f"{found}: the demo writes only into an empty database or an earlier demo's, never among other "
                     f"files; {advice}")


def prepare(options: DemoOptions) -> str:
    """Check what the demo was asked before anything is written (the sample's size, the store folder) and resolve
    its database (:func:`demo_database`); returns the database's URL."""
    if options.files < MIN_FILES:
        raise UsageError(f"--files must be at least {MIN_FILES}: the demo deletes one sample file and overwrites "
                         "another after listing")
    check_store_folder(options.store_dir, options.force)
    return demo_database(options.db)


# --- the run -----------------------------------------------------------------------------------------------------


def next_commands(options: DemoOptions, url: str, problems: list[dict]) -> list[str]:
    """The commands to try next, correct to copy and paste in this directory."""
    run_again = program()
    db = f" --db {shlex.quote(redact(url, url))}" if options.db else ""
    store_dir = options.store_dir
    shown = os.path.relpath(store_dir) if store_dir.is_relative_to(Path.cwd()) else str(store_dir)
    commands = [f"{run_again} status{db}",
                f"{run_again} inspect {OVERWRITTEN} --store {shlex.quote(shown)}{db}"]
    if problems:
        commands.append(f"{run_again} inspect {shlex.quote(problems[0]['key'])}{db}")
        commands.append(f"{run_again} requeue --state {problems[0]['state']} --reason \"retry after a fix\" "
                        f"--dry-run{db}")
    commands.append(f"{run_again} schema drift{db}")
    return commands


def rescued_example(conn: Any, curated: Path) -> dict:
    """The fields the spec did not read, kept in ``_rescued_data`` (from the drift evidence), and one curated row's
    ``_rescued_data`` that holds ``device`` (the field the sample's producers "added")."""
    import pyarrow.dataset as ds

    from runtime.operator.drift import build_drift

    fields = [item["path"] for item in build_drift(conn)["fields"] if item["kind"] == "unknown"]
    example = None
    if curated.exists():
        table = ds.dataset(curated, format="parquet", partitioning="hive").to_table(columns=["id", "_rescued_data"])
        example = next((row for row in table.to_pylist() if '"device"' in (row["_rescued_data"] or "")), None)
    return {"paths": fields, "example": example}


def run_demo(conn: Any, url: str, options: DemoOptions, say: Callable[[str], None], started: float) -> dict:
    """Check the database of ``conn`` (:func:`check_database`), generate the sample, list it, stage the trouble,
    process it, and return the result (``check_ok``: every record is accounted for). ``say`` tells each step;
    ``started``: the ``time.monotonic()`` the demo started at."""
    from runtime.db.migrations import apply_migrations
    from runtime.db.tracking import TrackingStore
    from runtime.jobs.lister import run_lister
    from runtime.jobs.processor import BatchProcessor, ProcessorSettings
    from runtime.layout import Layout
    from runtime.sample_data import generate_sample, jsonl, record
    from runtime.spark.session import get_spark
    from runtime.storage.local import LocalStore
    from runtime.transforms.spec import load_spec

    check_database(conn, url)
    apply_migrations(conn)
    store_dir = options.store_dir
    prepare_store_folder(store_dir, options.force)
    store = LocalStore(store_dir)
    layout = Layout()

    say(f"1. generating sample raw JSON in {store_dir} (tracking database {describe_url(url)})")
    expected = generate_sample(store, files=options.files, records_per_file=options.records_per_file)
    reset_database(conn, sorted(expected.files))

    say("2. FileListerAndDbPopulator: registering raw files")
    listing = run_lister(store, conn).as_dict()
    say(f"   {json.dumps(listing)}")

    say(f"3. simulating trouble after listing: deleting {VANISHED}, overwriting {OVERWRITTEN}")
    store.delete(VANISHED)
    time.sleep(0.01)
    store.put_bytes(OVERWRITTEN, store.get_bytes(OVERWRITTEN) + jsonl([record(random.Random(1), 99_000_000)]))

    spec = load_spec(None)
    table = None
    if options.table_format == "iceberg":
        from runtime.operator.table_demo import demo_table

        table = demo_table(store, url, spec.partition_names)
    say(f"4. JsonToParquetBatchProcessor --drain --table-format {options.table_format}")
    processor = BatchProcessor(store, conn, lambda: get_spark("mldp-demo"), spec,
                               ProcessorSettings(batch_size=options.batch_size), layout, table=table)
    reports = processor.drain()
    say("5. the next lister run finds nothing new: the run that found the overwritten file registered its new "
        "version and converted it; processing what is left")
    relisting = run_lister(store, conn).as_dict()
    reports += processor.drain()

    summary = summarize(reports, time.monotonic() - started)
    tracking = TrackingStore(conn)
    problems = [{"key": p.key, "state": p.state.value, "reason": p.error} for p in tracking.files_needing_attention()]
    result = {
        "database": describe_url(url),
        "listing": listing,
        "relisting": relisting,
        "processing": summary,
        "files_by_state": tracking.files_by_state(),
        "problems": problems,
        "curated_parquet": str(store_dir / layout.curated_prefix),
        "dead_letter": str(store_dir / layout.dead_letter_prefix),
        "archived_raw": str(store_dir / layout.processed_prefix),
        # the generator's expectation, less the deleted file's records, plus the overwrite's one new record
        "expected_good_records": expected.good_records - expected.good_by_file[VANISHED] + 1,
        "expected_bad_records": expected.bad_records,
        "next_commands": next_commands(options, url, problems),
        "rescued_fields": rescued_example(conn, store_dir / layout.curated_prefix),
    }
    result["check_ok"] = (summary["records_good"], summary["records_bad"]) == (result["expected_good_records"],
                                                                             result["expected_bad_records"])
    if table is not None:
        from runtime.operator.table_demo import table_result

        db = f" --db {shlex.quote(redact(url, url))}" if options.db else ""
        result["iceberg"] = table_result(table, program(), db)
        result["check_ok"] = result["check_ok"] and result["iceberg"]["rows_read"] == result["expected_good_records"]
    return result
