"""Key sets that stress the boundaries of key-range listings: shared prefixes, unicode, characters that sort just
before and after ``/`` (``!``, ``-``, ``.``, ``0``, ``~``), U+FFFF and a supplementary character, keys that are
prefixes of other keys. Every set is valid for both stores (no key is also a "directory" of another key: a local
file cannot be both)."""

from __future__ import annotations

import random

#: The characters keys are built from: before '/', '/' itself, after it, and far after it.
STRESS_CHARACTERS = ["!", "-", ".", "0", "9", "A", "_", "a", "z", "~", "é", "日", "\uffff", "\U0001f600"]


def stress_keys(seed: int, count: int, prefix: str = "raw-json-data/all_historical_files/") -> list[str]:
    """``count`` (or a few fewer) distinct keys under ``prefix``, random but reproducible from ``seed``."""
    rng = random.Random(seed)
    keys: set[str] = set()
    stems = [""]
    while len(keys) < count:
        stem = rng.choice(stems)
        depth_chars = [rng.choice(STRESS_CHARACTERS) for _ in range(rng.randint(1, 3))]
        segment = "".join(depth_chars)
        if segment in (".", ".."):
            segment += "x"
        key = stem + segment
        if rng.random() < 0.25 and len(stems) < 40:
            stems.append(key + "/")
            continue
        keys.add(key)
    return _storable(prefix, keys)


def _storable(prefix: str, keys: set[str]) -> list[str]:
    """The keys with none that is a directory of another (``a`` and ``a/b``): the shorter one is dropped."""
    directories = {key[: i] for key in keys for i, ch in enumerate(key) if ch == "/"}
    return sorted(prefix + key for key in keys if key not in directories)
