"""Bulk registration of listed objects in the tracking table: COPY into a session-temporary staging table, then
one set-based statement per page that sorts the keys (new, unchanged, newer version, stale listing) without
locking, inserts the new ones and locks and updates only the newer versions (:data:`runtime.db.queries.
REGISTER_INCOMING`). Each page is one transaction, so a failure never leaves half a page registered.

Listers are serialized: :func:`lister_lock` holds a session-level advisory lock for a whole listing; a second
lister gets :class:`ListerBusy` (at once or after a bounded wait)."""

from __future__ import annotations

import io
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timezone
from typing import TYPE_CHECKING, Optional

import psycopg2

from runtime.db import queries, registration_queries
from runtime.errors import MldpError
from runtime.layout import MAX_KEY_BYTES
from runtime.storage.base import ObjectInfo, ObjectNotFound, ObjectStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

log = logging.getLogger(__name__)

#: The object a key holds now (one ``HeadObject``), or ``None`` if it is gone: how :func:`register_page` confirms a
#: listed version that looks older than the registered one (:func:`current_object` makes one of a store).
Head = Callable[[str], Optional[ObjectInfo]]


def current_object(store: ObjectStore) -> Head:
    """A :data:`Head` reading ``store`` (``store.head``; a missing key is ``None``)."""
    def head(key: str) -> ObjectInfo | None:
        try:
            return store.head(key)
        except ObjectNotFound:
            return None
    return head


@dataclass
class RegistrationCounts:
    """What one or more registered pages contained."""

    listed: int = 0
    new: int = 0
    changed: int = 0
    #: Listed with an older last-modified time than the registered version (or the same time and an ETag the key
    #: already had): an out-of-date listing, ignored (a version is never rolled back). An older one with an ETag
    #: the key never had is stale only once a ``HeadObject`` shows another object (:func:`register_page`).
    stale: int = 0
    #: A newer version of a file being processed (or locked by a batch) right now: left for the next listing.
    deferred: int = 0

    @property
    def unchanged(self) -> int:
        """Listed keys that were already registered with the same ETag."""
        return self.listed - self.new - self.changed - self.stale - self.deferred

    def add(self, other: RegistrationCounts) -> None:
        """Add ``other``'s counts to these."""
        self.listed += other.listed
        self.new += other.new
        self.changed += other.changed
        self.stale += other.stale
        self.deferred += other.deferred


#: Why a key cannot be registered at all (:func:`unregistrable_reason`): its name is not valid UTF-8 (a local file
#: name the file system gave as bytes), it is longer than :data:`~runtime.layout.MAX_KEY_BYTES`, or it holds a NUL
#: character (a PostgreSQL ``text`` value cannot).
NOT_UTF8 = "not_utf8"
KEY_TOO_LONG = "key_too_long"
NUL_CHARACTER = "nul_character"


def unregistrable_reason(key: str) -> str | None:
    """Why the tracking table cannot hold ``key`` (:data:`NOT_UTF8`, :data:`KEY_TOO_LONG`, :data:`NUL_CHARACTER`),
    or ``None`` when it can. A local name that is not UTF-8 arrives from ``os.scandir`` with its bad bytes as lone
    surrogates (``surrogateescape``): such a key would fail the whole page's ``COPY``."""
    if key.isascii():
        size = len(key)
    else:
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            return NOT_UTF8
    if "\x00" in key:
        return NUL_CHARACTER
    if size > MAX_KEY_BYTES:
        return KEY_TOO_LONG
    return None


def _csv_field(text: str) -> str:
    """CSV-quote ``text`` only when it needs it (most keys do not: quoting everything costs ~40% more time)."""
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_rows(objects: Iterable[ObjectInfo]) -> io.StringIO:
    """The COPY input (CSV) for ``objects``: key, size, last-modified, ETag."""
    return io.StringIO("".join(
        f"{_csv_field(obj.key)},{obj.size},{obj.last_modified.timestamp()!r},{_csv_field(obj.etag)}\n"
        for obj in objects
    ))


@dataclass
class PreparedPage:
    """A page ready for COPY: its de-duplicated size and its CSV."""

    count: int
    csv: io.StringIO


def prepare_page(objects: list[ObjectInfo]) -> PreparedPage:
    """De-duplicate (overlapping prefixes may list a key twice) and build the COPY input."""
    unique = list({obj.key: obj for obj in objects}.values())
    return PreparedPage(len(unique), _csv_rows(unique))


def register_page(conn: Connection, objects: list[ObjectInfo] | PreparedPage, head: Head | None = None
                  ) -> RegistrationCounts:
    """Register one page of listed objects in one transaction and return what was new, changed, stale or
    deferred (see :data:`runtime.db.queries.REGISTER_INCOMING`).

    A listed object older than the registered version whose ETag the key never had (``unconfirmed``: rare) is
    checked with ``head`` after the commit: S3 gives an object written by a multipart upload the time the upload
    started, so an upload completed after the registered version looks older than it. If the key's object now has
    that ETag, it is the current version and is registered (:data:`runtime.db.registration_queries.
    REGISTER_CONFIRMED`); otherwise (or without ``head``) it is stale, as an old listing is."""
    page = objects if isinstance(objects, PreparedPage) else prepare_page(objects)
    if not page.count:
        return RegistrationCounts()
    try:
        new, changed, newer, stale, unconfirmed = _register_staged(conn, page, queries.REGISTER_INCOMING)
    except psycopg2.errors.UniqueViolation:  # another session inserted one of the keys since: the page again
        log.info("a key of the page was inserted by another session meanwhile: page registered with ON CONFLICT")
        page.csv.seek(0)
        new, changed, newer, stale, unconfirmed = _register_staged(conn, page, queries.REGISTER_INCOMING_ON_CONFLICT)
    counts = RegistrationCounts(listed=page.count, new=int(new), changed=int(changed), stale=int(stale),
                                deferred=int(newer) - int(changed))
    if unconfirmed and head is not None:
        _register_confirmed(conn, unconfirmed, head, counts)
    return counts


def _register_staged(conn: Connection, page: PreparedPage, statement: str) -> tuple:
    """Stage ``page`` and run the bulk ``statement`` over it in one transaction (committed; rolled back on error)."""
    try:
        with conn.cursor() as cur:
            cur.execute(queries.CREATE_INCOMING)
            cur.copy_expert(queries.COPY_INCOMING, page.csv)
            cur.execute(queries.REGISTRATION_PLAN)
            cur.execute(statement)
            row = cur.fetchone()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return row


def _register_confirmed(conn: Connection, unconfirmed: list[list], head: Head, counts: RegistrationCounts) -> None:
    """HEAD each ``unconfirmed`` row (``[key, size, epoch, etag, registered etag]``) and register those whose key
    holds that ETag now: changed, or deferred if their file is being processed; ``counts`` moved from stale."""
    confirmed = []
    for row in unconfirmed:
        current = head(row[0])
        if current is not None and current.etag == row[3]:
            confirmed.append(row)
    if not confirmed:
        return
    keys, sizes, epochs, etags, registered = (list(column) for column in zip(*confirmed))
    try:
        with conn.cursor() as cur:
            cur.execute(registration_queries.REGISTER_CONFIRMED, {"keys": keys, "sizes": sizes, "epochs": epochs,
                                                                   "etags": etags, "registered": registered})
            updated = len(cur.fetchall())
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    log.info("%d listed version(s) older than the registered one confirmed current by HeadObject (multipart "
             "uploads completed later), %d registered", len(confirmed), updated)
    counts.stale -= len(confirmed)
    counts.changed += updated
    counts.deferred += len(confirmed) - updated


class ListerBusy(MldpError):
    """Another lister holds the lister lock (the message says which session); nothing was listed."""


def _lock_holder(conn: Connection) -> str:
    """A short description of the session holding the lister lock (it may have just released it)."""
    with conn.cursor() as cur:
        cur.execute(queries.LISTER_LOCK_HOLDER, {"key": queries.LISTER_LOCK_KEY})
        row = cur.fetchone()
    conn.commit()
    if row is None:
        return "another session"
    pid, application, since = row
    described = f"pid {pid}" + (f" {application!r}" if application else "")
    return described + (f", connected since {since.astimezone(timezone.utc):%Y-%m-%d %H:%M:%SZ}" if since else "")


def try_lister_lock(conn: Connection) -> bool:
    """Take the lister lock if it is free (session-level: it outlives the page transactions)."""
    with conn.cursor() as cur:
        cur.execute(queries.TRY_LISTER_LOCK, {"key": queries.LISTER_LOCK_KEY})
        taken = bool(cur.fetchone()[0])
    conn.commit()
    return taken


def release_lister_lock(conn: Connection) -> None:
    """Release the lister lock; a lost connection has released it already."""
    try:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute(queries.RELEASE_LISTER_LOCK, {"key": queries.LISTER_LOCK_KEY})
        conn.commit()
    except psycopg2.Error as error:  # the session is gone, and its locks with it
        log.debug("lister lock not released explicitly: %s", error)


@contextmanager
def lister_lock(conn: Connection, wait_seconds: float = 0.0, poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold the lister lock for the block. Another lister holding it: wait up to ``wait_seconds`` (polling), then
    raise :class:`ListerBusy` naming the holder."""
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    while not try_lister_lock(conn):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            waited = f" (waited {wait_seconds:g}s)" if wait_seconds > 0 else ""
            raise ListerBusy(f"another lister is running ({_lock_holder(conn)}){waited}: nothing listed")
        time.sleep(min(poll_seconds, remaining))
    try:
        yield
    finally:
        release_lister_lock(conn)


_DONE = object()


@contextmanager
def writer_connections(connect: Callable[[], Connection] | None, writers: int) -> Iterator[list[Connection]]:
    """``writers - 1`` more connections made by ``connect`` (none without it), closed at the end of the block: the
    extra writers of :func:`register_pages`. Open them inside :func:`lister_lock`: they register under its lock."""
    extra: list[Connection] = []
    try:
        if connect is not None:
            extra.extend(connect() for _ in range(max(writers, 1) - 1))
        yield extra
    finally:
        for conn in extra:
            conn.close()


def register_pages(conn: Connection, pages: Iterable[list[ObjectInfo] | PreparedPage], ahead: int = 2,
                   head: Head | None = None, writers: Sequence[Connection] = ()) -> Iterator[RegistrationCounts]:
    """Register ``pages`` (lists of objects, or pages a source prepared itself, keys unique) one transaction each
    (:func:`register_page`, confirming with ``head``), yielding each page's counts. A background thread lists and
    prepares up to ``ahead`` pages while the database registers the current one (listing S3 and building the CSV
    overlap the SQL; memory stays bounded by ``ahead + 1`` pages, plus one per extra writer). An error on either
    side stops both.

    ``writers``: more connections that register pages too, each in a thread of its own, in no particular order
    (the backends are processes: the statement's CPU, the bound of a bulk registration, runs on more cores). Only
    for a source whose keys are unique across pages (an inventory report lists each key once): a key in two pages
    registered at once would be settled by the order of the commits, not of the pages. The statement's rules hold
    between concurrent pages as they do between listers (no lock on an unchanged row, locks taken with SKIP LOCKED
    in file_id order, a key inserted meanwhile classified again: :data:`runtime.db.queries.REGISTER_INCOMING`)."""
    prepared: queue.Queue = queue.Queue(maxsize=ahead)
    results: queue.Queue = queue.Queue()
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                prepared.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not hand_over(page if isinstance(page, PreparedPage) else prepare_page(page)):
                    return
            hand_over(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            hand_over(exc)

    def take() -> object:
        """The next page; the end (or the producer's error) is put back for the other writers."""
        while not stop.is_set():
            try:
                item = prepared.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE or isinstance(item, BaseException):
                prepared.put(item)
            return item
        return _DONE

    def write(extra: Connection) -> None:
        try:
            while isinstance(item := take(), PreparedPage):
                results.put(register_page(extra, item, head))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            results.put(exc)
        finally:
            results.put(_DONE)

    threads = [threading.Thread(target=produce, name="listing", daemon=True)]
    threads += [threading.Thread(target=write, args=(c,), name=f"writer-{n}", daemon=True)
                for n, c in enumerate(writers, 2)]
    for thread in threads:
        thread.start()
    running = len(writers)

    def collected(block: bool) -> Iterator[RegistrationCounts]:
        nonlocal running
        while running:
            try:
                item = results.get(block=block)
            except queue.Empty:
                return
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    try:
        while isinstance(item := take(), PreparedPage):
            yield register_page(conn, item, head)
            yield from collected(block=False)
        if isinstance(item, BaseException):
            raise item
        yield from collected(block=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
