"""The lister and the processor at once on the same rows (issue 10 item 4): repeated re-listings, new versions and
stale pages while batches claim, renew their lease, commit and archive. No deadlock, no version rolled back, no
version published twice, every file in one final state."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import psycopg2
import pyarrow.dataset as ds

from runtime.db.registration import register_page
from runtime.jobs.lister import run_lister
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.storage.local import LocalStore
from runtime.transforms.spec import load_spec
from tests.support.pipeline import LAYOUT

HIST = "raw-json-data/all_historical_files/concurrent/"
FILES = 12
OVERWRITE_ROUNDS = 6
#: Hard bound of the concurrent phase (the processor normally drains well before).
PHASE_SECONDS = 240


def _content(index: int, version: int) -> bytes:
    """Three records whose ids name the file and its content version, so a version published twice shows."""
    return b"".join(
        f'{{"id": "f{index}-v{version}-r{r}", "DATE": "2024-01-0{r + 1}", "MODE": "train"}}\n'.encode()
        for r in range(3))


def _curated_ids(root: Path) -> list[tuple[str, str, int]]:
    path = root / LAYOUT.curated_prefix
    if not path.exists():
        return []
    table = ds.dataset(str(path), format="parquet", partitioning="hive").to_table(
        columns=["id", "source_s3_path", "source_version"])
    return list(zip(*(table[c].to_pylist() for c in ("id", "source_s3_path", "source_version")), strict=True))


def _processor(root: Path, db_url: str, spark) -> tuple[BatchProcessor, psycopg2.extensions.connection]:
    conn = psycopg2.connect(db_url, application_name="test-processor")
    settings = ProcessorSettings(batch_size=3)
    return BatchProcessor(LocalStore(root), conn, lambda: spark, load_spec(None), settings, LAYOUT,
                          heartbeat_connect=lambda: psycopg2.connect(db_url, application_name="test-heartbeat"),
                          heartbeat_interval=2.0), conn  # a renewal every 2 s: lease updates in the mix


def test_lister_and_processor_at_once_never_deadlock_roll_back_or_publish_twice(tmp_path, db_url, spark):
    root = tmp_path
    writer = LocalStore(root)
    keys = [f"{HIST}f{i:02d}.jsonl" for i in range(FILES)]
    written = {key: 1 for key in keys}
    for i, key in enumerate(keys):
        writer.put_bytes(key, _content(i, 1))
    lister_conn = psycopg2.connect(db_url, application_name="test-lister")
    run_lister(LocalStore(root), lister_conn, show_progress=False)
    first_listing = [obj for page in writer.list_pages(HIST) for obj in page]  # replayed later as a stale page

    errors: list[BaseException] = []
    stop = threading.Event()
    batches = Counter()

    def process() -> None:
        processor, conn = _processor(root, db_url, spark)
        try:
            while not stop.is_set():
                reports = processor.run_once()
                batches["batches"] += len(reports)
                if not reports:
                    time.sleep(0.05)
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            conn.close()

    def list_again_and_again() -> None:
        rng = random.Random(10)
        try:
            rounds = 0
            deadline = time.monotonic() + PHASE_SECONDS
            while time.monotonic() < deadline and not errors and (rounds < 3 * OVERWRITE_ROUNDS
                                                                  or batches["batches"] < 4):
                if rounds % 3 == 0 and rounds // 3 < OVERWRITE_ROUNDS:  # new versions while batches run
                    for key in rng.sample(keys, 3):
                        written[key] += 1
                        writer.put_bytes(key, _content(keys.index(key), written[key]))
                run_lister(LocalStore(root), lister_conn, show_progress=False)
                batches["stale"] += register_page(lister_conn, first_listing).stale  # must change nothing
                rounds += 1
                time.sleep(0.3)
        except BaseException as error:  # reported by the test
            errors.append(error)

    processing = threading.Thread(target=process, name="processor")
    listing = threading.Thread(target=list_again_and_again, name="lister")
    processing.start()
    listing.start()
    listing.join(PHASE_SECONDS + 60)
    stop.set()
    processing.join(120)
    assert not errors, errors
    assert batches["batches"] >= 4 and batches["stale"] > 0  # batches committed, stale pages replayed

    # settle: list and drain until nothing changes
    processor, conn = _processor(root, db_url, spark)
    for _ in range(10):
        counts = run_lister(LocalStore(root), lister_conn, show_progress=False).counts
        if not processor.drain() and not counts.new + counts.changed:
            break
    conn.close()

    with lister_conn.cursor() as cur:
        cur.execute("SELECT s3_key, file_id, processing_status, etag, version FROM file_processing_status")
        rows = {key: (file_id, state, etag, version) for key, file_id, state, etag, version in cur.fetchall()}
        cur.execute("SELECT file_id, history_id, event, etag, version FROM file_processing_history ORDER BY history_id")
        history = cur.fetchall()
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        deadlocks = cur.fetchone()[0]
    lister_conn.close()

    assert deadlocks == 0
    assert {state for _id, state, _etag, _version in rows.values()} == {"SUCCEEDED"}, rows
    # never back in version: each ETag of a file has one version, and versions only grow
    versions_of = defaultdict(set)
    replaced = defaultdict(list)
    for file_id, _hid, event, etag, version in history:
        versions_of[(file_id, etag)].add(version)
        if event == "NEW_VERSION":
            replaced[file_id].append(version)
    for file_id, _state, etag, version in rows.values():
        versions_of[(file_id, etag)].add(version)
        assert replaced[file_id] == sorted(set(replaced[file_id])) and all(v < version for v in replaced[file_id])
    assert all(len(v) == 1 for v in versions_of.values()), versions_of
    # no version published twice, the last content of every file published
    ids = Counter(record_id for record_id, _source, _version in _curated_ids(root))
    assert ids and max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    for i, key in enumerate(keys):
        assert {f"f{i}-v{written[key]}-r{r}" for r in range(3)} <= set(ids), key
