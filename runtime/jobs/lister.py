"""``FileListerAndDbPopulator``: discover raw files and register them in the tracking table, streaming.

Listing pages are grouped into chunks of at most ``chunk_size`` keys; each chunk is registered in bulk in one
transaction, so memory stays flat however many keys there are and a failure never leaves a half-registered chunk.
Re-running is always safe: registration is idempotent.

Only raw files are registered: every prefix listed must lie under the raw prefix (``''``, ``raw-json-data``
without its slash or any other prefix is refused before anything is listed), and every listed key under the
processed, curated, staging or dead-letter prefix is dropped whatever the prefixes (a layout may nest one of them
under the raw prefix). Listers are serialized on an advisory lock (:func:`runtime.db.registration.lister_lock`);
a listing never rolls a file back to an older version and never locks an unchanged row
(:data:`runtime.db.queries.REGISTER_INCOMING`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime import defaults
from runtime.db.registration import ListerBusy, RegistrationCounts, lister_lock, register_pages
from runtime.layout import Layout
from runtime.progress import Progress
from runtime.storage.base import ObjectInfo, ObjectStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

__all__ = ["DEFAULT_CHUNK_SIZE", "KeyFilter", "ListerBusy", "ListingSummary", "RegistrationCounts",
           "check_prefixes", "chunked", "is_default_raw_key", "listed_pages", "run_lister"]

log = logging.getLogger(__name__)

#: Keys registered per transaction (``--chunk-size``).
DEFAULT_CHUNK_SIZE = defaults.LISTER_CHUNK_SIZE


@dataclass
class ListingSummary:
    """The lister's report (``--json`` prints :meth:`as_dict`)."""

    counts: RegistrationCounts
    seconds: float
    prefixes: Sequence[str]
    #: Why nothing was listed (another lister was running), or ``None``.
    skipped: str | None = None

    def as_dict(self) -> dict:
        """The summary as a JSON-ready dict."""
        return {
            "listed": self.counts.listed,
            "new": self.counts.new,
            "changed": self.counts.changed,
            "unchanged": self.counts.unchanged,
            "stale": self.counts.stale,
            "deferred": self.counts.deferred,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
        }


def is_default_raw_key(key: str, layout: Layout | None = None) -> bool:
    """True for keys under the reference prefixes: ``<raw>/all_historical_files/`` and every
    ``<raw>/YYYY/weekXX/``, except the pipeline's own output (``<raw>`` is ``raw-json-data/`` unless the layout
    says otherwise)."""
    layout = layout or Layout()
    return layout.is_default_raw_key(key) and layout.is_registrable_key(key)


def check_prefixes(prefixes: Sequence[str] | None, layout: Layout | None = None) -> list[str]:
    """The prefixes to list, each checked to lie under the raw prefix and under no pipeline prefix
    (:class:`~runtime.errors.UsageError` otherwise); ``None`` or empty: the reference prefixes (``[]``)."""
    layout = layout or Layout()
    return [layout.check_listing_prefix(prefix) for prefix in prefixes or ()]


@dataclass
class KeyFilter:
    """Which listed keys are registered: raw files only (and with the reference prefixes, only the historical and
    weekly folders). Counts the pipeline keys it drops, for the run's log."""

    layout: Layout
    default_folders_only: bool
    dropped: int = 0
    example: str | None = None

    def __call__(self, key: str) -> bool:
        """True if ``key`` is to be registered."""
        if not self.layout.is_registrable_key(key):
            if key.startswith(self.layout.raw_prefix):  # the pipeline's output nested under the raw prefix
                self.dropped += 1
                self.example = self.example or key
            return False
        return not self.default_folders_only or self.layout.is_default_raw_key(key)


def listed_pages(store: ObjectStore, prefixes: Sequence[str] | None, layout: Layout | None = None,
                 keep: KeyFilter | None = None) -> Iterator[list[ObjectInfo]]:
    """Listing pages of the given prefixes (each checked by :func:`check_prefixes`), or of the reference prefixes
    when none are given (one listing of the raw prefix filtered to the historical folder and the weekly folders).
    Every key passes ``keep`` (by default a :class:`KeyFilter`): the pipeline's own output is never yielded."""
    layout = layout or Layout()
    checked = check_prefixes(prefixes, layout)
    keep = keep or KeyFilter(layout, default_folders_only=not checked)
    for prefix in checked or [layout.raw_prefix]:
        for page in store.list_pages(prefix):
            kept = [obj for obj in page if keep(obj.key)]
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
               layout: Layout | None = None, wait_seconds: float = 0.0) -> ListingSummary:
    """List the raw prefixes of ``store`` and register every raw file in the tracking database ``conn``.

    The prefixes are checked first (:class:`~runtime.errors.UsageError`, nothing listed); then the lister lock is
    taken, waiting up to ``wait_seconds`` for another lister to finish (:class:`ListerBusy` if it does not)."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    layout = layout or Layout()
    checked = check_prefixes(prefixes, layout)
    keep = KeyFilter(layout, default_folders_only=not checked)
    started = time.monotonic()
    total = RegistrationCounts()
    with lister_lock(conn, wait_seconds):
        progress = Progress("listing", unit="keys", enabled=show_progress)
        pages = chunked(listed_pages(store, checked, layout, keep), chunk_size)
        for counts in register_pages(conn, pages):
            total.add(counts)
            progress.advance(counts.listed, new=total.new, changed=total.changed)
        progress.finish()
    if keep.dropped:
        log.warning("ignored %d keys under the pipeline's own prefixes (e.g. %s): never registered as raw files",
                    keep.dropped, keep.example)
    summary = ListingSummary(total, time.monotonic() - started, checked)
    log.info("listing done: %s", summary.as_dict())
    return summary
