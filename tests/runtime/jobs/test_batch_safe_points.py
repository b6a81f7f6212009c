"""Explicit safe points (:mod:`runtime.jobs.batch`): what a stop does is a function of the batch's stage alone, and
the crash checkpoints (:mod:`runtime.jobs.checkpoints`) exist for tests only and decide nothing.

* the rule: before the manifest a stop gives the batch back uncharged, from the manifest on the batch is finished;
* a stop requested during each step of a real run (the Spark conversion replaced by a stand-in, so no Spark is
  needed and nothing depends on timing), with no crash hook at all and with one that sees every checkpoint: the
  outcome table is the rule's, either way;
* the product never passes a crash hook (the CLI and the Glue entry build their processor without one), and no code
  of the product reads a checkpoint's name: renaming or removing a checkpoint cannot change what SIGTERM does.
"""

from __future__ import annotations

import ast
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest

from runtime.db.records import FileOutcome
from runtime.db.states import FileState
from runtime.jobs import processor as processor_module
from runtime.jobs import publish as pub
from runtime.jobs.archive import Archiver
from runtime.jobs.batch import BatchProtocol, BatchStage, OnStop
from runtime.jobs.checkpoints import CHECKPOINTS, Checkpoint, no_crash
from runtime.jobs.lister import run_lister
from runtime.jobs.precheck import PrecheckResult
from runtime.jobs.processor import BatchProcessor, ProcessorSettings
from runtime.layout import Layout
from runtime.storage.local import LocalStore
from tests.support.leases import one
from tests.support.sql import files_by_key

ROOT = Path(__file__).resolve().parents[3]
LAYOUT = Layout()
RAW = "raw-json-data/2024/week01/"
GIVEN_BACK, FINISHED = "given back uncharged", "finished"

#: The outcome of a stop requested while each step runs: the rule of :class:`OnStop`, step by step.
OUTCOMES = {
    "claim": GIVEN_BACK,
    "precheck": GIVEN_BACK,
    "convert": GIVEN_BACK,
    "write_manifest": FINISHED,
    "publish": FINISHED,
    "commit": FINISHED,
    "archive": FINISHED,
    "clean": FINISHED,
}


def test_the_stop_rule_is_a_function_of_the_stage_alone():
    assert {stage: OnStop.at(stage) for stage in BatchStage} == {
        BatchStage.UNCLAIMED: OnStop.GIVE_BACK,
        BatchStage.CLAIMED: OnStop.GIVE_BACK,
        BatchStage.PRECHECKED: OnStop.GIVE_BACK,
        BatchStage.STAGED: OnStop.GIVE_BACK,
        BatchStage.MANIFEST_WRITTEN: OnStop.FINISH,
        BatchStage.PUBLISHED: OnStop.FINISH,
        BatchStage.COMMITTED: OnStop.FINISH,
        BatchStage.ARCHIVED: OnStop.FINISH,
        BatchStage.CLEANED: OnStop.FINISH,
    }
    assert list(BatchStage) == sorted(BatchStage)  # the stages are in the order a batch reaches them


def no_spark():
    raise AssertionError("Spark was started")


def stop_during(step: str, run: BatchProcessor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Request a stop (SIGTERM's flag) while ``step`` of the run's first batch runs, and replace the Spark
    conversion by a stand-in that stages one object per file, each file SUCCEEDED."""
    stopped: list[str] = []

    def request() -> None:
        if not stopped:
            stopped.append(step)
            run.stop.request(signal.SIGTERM)

    def stand_in_conversion(self: BatchProtocol, batch_id: str, readable: Sequence[PrecheckResult]) -> dict:
        for c in readable:
            run.store.put_bytes(pub.curated_staging(LAYOUT, batch_id) + f"year=2024/month=1/day=1/mode=train/"
                                f"part-{c.file.file_id}.parquet", b"PAR1 staged rows PAR1")
        return {c.file.file_id: FileOutcome(c.file.file_id, c.file.key, FileState.SUCCEEDED, None, 1, 0,
                                            size=c.size, etag=c.processed.etag) for c in readable}

    def during(owner: object, name: str, when=lambda *args: True) -> None:
        original = getattr(owner, name)

        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            if when(*args):
                request()
            return result

        monkeypatch.setattr(owner, name, wrapped)

    monkeypatch.setattr(BatchProtocol, "convert", stand_in_conversion)
    if step == "convert":
        during(BatchProtocol, "convert")
    elif step in ("claim", "precheck", "write_manifest", "commit"):
        during(BatchProtocol, step)
    elif step == "archive":  # the batch's archive, not the leftovers' (none) before the claim
        during(Archiver, "archive", when=lambda _self, items: bool(items))
    elif step == "publish":
        during(pub, "publish")
    else:
        during(pub, "clean_staging")


@pytest.mark.parametrize("hook", ["no crash hook", "a hook at every checkpoint"])
@pytest.mark.parametrize("step", list(OUTCOMES))
def test_a_stop_during_each_step_gives_the_batch_back_before_its_manifest_and_finishes_it_after(
        step, hook, tmp_path, db_conn, monkeypatch):
    store = LocalStore(tmp_path)
    for name in ("a.jsonl", "b.jsonl"):
        store.put_bytes(RAW + name, b'{"id": 1, "DATE": "2024-01-01", "MODE": "train"}\n')
    run_lister(store, db_conn)
    seen: list[Checkpoint] = []
    hooks = {"checkpoint": seen.append} if hook == "a hook at every checkpoint" else {}
    run = BatchProcessor(store, db_conn, no_spark, None, ProcessorSettings(batch_size=1),  # type: ignore[arg-type]
                         LAYOUT, **hooks)
    stop_during(step, run, monkeypatch)

    reports = run.drain()

    assert run.exit_status == 143
    batches = one(db_conn, "SELECT array_agg(state || ': ' || coalesce(error_message, '')) FROM processing_batches")[0]
    assert len(batches) == 1, "the run went on to another batch after the stop"
    files = sorted(files_by_key(db_conn, "processing_status, retry_count").values())
    outcome = GIVEN_BACK if files == [("PENDING", 0), ("PENDING", 0)] else FINISHED
    assert outcome == OUTCOMES[step]
    if outcome == GIVEN_BACK:
        assert reports == [] and batches[0].startswith("ABANDONED: released: run stopped by SIGTERM")
        assert one(db_conn, "SELECT count(*) FROM file_processing_history WHERE event = 'OUTCOME'")[0] == 0
        assert not list(store.list(LAYOUT.curated_prefix))  # nothing published, the staging deleted
    else:
        assert [r.files for r in reports] == [{"SUCCEEDED": 1}] and batches == ["COMMITTED: "]
        assert files == [("PENDING", 0), ("SUCCEEDED", 1)]  # the next batch never claimed
        assert [o.key for o in store.list(LAYOUT.curated_prefix) if "/_staging/" not in f"/{o.key}"]
        assert not list(store.list(LAYOUT.staging_prefix))
    if hooks:  # the hook was called at the checkpoints the batch passed, and changed nothing
        assert set(seen) <= set(CHECKPOINTS) and (Checkpoint.AFTER_ARCHIVE in seen) == (outcome == FINISHED)


# --- the product never passes a crash hook, and no code of it reads a checkpoint's name -------------------------

PLUMBING = {"runtime/jobs/checkpoints.py", "runtime/jobs/processor.py", "runtime/jobs/batch.py",
            "runtime/jobs/archive.py", "runtime/jobs/publish.py"}


def product_modules() -> list[tuple[str, ast.Module]]:
    return [(str(path.relative_to(ROOT)), ast.parse(path.read_text(), str(path)))
            for path in sorted((ROOT / "runtime").rglob("*.py"))]


def test_no_code_of_the_product_reads_a_checkpoints_name():
    names = {str(point) for point in Checkpoint}
    found = []
    for path, tree in product_modules():
        for node in ast.walk(tree):
            if path != "runtime/jobs/checkpoints.py" and isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path}:{node.lineno}: the name {node.value!r}")
            if isinstance(node, (ast.Compare, ast.Match)) and "Checkpoint" in ast.unparse(node):
                found.append(f"{path}:{node.lineno}: a decision on a checkpoint")
            if isinstance(node, ast.Name) and node.id == "Checkpoint" and path not in PLUMBING:
                found.append(f"{path}:{node.lineno}: Checkpoint outside the protocol's plumbing")
    assert found == []


def test_the_product_passes_no_crash_hook():
    found = [f"{path}:{node.lineno}: {ast.unparse(node)[:80]}"
             for path, tree in product_modules() if path not in PLUMBING
             for node in ast.walk(tree)
             if isinstance(node, ast.Call) and any(k.arg == "checkpoint" for k in node.keywords)]
    assert found == []


def test_the_cli_and_the_glue_entry_build_their_processor_without_a_crash_hook(tmp_path, db_url, monkeypatch):
    from runtime.cli import main
    from runtime.glue import json_to_parquet_batch_processor as glue_entry

    built: list[BatchProcessor] = []
    original = processor_module.BatchProcessor.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(processor_module.BatchProcessor, "__init__", spy)
    (tmp_path / "raw-json-data").mkdir()
    cli = ["process", "--store", str(tmp_path), "--db", db_url, "--no-metrics", "--json"]
    glue = glue_entry.cli_argv(["script.py", "--store", str(tmp_path), "--db", db_url, "--no-metrics", "true"])
    assert main(cli) == 0 and main(glue) == 0
    assert len(built) == 2
    assert all(p.checkpoint is no_crash and p.protocol().checkpoint is no_crash for p in built)
