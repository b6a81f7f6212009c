"""Helpers for end-to-end tests of the batch processor on a local store."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pyarrow.dataset as ds

from runtime.jobs.checkpoints import Checkpoint
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.layout import Layout
from runtime.transforms.spec import load_spec

LAYOUT = Layout()
DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "runtime" / "transforms" / "default_spec.json"


def write_spec(folder: Path, hook_source: str | None = None, hook_function: str | None = None,
               extra_columns: Sequence[dict] = ()) -> Path:
    """The default transform spec, with ``hook_source`` as ``folder/hooks.py`` and its ``hook_function`` as the
    hook, and ``extra_columns`` added, written to ``folder/spec.json``; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    document = json.loads(DEFAULT_SPEC.read_text())
    if hook_source is not None:
        (folder / "hooks.py").write_text(hook_source)
        document["hook"] = f"hooks.py:{hook_function}"
    document["columns"].extend(extra_columns)
    path = folder / "spec.json"
    path.write_text(json.dumps(document))
    return path


class SimulatedCrash(BaseException):
    """Raised at a checkpoint to stop a run dead, like a killed process (not caught by ``except Exception``)."""


def crash_at(point: str):
    """A crash hook that raises :class:`SimulatedCrash` at ``point`` (a :class:`Checkpoint` name: a name that is
    none, e.g. one renamed since, fails at once instead of never crashing)."""
    point = Checkpoint(point)

    def checkpoint(name: str) -> None:
        if name == point:
            raise SimulatedCrash(point)
    return checkpoint


def processor(store, conn, spark, **settings) -> BatchProcessor:
    checkpoint = settings.pop("checkpoint", lambda name: None)
    return BatchProcessor(store, conn, lambda: spark, load_spec(None), ProcessorSettings(**settings), LAYOUT,
                          checkpoint=checkpoint)


def curated_rows(root: Path) -> list:
    """(id, source_s3_path, year, month, day, mode) of every curated row."""
    path = root / LAYOUT.curated_prefix
    if not path.exists():
        return []
    table = ds.dataset(str(path), format="parquet", partitioning="hive").to_table()
    columns = [table[name].to_pylist() for name in ("id", "source_s3_path", "mode")]
    return list(zip(*columns, strict=True))


def dead_letter_rows(root: Path) -> list:
    rows = []
    for file in sorted((root / LAYOUT.dead_letter_prefix).rglob("*.json")):
        rows += [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    return rows


def states(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute("SELECT s3_key, processing_status FROM file_processing_status")
        result = dict(cur.fetchall())
    conn.commit()
    return result


def per_source(rows: list, root: Path) -> Counter:
    """Count of rows by source key (relative to the store root)."""
    prefix = str(root).rstrip("/") + "/"
    return Counter(r[1][len(prefix):] if r[1].startswith(prefix) else r[1] for r in rows)
