"""Parallel moves (archiving processed raw files) on both stores, and their S3 request cost."""

from __future__ import annotations

import importlib.util
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from bench.call_counter import CallCounter
from runtime.layout import Layout
from runtime.storage.base import ObjectStore
from runtime.storage.mover import Move, MoveReport, move_objects
from runtime.storage.s3 import S3Store

LAYOUT = Layout()
BENCH = Path(__file__).resolve().parents[3] / "bench" / "s3_calls_per_archive.py"


def _seed(store: ObjectStore, count: int, prefix: str = "raw-json-data/2024/week01/") -> list[Move]:
    """``count`` raw files and the moves that archive them (sizes known, as from a listing)."""
    moves = []
    for i in range(count):
        key = f"{prefix}part {i:04d}.json"
        body = b'{"id": %d}\n' % i
        store.put_bytes(key, body)
        moves.append(Move(key, LAYOUT.archived_key(key), len(body)))
    return moves


def _keys(store: ObjectStore, prefix: str) -> list[str]:
    return [info.key for info in store.list(prefix)]


def _assert_archived(store: ObjectStore, moves: list[Move]) -> None:
    for i, move in enumerate(moves):
        assert not store.exists(move.source)
        assert store.get_bytes(move.destination) == b'{"id": %d}\n' % i


def _break_copies_to(store: ObjectStore, destination: str) -> None:
    """Make every copy to ``destination`` fail: on S3 a botocore hook raises for that key; locally a file sits
    where the destination's directory should be."""
    if isinstance(store, S3Store):
        def refuse(params: dict[str, Any], **_: Any) -> None:
            if params.get("Key") == destination:
                raise RuntimeError(f"injected failure copying to {destination}")

        store.client.meta.events.register("before-parameter-build.s3.CopyObject", refuse)
    else:
        store.put_bytes(destination.rsplit("/", 1)[0], b"a file where a directory should be")


def test_moves_every_file_then_deletes_the_sources(store: ObjectStore) -> None:
    moves = _seed(store, 25)

    report = move_objects(store, moves, max_workers=4)

    assert report == MoveReport(moved=moves, failed={})
    assert _keys(store, "raw-json-data/") == []
    assert _keys(store, "raw-json-data-processed/") == sorted(m.destination for m in moves)
    _assert_archived(store, moves)


def test_moves_without_sizes(store: ObjectStore) -> None:
    moves = [Move(m.source, m.destination) for m in _seed(store, 3)]

    assert move_objects(store, moves).moved == moves
    _assert_archived(store, moves)


def test_rerun_is_idempotent(store: ObjectStore) -> None:
    moves = _seed(store, 10)
    move_objects(store, moves)

    again = move_objects(store, moves)

    assert again == MoveReport(moved=moves, failed={})
    _assert_archived(store, moves)


def test_resumes_after_a_crash_mid_archive(store: ObjectStore) -> None:
    moves = _seed(store, 6)
    store.copy(moves[0].source, moves[0].destination)  # copied, crashed before the delete
    store.copy(moves[1].source, moves[1].destination)  # copied and deleted: source gone, destination there
    store.delete(moves[1].source)

    report = move_objects(store, moves)

    assert report == MoveReport(moved=moves, failed={})
    _assert_archived(store, moves)


def test_source_and_destination_both_missing_is_a_failure(store: ObjectStore) -> None:
    moves = _seed(store, 2)
    ghost = Move("raw-json-data/2024/week01/ghost.json", "raw-json-data-processed/2024/week01/ghost.json", 5)

    report = move_objects(store, [*moves, ghost])

    assert report.moved == moves
    assert list(report.failed) == [ghost.source]
    assert "does not exist" in report.failed[ghost.source]
    assert not store.exists(ghost.destination)


def test_a_failing_copy_keeps_its_source(store: ObjectStore) -> None:
    moves = _seed(store, 10)
    store.put_bytes("raw-json-data/2024/week01/broken.json", b'{"id": "kept"}\n')
    broken = Move("raw-json-data/2024/week01/broken.json", "raw-json-data-processed/blocked/broken.json", 15)
    _break_copies_to(store, broken.destination)

    report = move_objects(store, [*moves[:5], broken, *moves[5:]], max_workers=3)

    assert report.moved == moves
    assert list(report.failed) == [broken.source]
    assert "blocked/broken.json" in report.failed[broken.source]
    assert store.get_bytes(broken.source) == b'{"id": "kept"}\n'
    assert not store.exists(broken.destination)
    _assert_archived(store, moves)


def test_batches_that_could_overwrite_are_refused_and_lose_nothing(store: ObjectStore) -> None:
    for name in "ABCEF":
        store.put_bytes(f"in/{name}", name.encode())
    moves = [
        Move("in/A", "in/A"),  # onto itself
        Move("in/B", "out/D"),
        Move("in/C", "out/D"),  # same destination as B
        Move("in/E", "in/F"),  # onto another source of the batch
        Move("in/F", "out/G"),
        Move("in/B", "out/D"),  # exact duplicate: done once
    ]

    report = move_objects(store, moves)

    assert report.moved == [Move("in/B", "out/D"), Move("in/F", "out/G")]
    assert set(report.failed) == {"in/A", "in/C", "in/E"}
    assert _keys(store, "in/") == ["in/A", "in/C", "in/E"]
    contents = {k: store.get_bytes(k) for k in ("in/A", "in/C", "in/E", "out/D", "out/G")}
    assert contents == {"in/A": b"A", "in/C": b"C", "in/E": b"E", "out/D": b"B", "out/G": b"F"}


def test_copies_run_in_parallel_up_to_max_workers(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves = _seed(store, 12)
    workers = 4
    # The first `workers` copies wait for each other: if the mover ran them one at a time they would break
    # the barrier (after its deadlock guard) and fail their moves.
    barrier = threading.Barrier(workers, timeout=60)
    lock = threading.Lock()
    seen = {"started": 0, "in_flight": 0, "max": 0}
    original = store.copy

    def gated_copy(source: str, destination: str, size: int | None = None, if_match: str | None = None) -> None:
        with lock:
            seen["started"] += 1
            seen["in_flight"] += 1
            seen["max"] = max(seen["max"], seen["in_flight"])
            first_wave = seen["started"] <= workers
        try:
            if first_wave:
                barrier.wait()
            original(source, destination, size, if_match)
        finally:
            with lock:
                seen["in_flight"] -= 1

    monkeypatch.setattr(store, "copy", gated_copy)

    report = move_objects(store, moves, max_workers=workers)

    assert report == MoveReport(moved=moves, failed={})
    assert seen["max"] == workers
    _assert_archived(store, moves)


def test_a_source_that_cannot_be_deleted_is_reported(s3_store: S3Store, s3_client: Any) -> None:
    moves = _seed(s3_store, 4)
    stuck = moves[2].source

    def keep_it(params: dict[str, Any], **_: Any) -> None:  # real S3 keeps a key it answers an error for
        params["Delete"]["Objects"] = [o for o in params["Delete"]["Objects"] if o["Key"] != stuck]

    def refuse_delete(parsed: dict[str, Any], **_: Any) -> None:
        # a per-key error S3 asks to retry (a per-key AccessDenied raises StoragePermissionError instead)
        parsed["Errors"] = [{"Key": stuck, "Code": "InternalError", "Message": "We encountered an internal error"}]

    s3_client.meta.events.register("provide-client-params.s3.DeleteObjects", keep_it)
    s3_client.meta.events.register("after-call.s3.DeleteObjects", refuse_delete)

    report = move_objects(s3_store, moves)

    assert report.moved == [m for m in moves if m.source != stuck]
    assert list(report.failed) == [stuck]
    assert "was not deleted" in report.failed[stuck]
    assert s3_store.exists(moves[2].destination)


def test_s3_costs_one_copy_per_file_and_one_delete_per_thousand(
    s3_store: S3Store, s3_calls: CallCounter
) -> None:
    files = 1000
    moves = _seed(s3_store, files)
    s3_calls.reset()

    report = move_objects(s3_store, moves, max_workers=16)

    assert len(report.moved) == files and report.failed == {}
    assert s3_calls.ops == {"CopyObject": files, "DeleteObjects": 1}
    assert s3_calls.total / files <= 1.001
    assert 1 <= s3_calls.max_in_flight <= 16
    assert _keys(s3_store, "raw-json-data/") == []
    assert len(_keys(s3_store, "raw-json-data-processed/")) == files


def test_s3_recovery_path_adds_one_head_per_file(s3_store: S3Store, s3_calls: CallCounter) -> None:
    moves = _seed(s3_store, 5)
    move_objects(s3_store, moves)
    s3_calls.reset()

    report = move_objects(s3_store, moves)

    assert report.moved == moves
    assert s3_calls.ops == {"CopyObject": 5, "HeadObject": 5}


def test_s3_copies_over_the_single_copy_limit_use_upload_part_copy(
    s3_client: Any, s3_bucket: str, s3_calls: CallCounter
) -> None:
    mib = 1024 * 1024
    store = S3Store(s3_bucket, client=s3_client, single_copy_limit=mib, copy_chunk_size=5 * mib)
    big = random.Random(3).randbytes(11 * mib + 123)
    store.put_bytes("raw-json-data/big.json", big)
    store.put_bytes("raw-json-data/small.json", b"{}")
    s3_calls.reset()

    move = Move("raw-json-data/big.json", "raw-json-data-processed/big.json", len(big))
    report = move_objects(store, [move])

    assert report.failed == {} and len(report.moved) == 1
    assert s3_calls.ops == {
        "HeadObject": 1,
        "CreateMultipartUpload": 1,
        "UploadPartCopy": 3,  # 5 MiB + 5 MiB + 1 MiB
        "CompleteMultipartUpload": 1,
        "DeleteObjects": 1,
    }
    assert store.get_bytes("raw-json-data-processed/big.json") == big
    assert not store.exists("raw-json-data/big.json")

    s3_calls.reset()
    store.copy("raw-json-data/small.json", "raw-json-data-processed/small.json", size=2)
    assert s3_calls.ops == {"CopyObject": 1}
    s3_calls.reset()
    store.copy("raw-json-data/small.json", "raw-json-data-processed/small-2.json")  # size unknown
    assert s3_calls.ops == {"HeadObject": 1, "CopyObject": 1}
    assert store.get_bytes("raw-json-data-processed/small-2.json") == b"{}"


def test_no_moves_make_no_calls(s3_store: S3Store, s3_calls: CallCounter) -> None:
    assert move_objects(s3_store, []) == MoveReport(moved=[], failed={})
    assert s3_calls.total == 0
    with pytest.raises(ValueError):
        move_objects(s3_store, [], max_workers=0)


def test_benchmark_counts_calls_for_both_methods(aws_credentials: None) -> None:
    spec = importlib.util.spec_from_file_location("s3_calls_per_archive", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    result = bench.run(files=20)

    assert result["benchmark"] == "s3_calls_per_archived_file"
    assert result["files"] == 20
    assert result["ours_calls_per_file"] == pytest.approx(21 / 20)
    assert result["reference_calls_per_file"] == pytest.approx(2.0)
    assert result["ratio"] == pytest.approx(21 / 40)
    assert result["ours_operations"] == {"CopyObject": 20, "DeleteObjects": 1}
    assert result["reference_operations"] == {"CopyObject": 20, "DeleteObject": 20}
    assert 1 <= result["max_in_flight"] <= 16


def test_a_source_overwritten_since_processing_is_kept_not_moved(local_store: ObjectStore) -> None:
    store = local_store
    store.put_bytes("raw-json-data/a.json", b"v1")
    processed_etag = store.head("raw-json-data/a.json").etag
    store.put_bytes("raw-json-data/a.json", b"version two")  # a new version lands before the archive
    report = move_objects(store, [Move("raw-json-data/a.json", "raw-json-data-processed/a.json", 2,
                                       expected_etag=processed_etag)])
    assert report.moved == [] and "changed since ETag" in report.failed["raw-json-data/a.json"]
    assert store.get_bytes("raw-json-data/a.json") == b"version two"
    assert not store.exists("raw-json-data-processed/a.json")


def test_s3_archive_copy_is_conditional_on_the_processed_etag(s3_store: S3Store, s3_client: Any) -> None:
    """Real S3 answers 412 PreconditionFailed to a CopySourceIfMatch that no longer matches; moto ignores the
    condition, so the test checks the request carries it and answers the 412 as S3 would."""
    from botocore.awsrequest import AWSResponse

    s3_store.put_bytes("raw-json-data/a.json", b"v1")
    etag = s3_store.head("raw-json-data/a.json").etag
    sent = []

    def answer_like_s3_for_a_changed_source(params: dict, model: Any, **_: Any):
        if model.name == "CopyObject":
            sent.append(params["headers"].get("x-amz-copy-source-if-match"))
            return AWSResponse("https://s3", 412, {}, None), {
                "Error": {"Code": "PreconditionFailed", "Message": "At least one of the pre-conditions failed"},
                "ResponseMetadata": {"HTTPStatusCode": 412}}
        return None

    s3_client.meta.events.register("before-call.s3.CopyObject", answer_like_s3_for_a_changed_source)
    report = move_objects(s3_store, [Move("raw-json-data/a.json", "raw-json-data-processed/a.json", 2,
                                          expected_etag=etag)])
    assert sent == [f'"{etag}"']
    assert report.moved == [] and "changed since ETag" in report.failed["raw-json-data/a.json"]
    assert s3_store.exists("raw-json-data/a.json") and not s3_store.exists("raw-json-data-processed/a.json")


def test_a_delete_carried_out_whose_answer_was_lost_is_a_move_not_a_failure(store: ObjectStore, monkeypatch) -> None:
    """S3 may carry a DeleteObjects out and its answer be lost (retries used up): the store reports every key as not
    deleted. A source gone after its copy is moved, never counted a failed delete (a false ArchiveDeleteFailures)."""
    moves = _seed(store, 3)
    real_delete_many = store.delete_many

    def answer_lost(keys, if_match=None):
        real_delete_many(keys, if_match=if_match)
        return list(keys)

    monkeypatch.setattr(store, "delete_many", answer_lost)
    report = move_objects(store, moves)

    assert report.moved == moves and report.failed == {} and report.not_deleted == []
    _assert_archived(store, moves)
