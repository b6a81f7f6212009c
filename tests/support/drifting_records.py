"""Seeded generators of raw records that drift from the default spec: random extra fields at any depth, list elements
of another shape, values of the wrong type. Shared by the rescue tests (pure Python and Spark) and the drift report
test. ``hypothesis`` is not a dependency of this project: the generator is seeded, and each test names its seeds."""

from __future__ import annotations

import json
import random
from typing import Any

#: The source paths the default spec reads, and the columns they feed.
DEFAULT_SOURCES = {"id": "id", "event_date": "DATE", "event_mode": "MODE", "nested_field1": "some_nested_struct.field1",
                   "original_complex_list": "some_list_of_structs"}
_NAMES = ("device", "Device", "id2", "x.y", "a[0]", "", "$ref", "tag", "k", "field9", "naïve", "quote\"d", "MODE ")


def scalar(rng: random.Random) -> Any:
    """A random JSON scalar (no NaN)."""
    return rng.choice([None, True, False, rng.randrange(-10**6, 10**6), round(rng.uniform(-1e3, 1e3), 3),
                       "s" + str(rng.randrange(100)), "", "a:b", "ünï", 10**20])


def value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value, at most a few levels deep."""
    roll = rng.random()
    if depth >= 3 or roll < 0.6:
        return scalar(rng)
    if roll < 0.8:
        return [value(rng, depth + 1) for _ in range(rng.randrange(0, 3))]
    return {rng.choice(_NAMES): value(rng, depth + 1) for _ in range(rng.randrange(0, 3))}


def extra_name(rng: random.Random, known: set[str]) -> str:
    """A field name not in ``known``."""
    while True:
        name = rng.choice(_NAMES) + ("" if rng.random() < 0.7 else str(rng.randrange(10)))
        if name not in known:
            return name


def drifting_record(rng: random.Random, index: int, drift: float = 0.5, mismatches: bool = False) -> dict[str, Any]:
    """A record of the default spec's shape (valid required fields) with, each with probability ``drift``: extra
    top-level fields, extra fields in ``some_nested_struct``, list elements of another shape; with ``mismatches``, also
    values of the wrong type in the non-required columns."""
    record: dict[str, Any] = {"id": f"r-{index}", "DATE": f"2024-03-{rng.randrange(1, 29):02d}",
                              "MODE": rng.choice(["train", "eval"])}
    if rng.random() < 0.8:
        nested: dict[str, Any] = {}
        if rng.random() < 0.8:
            nested["field1"] = rng.choice(["v", "a:b", "ü", ""])
        if rng.random() < drift:
            nested[extra_name(rng, {"field1"})] = value(rng)
        record["some_nested_struct"] = nested
    if rng.random() < 0.8:
        items = []
        for _ in range(rng.randrange(0, 4)):
            if rng.random() < drift:
                items.append({extra_name(rng, {"name", "value"}): value(rng) for _ in range(rng.randrange(1, 3))})
            else:
                items.append({"name": f"f{rng.randrange(9)}", "value": rng.choice([0.5, 1, -2.25])})
        record["some_list_of_structs"] = items
    if rng.random() < drift:
        for _ in range(rng.randrange(1, 3)):
            record[extra_name(rng, {"id", "DATE", "MODE", "some_nested_struct", "some_list_of_structs"})] = value(rng)
    if mismatches and rng.random() < 0.4:
        choice = rng.randrange(3)
        if choice == 0:
            record["some_list_of_structs"] = rng.choice(["text", 5, {"name": "x"}])
        elif choice == 1:
            record["some_nested_struct"] = rng.choice([3, "s", [1]])
        else:
            record["some_list_of_structs"] = [{"name": "n", "value": "not a number"}, {"name": "m", "value": 1}]
    return record


def lines(records: list[dict[str, Any]]) -> bytes:
    """JSON Lines of ``records``, with random spacing (formatting does not matter to the round trip)."""
    rng = random.Random(len(records))
    out = []
    for item in records:
        text = json.dumps(item, ensure_ascii=rng.random() < 0.5, separators=rng.choice([(",", ":"), (", ", ": ")]))
        out.append(text)
    return ("\n".join(out) + "\n").encode("utf-8")
