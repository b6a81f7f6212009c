"""The files a smoke run uploads and what a working deployment must make of each.

Every file lies under ``<raw prefix>smoke/<UTC timestamp>-<random>/``: unique per run, inside the raw prefix (the
only place the jobs may read), outside the default listing folders (``all_historical_files/``, ``YYYY/weekXX/``),
so the scheduled lister never registers them; smoke's own lister run names the prefix. No path segment starts
with ``_`` or ``.``: Hadoop's input formats skip such names, so Spark would silently read nothing.

Every good record has ``MODE`` ``smoke`` and the run's UTC date, so its curated rows land in one partition of
their own (``year=Y/month=M/day=D/mode=smoke/`` under the default transform spec): smoke finds them without
listing the curated dataset, and if a row ever stays behind (``--keep``, a failed clean-up) a training query
that filters on ``mode`` (as the catalog's injected ``mode`` projection requires) never reads it.
"""

from __future__ import annotations

import gzip
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from runtime.errors import UsageError
from runtime.sample_data import jsonl, record

#: The ``MODE`` of every smoke record, and so its curated partition value.
SMOKE_MODE = "smoke"
#: Folder under the raw prefix that holds every smoke run.
SMOKE_FOLDER = "smoke/"

GOOD = "good"
MALFORMED = "malformed"
POISON = "poison"


@dataclass(frozen=True)
class SmokeFile:
    """One uploaded file and what a working deployment makes of it.

    Attributes:
        key: the raw key.
        kind: ``good`` (all records valid), ``malformed`` (valid records and malformed lines: the file succeeds,
            the lines are dead-lettered) or ``poison`` (no readable record: the file is quarantined, stays
            under the raw prefix and is never archived).
        body: the bytes uploaded.
        good_records / bad_records: records expected in the curated Parquet / the dead-letter prefix.
    """

    key: str
    kind: str
    body: bytes
    good_records: int
    bad_records: int

    @property
    def archived(self) -> bool:
        """Whether the processor must archive it (every file but a poison one)."""
        return self.kind != POISON


@dataclass(frozen=True)
class SmokePlan:
    """The files of one smoke run.

    Attributes:
        run_id: ``<UTC timestamp>-<random hex>``, unique per run.
        prefix: the raw prefix of this run's files (``<raw>smoke/<run_id>/``).
        started: when the plan was made (UTC).
        files: the files, good ones first.
    """

    run_id: str
    prefix: str
    started: datetime
    files: tuple[SmokeFile, ...]

    @property
    def good_records(self) -> int:
        """Records that must reach the curated Parquet."""
        return sum(f.good_records for f in self.files)

    @property
    def bad_records(self) -> int:
        """Records that must reach the dead-letter prefix."""
        return sum(f.bad_records for f in self.files)

    @property
    def curated_partition(self) -> str:
        """The partition folder (relative to the curated prefix) of every good record, default spec."""
        day = self.started.date()
        return f"year={day.year}/month={day.month}/day={day.day}/mode={SMOKE_MODE}/"

    def of_kind(self, kind: str) -> list[SmokeFile]:
        """The files of one kind."""
        return [f for f in self.files if f.kind == kind]


def hidden_segments(relative_key: str) -> list[str]:
    """The path segments of ``relative_key`` that Hadoop would skip (names starting with ``_`` or ``.``)."""
    return [part for part in relative_key.split("/") if part.startswith(("_", "."))]


def build_plan(raw_prefix: str, *, now: datetime | None = None, token: str | None = None,
               records_per_file: int = 25, include_bad_inputs: bool = True) -> SmokePlan:
    """The files of a new smoke run under ``raw_prefix`` (records from :func:`runtime.sample_data.record`).

    Three good JSON Lines files (one gzip-compressed); unless ``include_bad_inputs`` is false, a file with two
    malformed lines among good ones (one not JSON, one with an unparseable ``DATE``) and two poison files (a
    truncated gzip and a zero-byte file). ``now`` and ``token`` make the run id deterministic (tests).
    """
    if not raw_prefix.endswith("/") or raw_prefix.startswith("/"):
        raise UsageError(f"raw prefix {raw_prefix!r} must be a key prefix ending in '/'")
    if records_per_file < 1:
        raise UsageError("records_per_file must be at least 1")
    started = (now or datetime.now(UTC)).astimezone(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{token or secrets.token_hex(3)}"
    prefix = f"{raw_prefix}{SMOKE_FOLDER}{run_id}/"
    rng = random.Random(run_id)
    counter = iter(range(1_000_000))

    def records(count: int) -> list[dict]:
        made = []
        for _ in range(count):
            index = next(counter)
            made.append({**record(rng, index), "id": f"smoke-{run_id}-{index:05d}",
                         "DATE": started.date().isoformat(), "MODE": SMOKE_MODE})
        return made

    files = [
        SmokeFile(f"{prefix}good-1.jsonl", GOOD, jsonl(records(records_per_file)), records_per_file, 0),
        SmokeFile(f"{prefix}good-2.jsonl", GOOD, jsonl(records(records_per_file)), records_per_file, 0),
        SmokeFile(f"{prefix}good-3.jsonl.gz", GOOD, gzip.compress(jsonl(records(records_per_file)), mtime=0),
                  records_per_file, 0),
    ]
    if include_bad_inputs:
        good = records(7)
        unparseable_date = {**records(1)[0], "DATE": "not-a-date"}
        body = jsonl(good[:4]) + b"{not json}\n" + jsonl([unparseable_date]) + jsonl(good[4:])
        files.append(SmokeFile(f"{prefix}malformed-lines.jsonl", MALFORMED, body, len(good), 2))
        truncated = gzip.compress(jsonl(records(3)), mtime=0)[:-12]
        files.append(SmokeFile(f"{prefix}poison-truncated.jsonl.gz", POISON, truncated, 0, 0))
        files.append(SmokeFile(f"{prefix}poison-zero-byte.jsonl", POISON, b"", 0, 0))
    for smoke_file in files:
        hidden = hidden_segments(smoke_file.key[len(raw_prefix):])
        if hidden:  # cannot happen with the names above; guards later edits
            raise UsageError(f"smoke key {smoke_file.key!r} has segments Hadoop skips: {hidden}")
    return SmokePlan(run_id, prefix, started, tuple(files))
