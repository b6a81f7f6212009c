"""A realistic sample of raw JSON for the local demo and the end-to-end tests: a few dozen files in the reference
prefixes (historical dump + weekly drops), JSON Lines, JSON arrays and gzip, plus one file of every bad-input kind
the processor must handle."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from platform_contract.layout import HISTORICAL_PREFIX
from runtime.storage.base import ObjectStore

MODES = ("train", "eval", "test")


def record(rng: random.Random, index: int) -> dict:
    """One well-formed raw record in the reference shape (``score`` and ``some_nested_struct.field2``, and ``device``
    in one record of ten, are fields the default spec does not read: they end in ``_rescued_data``)."""
    day = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 21))
    return {
        "id": f"evt-{index:08d}",
        "DATE": day.isoformat(),
        "MODE": rng.choice(MODES),
        "some_nested_struct": {"field1": f"value-{rng.randrange(1000)}", "field2": rng.randrange(100)},
        "some_list_of_structs": [
            {"name": f"feature_{k}", "value": round(rng.random(), 4)} for k in range(rng.randrange(0, 4))
        ],
        "score": round(rng.gauss(0, 1), 5),
        # a field producers added later: not in the default spec, kept in _rescued_data (issue 20)
        **({"device": f"cam-{index % 4}"} if index % 10 == 3 else {}),
    }


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@dataclass
class SampleExpectation:
    """What a correct pipeline makes of the sample: good records written, bad records dead-lettered, and the
    files that must end QUARANTINED."""

    good_records: int = 0
    bad_records: int = 0
    files: dict[str, str] = field(default_factory=dict)  # key -> expected final state
    good_by_file: dict[str, int] = field(default_factory=dict)
    bad_by_file: dict[str, int] = field(default_factory=dict)
    good_ids: list[str] = field(default_factory=list)


def bad_input_files(rng: random.Random, start_index: int) -> dict[str, tuple]:
    """Every bad-input kind: name -> (bytes, good records, bad records, expected state)."""
    good = [record(rng, start_index + i) for i in range(3)]
    nested_text = '{"n": ' * 1500 + "1" + "}" * 1500
    deep_line = json.dumps(good[0])[:-1] + ', "deep": ' + nested_text + "}\n"
    big = record(rng, start_index + 10)
    big["blob"] = "x" * (10 * 1024 * 1024)
    nan_line = json.dumps(record(rng, start_index + 11)).replace('"score": ', '"score": NaN, "s2": ', 1)
    dup = json.dumps(record(rng, start_index + 12))[:-1] + ', "MODE": "eval"}'
    broken_array = "[\n" + json.dumps(good[0]) + ",\n{\"id\": \"x\", \"DATE\": \n]"
    cases = {
        "malformed-line-among-good.jsonl": (jsonl(good[:2]) + b"{not json}\n" + jsonl(good[2:]), 3, 1, "SUCCEEDED"),
        "truncated-last-line.jsonl": (jsonl(good) + b'{"id": "t-1", "DATE": "2024-0', 3, 1, "SUCCEEDED"),
        "empty.jsonl": (b"\n\n", 0, 0, "QUARANTINED"),
        "zero-byte.jsonl": (b"", 0, 0, "QUARANTINED"),
        "whitespace-only.jsonl": (b"   \n\t \n  ", 0, 0, "QUARANTINED"),
        "non-utf8.jsonl": (b'{"id": "\xff\xfe bad", "DATE": "2024-01-01", "MODE": "train"}\n', 0, 1, "QUARANTINED"),
        "broken.jsonl.gz": (gzip.compress(jsonl(good))[:-12], 0, 0, "QUARANTINED"),
        "array-with-broken-element.json": (broken_array.encode(), 0, 1, "QUARANTINED"),
        "date-as-number.jsonl": (jsonl([{**good[0], "DATE": 20240105}, good[1]]), 1, 1, "SUCCEEDED"),
        "unparseable-date.jsonl": (jsonl([{**good[0], "DATE": "not-a-date"}, good[1]]), 1, 1, "SUCCEEDED"),
        "missing-date.jsonl": (jsonl([{k: v for k, v in good[0].items() if k != "DATE"}, good[1]]), 1, 1,
                               "SUCCEEDED"),
        "missing-id.jsonl": (jsonl([{k: v for k, v in good[0].items() if k != "id"}, good[1]]), 1, 1, "SUCCEEDED"),
        "unsafe-modes.jsonl": (jsonl([{**good[0], "MODE": "a/b"}, {**good[1], "MODE": ".."},
                                      {**good[2], "MODE": ""}, record(rng, start_index + 13)]), 1, 3, "SUCCEEDED"),
        "ten-megabyte-line.jsonl": (jsonl([big]), 1, 0, "SUCCEEDED"),
        "deeply-nested.jsonl": (deep_line.encode() + jsonl([good[1]]), 1, 1, "SUCCEEDED"),
        # an object giving a name twice: malformed (Spark would keep the last value and lose the earlier one)
        "duplicate-keys.jsonl": ((dup + "\n").encode(), 0, 1, "QUARANTINED"),
        # RFC 8259 has no NaN token: the record is malformed (a spec may allow non_numeric_numbers)
        "nan-infinity.jsonl": ((nan_line + "\n").encode(), 0, 1, "QUARANTINED"),
    }
    return cases


def generate_sample(store: ObjectStore, files: int = 36, records_per_file: int = 150, seed: int = 7,
                    include_bad_inputs: bool | Sequence[str] = True) -> SampleExpectation:
    """Write the sample into ``store`` and return what a correct pipeline makes of it (bad-input expectations
    are the processor's defined outcomes, asserted by the end-to-end tests). ``include_bad_inputs`` may name a
    subset of :func:`bad_input_files`."""
    rng = random.Random(seed)
    expected = SampleExpectation()
    index = 0
    folders = [HISTORICAL_PREFIX] + [f"raw-json-data/2024/week{w:02d}/" for w in (1, 2, 3)]
    for n in range(files):
        folder = folders[n % len(folders)]
        records = [record(rng, index + i) for i in range(records_per_file)]
        index += records_per_file
        if n % 6 == 5:
            key, body = f"{folder}part-{n:04d}.jsonl.gz", gzip.compress(jsonl(records))
        elif n % 6 == 4:
            key, body = f"{folder}part-{n:04d}.json", json.dumps(records, indent=2).encode()
        else:
            key, body = f"{folder}part-{n:04d}.jsonl", jsonl(records)
        store.put_bytes(key, body)
        expected.good_records += len(records)
        expected.good_ids += [r["id"] for r in records]
        expected.files[key] = "SUCCEEDED"
        expected.good_by_file[key] = len(records)
        expected.bad_by_file[key] = 0
    if include_bad_inputs:
        cases = bad_input_files(rng, index)
        names = list(cases) if include_bad_inputs is True else list(include_bad_inputs)
        for name in names:
            body, good, bad, state = cases[name]
            key = f"{HISTORICAL_PREFIX}bad-inputs/{name}"
            store.put_bytes(key, body)
            expected.good_records += good
            expected.bad_records += bad
            expected.files[key] = state
            expected.good_by_file[key] = good
            expected.bad_by_file[key] = bad
    return expected
