"""``mldp demo``: the whole pipeline on one machine, on generated sample data (the README's main command)."""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import time
from pathlib import Path

from runtime.commands.common import open_database
from runtime.commands.options import add_db_option, add_json_option, positive_int
from runtime.commands.process import summarize

#: Files per batch of the demo: small on purpose, so the sample run shows several batches (the processor's
#: default, :data:`runtime.defaults.BATCH_SIZE`, would take the whole sample in one).
DEMO_BATCH_SIZE = 25


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``mldp demo``."""
    parser = sub.add_parser("demo", help="generate sample data and run lister + processor locally, end to end")
    add_db_option(parser)
    parser.add_argument("--workdir", default=".mldp/demo", help="where the local store goes (default %(default)s)")
    parser.add_argument("--files", type=positive_int, default=36,
                        help="good sample files to generate (default %(default)s)")
    parser.add_argument("--records-per-file", type=positive_int, default=150,
                        help="records per good file (default %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=DEMO_BATCH_SIZE,
                        help="files per batch (default %(default)s)")
    add_json_option(parser)
    parser.set_defaults(handler=run)


def _fresh_database(db_url: str | None) -> str:
    """A fresh demo database on the embedded server (or the given URL, used as is)."""
    if db_url:
        return db_url
    import psycopg2

    from runtime.db.embedded import default_server

    server = default_server()
    server.start()
    admin = psycopg2.connect(server.admin_url())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS mldp_demo WITH (FORCE)")
        cur.execute("CREATE DATABASE mldp_demo")
    admin.close()
    return server.url.rsplit("/", 1)[0] + "/mldp_demo"


def _states(conn) -> dict:
    from runtime.db.tracking import TrackingStore

    return TrackingStore(conn).files_by_state()


def _problems(conn) -> list:
    from runtime.db.tracking import TrackingStore

    return [(p.key, p.state.value, p.error) for p in TrackingStore(conn).files_needing_attention()]


def run(args: argparse.Namespace) -> int:
    """Generate the sample, list it, process it, and check every record is accounted for (exit 1 if not)."""
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
    workdir = Path(args.workdir).resolve()
    store_dir = workdir / "bucket"
    if store_dir.exists():
        shutil.rmtree(store_dir)
    store_dir.mkdir(parents=True)
    store = LocalStore(store_dir)
    layout = Layout()
    say = (lambda *a, **k: None) if args.json else print

    say(f"1. generating sample raw JSON in {store_dir}")
    expected = generate_sample(store, files=args.files, records_per_file=args.records_per_file)
    conn = open_database(_fresh_database(args.db), application_name="mldp-demo")

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
    say("5. the next lister run picks up the overwritten file's new version; processing it again")
    relisting = run_lister(store, conn).as_dict()
    reports += processor.drain()

    summary = summarize(reports, time.monotonic() - started)
    result = {
        "listing": listing,
        "relisting": relisting,
        "processing": summary,
        "files_by_state": _states(conn),
        "problems": [{"key": k, "state": s, "reason": r} for k, s, r in _problems(conn)],
        "curated_parquet": str(store_dir / layout.curated_prefix),
        "dead_letter": str(store_dir / layout.dead_letter_prefix),
        "archived_raw": str(store_dir / layout.processed_prefix),
        # the generator's expectation, less the deleted file's records, plus the overwrite's one new record
        "expected_good_records": expected.good_records - expected.good_by_file[vanished] + 1,
        "expected_bad_records": expected.bad_records,
    }
    conn.close()
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    print("\n=== demo result ===")
    print("files by state:     " + ", ".join(f"{k} {v}" for k, v in result["files_by_state"].items()))
    print(f"batches:            {summary['batches']}")
    print(f"records written:    {summary['records_good']:,} (curated Parquet)")
    print(f"records dead-lettered: {summary['records_bad']:,}")
    print(f"partitions written: {summary['partitions_written']}")
    print(f"curated Parquet:    {result['curated_parquet']}")
    print(f"dead letters:       {result['dead_letter']}")
    print(f"archived raw files: {result['archived_raw']}")
    print("files needing attention (mldp inspect KEY / mldp requeue):")
    for problem in result["problems"]:
        print(f"  {problem['state']:<11} {problem['key']}\n              {problem['reason']}")
    matches = (summary["records_good"], summary["records_bad"]) == (result["expected_good_records"],
                                                                    result["expected_bad_records"])
    print(f"check:              {'OK' if matches else 'MISMATCH'}: expected {result['expected_good_records']:,} "
          f"written and {result['expected_bad_records']:,} dead-lettered")
    print(f"total time:         {summary['seconds']:.1f}s")
    return 0 if matches else 1
