"""Files of both JSON layouts, mixed, through the real pipeline (lister, pre-check, Spark, publish): no record is
lost without a trace. Every generated record ends in the curated output exactly once, or dead-lettered with its
source file, or its file is QUARANTINED because a line holds a second value after a whole first one.

The Spark facts the pre-check's decision rests on (:mod:`runtime.jobs.json_shape`) are checked here too, on the
Spark of this environment (3.5): read as JSON Lines, a line that is an array yields each element, a second value
on a line is dropped, and a line that is no whole value is one corrupt record; read with ``multiLine``, only the
first top-level value of the file is read."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runtime.jobs.json_shape import shared_line_problem
from runtime.jobs.lister import run_lister
from runtime.spark.read import SourceFile, read_batch
from runtime.storage.local import LocalStore
from runtime.transforms.spec import CORRUPT_RECORD_COLUMN, load_spec
from tests.support.pipeline import curated_rows, dead_letter_rows, processor, states

pytestmark = pytest.mark.spark
FOLDER = "raw-json-data/2024/week07/"


# ------------------------------------------------------------------------------------------------ Spark's facts
def spark_reads(spark, tmp_path: Path, body: bytes, layout: str) -> list[tuple]:
    """(id, corrupt text) of every row Spark reads from ``body`` in ``layout``."""
    path = tmp_path / f"{layout}.json"
    path.write_bytes(body)
    source = SourceFile(file_id=1, key="k", spark_path=str(path), lineage_path=str(path), json_layout=layout)
    frame = read_batch(spark, [source], load_spec(None).read_schema())
    return sorted((row["id"], row[CORRUPT_RECORD_COLUMN]) for row in frame.collect())


def test_what_spark_reads_of_each_layout(spark, tmp_path):
    first_line_array = b'[{"id": "a1"}, {"id": "a2"}]\n{"id": "o3"}\n'
    assert spark_reads(spark, tmp_path, first_line_array, "lines") == [("a1", None), ("a2", None), ("o3", None)]
    assert spark_reads(spark, tmp_path, first_line_array, "array") == [("a1", None), ("a2", None)]  # o3 lost
    assert spark_reads(spark, tmp_path, b'[{"id": "r5"}]\n[{"id": "r6"}, {"id": "r7"}]', "array") == [("r5", None)]
    two_on_a_line = b'[{"id": "w1"}] {"id": "w2"}\n{"id": "w3"}{"id": "w4"}\n'
    assert spark_reads(spark, tmp_path, two_on_a_line, "lines") == [("w1", None), ("w3", None)]  # w2, w4 lost
    fragments = b'[\n  {\n    "id": "p1",\n    "x": [1, 2]\n  }\n] {"id": "p2"}\n5\n'
    assert spark_reads(spark, tmp_path, fragments, "lines") == sorted(
        (None, line) for line in ["[", "  {", '    "id": "p1",', '    "x": [1, 2]', "  }", '] {"id": "p2"}', "5"])


# ------------------------------------------------------------------------------------------------ the corpus
@dataclass
class Corpus:
    """What was generated: the records (id -> key of its file) and each file's kind."""

    records: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


def record(record_id: str, rng: random.Random) -> dict:
    return {"id": record_id, "DATE": f"2024-02-{rng.randrange(1, 29):02d}", "MODE": rng.choice(["train", "eval"]),
            "some_nested_struct": {"field1": "v[1]{", "field2": rng.randrange(100)},
            "some_list_of_structs": [{"name": "f\\\"]", "value": 0.5}][:rng.randrange(2)]}


def dumps(value, pretty: bool = False) -> bytes:
    return json.dumps(value, indent=2 if pretty else None).encode()


#: kind -> (builder of the file from its records' groups, the suffix, whether the records may be split in groups)
def _build(kind: str, groups: list[list[dict]], rng: random.Random) -> bytes:
    flat = [r for group in groups for r in group]
    if kind == "json_lines":
        return b"".join(dumps(r) + b"\n" for r in flat)
    if kind == "compact_array":
        return dumps(flat)
    if kind == "pretty_array":
        return b"\xef\xbb\xbf" * rng.randrange(2) + dumps(flat, pretty=True) + b"\n"
    if kind == "array_first_line_then_objects":  # the reported case: JSON Lines whose first line is an array
        return dumps(groups[0]) + b"\n" + b"".join(dumps(r) + b"\n" for group in groups[1:] for r in group)
    if kind == "arrays_one_per_line":
        return b"".join(dumps(group) + rng.choice([b"\n", b"\r\n", b",\n"]) for group in groups)
    if kind == "lines_of_arrays_and_objects":
        return b"".join((dumps(group) if rng.random() < 0.5 else b"\n".join(dumps(r) for r in group)) + b"\n"
                        for group in groups)
    if kind == "pretty_array_then_lines":
        return dumps(groups[0], pretty=True) + b"\n" + b"".join(dumps(r) + b"\n" for g in groups[1:] for r in g)
    if kind == "two_values_on_a_line":
        lines = [dumps(group) for group in groups]
        at = rng.randrange(len(lines) - 1)
        lines[at:at + 2] = [lines[at] + rng.choice([b" ", b"", b", "]) + lines[at + 1]]
        return b"\n".join(lines) + b"\n"
    raise ValueError(kind)


KINDS = ("json_lines", "compact_array", "pretty_array", "array_first_line_then_objects", "arrays_one_per_line",
         "lines_of_arrays_and_objects", "pretty_array_then_lines", "two_values_on_a_line")


def generate(store: LocalStore, seed: int = 7, files: int = 32) -> Corpus:
    """``files`` files, every kind of :data:`KINDS` at least once (and gzipped), records in groups of 1-4."""
    rng = random.Random(seed)
    corpus = Corpus()
    for number in range(files):
        kind = KINDS[number % len(KINDS)]
        compressed = number // len(KINDS) == 1 or (number >= 2 * len(KINDS) and rng.random() < 0.5)
        key = f"{FOLDER}part-{number:03d}-{kind}.json" + (".gz" if compressed else "")
        groups, serial = [], 0
        for _ in range(rng.randrange(3, 7)):
            group = []
            for _ in range(rng.randrange(1, 5)):
                record_id = f"mix-{number:03d}-{serial:03d}"
                serial += 1
                group.append(record(record_id, rng))
                corpus.records[record_id] = key
            groups.append(group)
        body = _build(kind, groups, rng)
        store.put_bytes(key, gzip.compress(body) if compressed else body)
        corpus.kinds[key] = kind
    return corpus


# ------------------------------------------------------------------------------------------------ the pipeline
def test_a_corpus_of_both_layouts_loses_no_record_silently(tmp_path, db_conn, spark):
    store = LocalStore(tmp_path)
    corpus = generate(store)
    run_lister(store, db_conn)
    processor(store, db_conn, spark, batch_size=100).drain()

    final = states(db_conn)
    with db_conn.cursor() as cur:
        cur.execute("SELECT s3_key, error_message FROM file_processing_status")
        errors = dict(cur.fetchall())
    db_conn.commit()
    root = str(tmp_path).rstrip("/") + "/"
    curated = Counter((row_id, source[len(root):]) for row_id, source, _mode in curated_rows(tmp_path))
    dead = [(row["source_s3_path"][len(root):], row["raw_record"] or "") for row in dead_letter_rows(tmp_path)]

    def dead_lettered(record_id: str, key: str) -> bool:
        return any(source == key and f'"{record_id}"' in raw for source, raw in dead)

    def quarantined_for_a_shared_line(key: str) -> bool:
        return final[key] == "QUARANTINED" and errors[key].startswith("several JSON values on line ")

    lost = [(record_id, corpus.kinds[key]) for record_id, key in corpus.records.items()
            if not (curated[(record_id, key)] == 1 or dead_lettered(record_id, key)
                    or quarantined_for_a_shared_line(key))]
    assert lost == []
    assert all(count == 1 for count in curated.values()), "a record was written twice"
    assert {source for _record_id, source in curated} <= set(corpus.kinds)

    # and each kind the way the layout decision defines it
    for key, kind in corpus.kinds.items():
        ids = [record_id for record_id, k in corpus.records.items() if k == key]
        if kind == "two_values_on_a_line":
            assert final[key] == "QUARANTINED" and errors[key] == shared_line_problem(_shared_line(store, key))
        elif kind == "pretty_array_then_lines":  # the pretty array is dead-lettered line by line, the rest read
            assert final[key] == "SUCCEEDED"
            assert sum(curated[(record_id, key)] for record_id in ids) < len(ids)
            assert all(curated[(record_id, key)] == 1 or dead_lettered(record_id, key) for record_id in ids)
        else:  # every record read: arrays whole, and a line that is an array element by element
            assert final[key] == "SUCCEEDED", (kind, errors[key])
            assert [curated[(record_id, key)] for record_id in ids] == [1] * len(ids), kind


def _shared_line(store: LocalStore, key: str) -> int:
    """The first line of a ``two_values_on_a_line`` file holding two values (found independently of the scan)."""
    body = store.get_bytes(key)
    text = (gzip.decompress(body) if key.endswith(".gz") else body).decode()
    for number, line in enumerate(text.split("\n"), start=1):
        decoder, stripped = json.JSONDecoder(), line.strip()
        if stripped:
            _value, end = decoder.raw_decode(stripped)
            if stripped[end:].strip(" ,"):
                return number
    raise AssertionError(f"{key} has no line with two values")
