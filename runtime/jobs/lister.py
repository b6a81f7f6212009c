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

Every listed key that is not registered is counted by reason (:data:`IGNORED_REASONS`) and a few of each are kept by
name (memory stays flat): outside the default listing folders, the pipeline's own output, a name that is not UTF-8,
longer than S3's 1,024 bytes, holding a NUL character, or a "folder" object (a key ending in ``/``). Such a key
never stops the rest of the listing: it is dropped before the ``COPY``. The run logs one warning per reason and the
summary reports them."""

from __future__ import annotations

import bisect
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from platform_contract import defaults
from runtime.db.discovery import LISTING, record_discovery_run  # noqa: F401  (LISTING: the default source)
from runtime.db.registration import (
    KEY_TOO_LONG,
    NOT_UTF8,
    NUL_CHARACTER,
    Head,
    ListerBusy,
    RegistrationCounts,
    current_object,
    lister_lock,
    register_pages,
    unregistrable_reason,
    writer_connections,
)
from runtime.jobs.parallel_listing import parallel_pages
from runtime.layout import MAX_KEY_BYTES, Layout
from runtime.progress import Progress
from runtime.storage.base import ObjectInfo, ObjectStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

__all__ = ["DEFAULT_CHUNK_SIZE", "EXAMPLES_PER_REASON", "FOLDER_MARKER", "IGNORED_REASONS", "KEY_TOO_LONG", "NOT_UTF8",
           "NUL_CHARACTER", "OUTSIDE_LAYOUT_FOLDERS", "PIPELINE_OUTPUT", "KeyFilter", "ListerBusy", "ListingSummary",
           "RegistrationCounts", "check_prefixes", "chunked", "filtered_pages", "ignored_lines", "is_default_raw_key",
           "listed_pages", "register_discovered", "run_lister", "shown_key"]

log = logging.getLogger(__name__)

#: Keys registered per transaction (``--chunk-size``).
DEFAULT_CHUNK_SIZE = defaults.LISTER_CHUNK_SIZE

#: With the default prefixes: a key under the raw prefix but outside ``all_historical_files/`` and ``YYYY/weekN/``.
OUTSIDE_LAYOUT_FOLDERS = "outside_layout_folders"
#: A key under the processed, curated, staging or dead-letter prefix (a layout may nest them under the raw prefix).
PIPELINE_OUTPUT = "pipeline_output"
#: A key ending in ``/``: a "folder" object (the S3 console's "Create folder", a zero-byte object), never a file.
#: The stores' listings skip them; an inventory row or an "Object Created" event of one is counted here.
FOLDER_MARKER = "folder_marker"
#: Every reason a listed key is not registered, in the order the reports give them.
IGNORED_REASONS = (OUTSIDE_LAYOUT_FOLDERS, PIPELINE_OUTPUT, NOT_UTF8, KEY_TOO_LONG, NUL_CHARACTER, FOLDER_MARKER)
#: Ignored keys kept by name per reason (the others are only counted).
EXAMPLES_PER_REASON = 5

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def shown_key(key: str) -> str:
    """``key`` fit to print and paste: bytes that are not UTF-8 (a local name, escaped by ``os.scandir``) and
    control characters (NUL, newline, ...) as ``\\xNN``; anything else as it is."""
    text = key if key.isascii() else key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL_CHARACTER.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _explanation(reason: str, raw_prefix: str) -> tuple[str, str]:
    """What the keys ignored for ``reason`` are, and what to do about them."""
    return {
        OUTSIDE_LAYOUT_FOLDERS: (
            f"outside the default listing folders ({raw_prefix}all_historical_files/, {raw_prefix}YYYY/weekN/)",
            f"`mldp list --prefix {raw_prefix}` registers every key under the raw prefix (on Glue: the lister job's "
            f"--prefixes argument, set by JsonToParquetWorkflowProps.listing_prefixes, e.g. --prefixes {raw_prefix})"),
        PIPELINE_OUTPUT: ("under the pipeline's own prefixes (processed, curated, staging, dead-letter)",
                          "never registered as raw files"),
        NOT_UTF8: ("whose name is not valid UTF-8 (bad bytes shown as \\xNN)",
                   "rename them: the tracking table holds UTF-8 keys only"),
        KEY_TOO_LONG: (f"longer than {MAX_KEY_BYTES:,} bytes", "S3's limit on a key: shorten their names"),
        NUL_CHARACTER: ("containing a NUL character (shown as \\x00)",
                        "rename them: the tracking table cannot hold one"),
        FOLDER_MARKER: ("ending in / (folder objects, e.g. the S3 console's Create folder)", "never files"),
    }[reason]


def ignored_lines(ignored: Mapping[str, int], examples: Mapping[str, Sequence[str]], raw_prefix: str) -> list[str]:
    """One line per reason that ignored keys: how many, which (up to :data:`EXAMPLES_PER_REASON`), what to do."""
    lines = []
    for reason in IGNORED_REASONS:
        count = ignored.get(reason, 0)
        if not count:
            continue
        what, hint = _explanation(reason, raw_prefix)
        named = list(examples.get(reason, ()))
        more = ", ..." if count > len(named) else ""
        lines.append(f"ignored {count:,} key{'s' if count != 1 else ''} {what}: {', '.join(named)}{more}; {hint}")
    return lines


@dataclass
class ListingSummary:
    """The lister's report (``--json`` prints :meth:`as_dict`)."""

    counts: RegistrationCounts
    seconds: float
    prefixes: Sequence[str]
    #: Why nothing was listed (another lister was running), or ``None``.
    skipped: str | None = None
    #: Listed keys not registered, by reason (:data:`IGNORED_REASONS`).
    ignored: dict[str, int] = field(default_factory=dict)
    #: Up to :data:`EXAMPLES_PER_REASON` of them by reason, as :func:`shown_key` prints them.
    ignored_examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ignored_total(self) -> int:
        """How many listed keys were not registered, whatever the reason."""
        return sum(self.ignored.values())

    def as_dict(self) -> dict:
        """The summary as a JSON-ready dict. ``ignored`` has every reason (0 when none); ``ignored_examples`` only
        the reasons that ignored keys."""
        return {
            "listed": self.counts.listed,
            "new": self.counts.new,
            "changed": self.counts.changed,
            "unchanged": self.counts.unchanged,
            "stale": self.counts.stale,
            "deferred": self.counts.deferred,
            "ignored": {reason: self.ignored.get(reason, 0) for reason in IGNORED_REASONS},
            "ignored_examples": {reason: list(self.ignored_examples.get(reason, ()))
                                 for reason in IGNORED_REASONS if self.ignored.get(reason)},
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
    weekly folders), whose key the tracking table can hold. Counts every key it drops by reason and keeps the first
    :data:`EXAMPLES_PER_REASON` of each."""

    layout: Layout
    default_folders_only: bool
    #: More prefixes of the pipeline's own never to register (e.g. where S3 Inventory writes its reports), counted
    #: as :data:`PIPELINE_OUTPUT`.
    excluded_prefixes: tuple[str, ...] = ()
    #: Keys dropped, by reason.
    ignored: dict[str, int] = field(default_factory=dict)
    #: The first keys dropped for each reason in key order (whatever order they were listed in), as
    #: :func:`shown_key` prints them.
    examples: dict[str, list[str]] = field(default_factory=dict)

    def __call__(self, key: str) -> bool:
        """True if ``key`` is to be registered; otherwise it is counted under its reason."""
        reason = self.reason(key)
        if reason is None:
            return True
        self.ignored[reason] = self.ignored.get(reason, 0) + 1
        named = self.examples.setdefault(reason, [])
        shown = shown_key(key)
        if len(named) < EXAMPLES_PER_REASON or shown < named[-1]:  # the first in key order, however listed
            bisect.insort(named, shown)
            del named[EXAMPLES_PER_REASON:]
        return False

    def reason(self, key: str) -> str | None:
        """Why ``key`` is not registered (one of :data:`IGNORED_REASONS`), or ``None`` if it is. A key outside the
        raw prefix (no listing yields one: every listed prefix lies under it) is outside the layout's folders."""
        unfit = unregistrable_reason(key)
        if unfit is not None:
            return unfit
        if key.endswith("/"):
            return FOLDER_MARKER
        if self.excluded_prefixes and key.startswith(self.excluded_prefixes):
            return PIPELINE_OUTPUT
        if not self.layout.is_registrable_key(key):
            return PIPELINE_OUTPUT if self.layout.is_pipeline_key(key) else OUTSIDE_LAYOUT_FOLDERS
        if self.default_folders_only and not self.layout.is_default_raw_key(key):
            return OUTSIDE_LAYOUT_FOLDERS
        return None


def listed_pages(store: ObjectStore, prefixes: Sequence[str] | None, layout: Layout | None = None,
                 keep: KeyFilter | None = None, parallelism: int = 1,
                 processes: int | None = None) -> Iterator[list[ObjectInfo]]:
    """Listing pages of the given prefixes (each checked by :func:`check_prefixes`), or of the reference prefixes
    when none are given (one listing of the raw prefix filtered to the historical folder and the weekly folders).
    With ``parallelism`` > 1 each prefix is listed as disjoint key ranges by that many threads
    (:func:`runtime.jobs.parallel_listing.parallel_pages`; pages then come in no particular order), in ``processes``
    listing processes (default: :func:`runtime.jobs.listing_processes.process_count`'s rule).
    Every key passes ``keep`` (by default a :class:`KeyFilter`): the pipeline's own output, and keys the tracking
    table cannot hold, are never yielded."""
    layout = layout or Layout()
    checked = check_prefixes(prefixes, layout)
    keep = keep or KeyFilter(layout, default_folders_only=not checked)
    for prefix in checked or [layout.raw_prefix]:
        pages = (store.list_pages(prefix) if parallelism <= 1
                 else parallel_pages(store, prefix, parallelism, processes=processes))
        yield from filtered_pages(pages, keep)


def filtered_pages(pages: Iterable[Sequence[ObjectInfo]], keep: KeyFilter) -> Iterator[list[ObjectInfo]]:
    """The objects of ``pages`` that ``keep`` registers (it counts the others), empty pages dropped."""
    for page in pages:
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
               layout: Layout | None = None, wait_seconds: float = 0.0, parallelism: int = 1,
               processes: int | None = None) -> ListingSummary:
    """List the raw prefixes of ``store`` and register every raw file in the tracking database ``conn``.

    The prefixes are checked first (:class:`~runtime.errors.UsageError`, nothing listed); then the lister lock is
    taken, waiting up to ``wait_seconds`` for another lister to finish (:class:`ListerBusy` if it does not).
    ``parallelism`` > 1 lists disjoint key ranges with that many threads (in ``processes`` listing processes: by
    default :mod:`runtime.jobs.listing_processes`'s rule); one connection registers them."""
    layout = layout or Layout()
    checked = check_prefixes(prefixes, layout)
    keep = KeyFilter(layout, default_folders_only=not checked)
    return register_discovered(conn, listed_pages(store, checked, layout, keep, parallelism, processes), keep=keep,
                               chunk_size=chunk_size, show_progress=show_progress, wait_seconds=wait_seconds,
                               prefixes=checked, head=current_object(store))


def register_discovered(conn: Connection, pages: Iterable[Sequence[ObjectInfo]], *, keep: KeyFilter,
                        chunk_size: int = DEFAULT_CHUNK_SIZE, show_progress: bool = True,
                        wait_seconds: float = 0.0, prefixes: Sequence[str] = (),
                        source: str = "listing", prepared: bool = False,
                        details: Mapping[str, object] | None = None, head: Head | None = None,
                        connect: Callable[[], Connection] | None = None, writers: int = 1) -> ListingSummary:
    """Register a stream of discovered objects: the one path of every discovery source (a listing, an S3 Inventory
    report, S3 events from a queue), with one rule set.

    ``pages`` yields lists of :class:`~runtime.storage.base.ObjectInfo` (key, size, last-modified, ETag), lazily:
    they are filtered by ``keep`` (raw prefix only; every other key counted by reason), regrouped into chunks of
    ``chunk_size`` and each chunk is registered in one transaction (:func:`runtime.db.registration.register_pages`:
    never an older version, no lock on an unchanged row; ``head`` reads the store's current object of a key listed
    older than its registered version with an ETag it never had). Within one chunk the last object given for a key wins:
    a source that knows the order of a key's versions (an event's ``sequencer``) gives them oldest first. The whole
    run holds the lister lock (one discovery at a time; ``wait_seconds`` as in :func:`run_lister`). When this
    returns, everything it counted is committed: a queue consumer deletes its messages after that.

    ``prepared``: ``pages`` yields :class:`~runtime.db.registration.PreparedPage` chunks that the source built and
    filtered with ``keep`` itself, keys unique (the inventory's vectorized path); they are registered as they come.
    ``details``: more facts recorded with the run in ``discovery_runs`` (an inventory run: its report's time).
    ``connect``, ``writers``: with ``writers > 1``, that many connections register chunks at once (``connect`` makes
    the extra ones, opened under the lock and closed before it is released): only for a source whose keys are unique
    across chunks (:func:`runtime.db.registration.register_pages`)."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    started, started_at = time.monotonic(), datetime.now(timezone.utc)
    total = RegistrationCounts()
    with lister_lock(conn, wait_seconds):
        progress = Progress(source, unit="keys", enabled=show_progress)
        chunks = pages if prepared else chunked(filtered_pages(pages, keep), chunk_size)
        with writer_connections(connect, writers) as extra:
            for counts in register_pages(conn, chunks, head=head, writers=extra):  # type: ignore[arg-type]
                total.add(counts)
                progress.advance(counts.listed, new=total.new, changed=total.changed)
        progress.finish()
    raw_prefix = keep.layout.raw_prefix
    for line in ignored_lines(keep.ignored, keep.examples, raw_prefix):
        log.warning("%s", line)
    summary = ListingSummary(total, time.monotonic() - started, list(prefixes), ignored=dict(keep.ignored),
                             ignored_examples={reason: list(named) for reason, named in keep.examples.items()})
    log.info("%s done: %s", source, summary.as_dict())
    record_discovery_run(conn, source, started_at, seen=total.listed + summary.ignored_total,  # mldp status
                         registered=total.new + total.changed, ignored=summary.ignored_total,
                         details={**summary.as_dict(), **(details or {})})
    return summary
