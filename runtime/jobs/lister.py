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
from typing import TYPE_CHECKING

from runtime import defaults
from runtime.db.registration import RegistrationCounts, register_pages
from runtime.layout import Layout
from runtime.progress import Progress
from runtime.storage.base import ObjectInfo, ObjectStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

log = logging.getLogger(__name__)

#: Keys registered per transaction (``--chunk-size``).
DEFAULT_CHUNK_SIZE = defaults.LISTER_CHUNK_SIZE


@dataclass
class ListingSummary:
    """The lister's report (``--json`` prints :meth:`as_dict`)."""

    counts: RegistrationCounts
    seconds: float
    prefixes: Sequence[str]

    def as_dict(self) -> dict:
        """The summary as a JSON-ready dict."""
        return {
            "listed": self.counts.listed,
            "new": self.counts.new,
            "changed": self.counts.changed,
            "unchanged": self.counts.unchanged,
            "seconds": round(self.seconds, 3),
        }


def is_default_raw_key(key: str, layout: Layout | None = None) -> bool:
    """True for keys under the reference prefixes: ``<raw>/all_historical_files/`` and every
    ``<raw>/YYYY/weekXX/`` (``<raw>`` is ``raw-json-data/`` unless the layout says otherwise)."""
    return (layout or Layout()).is_default_raw_key(key)


def listed_pages(store: ObjectStore, prefixes: Sequence[str] | None,
                 layout: Layout | None = None) -> Iterator[list[ObjectInfo]]:
    """Listing pages of the given prefixes, or of the reference prefixes when none are given (one listing of the
    raw prefix filtered to the historical folder and the weekly folders)."""
    layout = layout or Layout()
    if prefixes:
        for prefix in prefixes:
            yield from store.list_pages(prefix)
        return
    for page in store.list_pages(layout.raw_prefix):
        kept = [obj for obj in page if layout.is_default_raw_key(obj.key)]
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


def run_lister(store: ObjectStore, conn: Connection, prefixes: Sequence[str] | None = None,
               chunk_size: int = DEFAULT_CHUNK_SIZE, show_progress: bool = True,
               layout: Layout | None = None) -> ListingSummary:
    """List the raw prefixes of ``store`` and register every object in the tracking database ``conn``."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    started = time.monotonic()
    total = RegistrationCounts()
    progress = Progress("listing", unit="keys", enabled=show_progress)
    for counts in register_pages(conn, chunked(listed_pages(store, prefixes, layout), chunk_size)):
        total.add(counts)
        progress.advance(counts.listed, new=total.new, changed=total.changed)
    progress.finish()
    summary = ListingSummary(total, time.monotonic() - started, list(prefixes or ()))
    log.info("listing done: %s", summary.as_dict())
    return summary
