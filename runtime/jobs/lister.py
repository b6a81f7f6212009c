"""``FileListerAndDbPopulator``: discover raw files and register them in the tracking table, streaming.

Listing pages are grouped into chunks of at most ``chunk_size`` keys; each chunk is registered in bulk in one
transaction, so memory stays flat however many keys there are and a failure never leaves a half-registered chunk.
Re-running is always safe: registration is an idempotent upsert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from runtime.db.registration import RegistrationCounts, register_page
from runtime.layout import HISTORICAL_PREFIX, RAW_PREFIX, WEEKLY_FOLDER
from runtime.progress import Progress
from runtime.storage.base import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 20_000


@dataclass
class ListingSummary:
    """The lister's report (``--json`` prints :meth:`as_dict`)."""

    counts: RegistrationCounts
    seconds: float
    prefixes: Sequence[str]

    def as_dict(self) -> dict:
        return {
            "listed": self.counts.listed,
            "new": self.counts.new,
            "changed": self.counts.changed,
            "unchanged": self.counts.unchanged,
            "seconds": round(self.seconds, 3),
        }


def is_default_raw_key(key: str) -> bool:
    """True for keys under the reference prefixes: ``raw-json-data/all_historical_files/`` and every
    ``raw-json-data/YYYY/weekXX/``."""
    if key.startswith(HISTORICAL_PREFIX):
        return True
    parts = key.split("/")
    return len(parts) >= 4 and WEEKLY_FOLDER.match("/".join(parts[:3]) + "/") is not None


def listed_pages(store: ObjectStore, prefixes: Sequence[str] | None) -> Iterator[list[ObjectInfo]]:
    """Listing pages of the given prefixes, or of the reference prefixes when none are given (one listing of
    ``raw-json-data/`` filtered to the historical folder and the weekly folders)."""
    if prefixes:
        for prefix in prefixes:
            yield from store.list_pages(prefix)
        return
    for page in store.list_pages(RAW_PREFIX):
        kept = [obj for obj in page if is_default_raw_key(obj.key)]
        if kept:
            yield kept


def chunked(pages: Iterable[list[ObjectInfo]], chunk_size: int) -> Iterator[list[ObjectInfo]]:
    """Regroup listing pages into chunks of at most ``chunk_size`` objects."""
    buffer: list[ObjectInfo] = []
    for page in pages:
        buffer.extend(page)
        while len(buffer) >= chunk_size:
            yield buffer[:chunk_size]
            buffer = buffer[chunk_size:]
    if buffer:
        yield buffer


def run_lister(store: ObjectStore, conn, prefixes: Sequence[str] | None = None,
               chunk_size: int = DEFAULT_CHUNK_SIZE, show_progress: bool = True) -> ListingSummary:
    """List the raw prefixes of ``store`` and register every object in the tracking database ``conn``."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    started = time.monotonic()
    total = RegistrationCounts()
    progress = Progress("listing", unit="keys", enabled=show_progress)
    for chunk in chunked(listed_pages(store, prefixes), chunk_size):
        total.add(register_page(conn, chunk))
        progress.advance(len(chunk), new=total.new, changed=total.changed)
    progress.finish()
    summary = ListingSummary(total, time.monotonic() - started, list(prefixes or ()))
    log.info("listing done: %s", summary.as_dict())
    return summary
