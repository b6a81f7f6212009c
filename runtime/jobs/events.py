"""Event-driven registration: drain an SQS queue of S3 "Object Created" events (routed by EventBridge) and
register their keys in the tracking table with the lister's rules (``mldp list --from-queue URL``).

The rules are the lister's, not new ones:

* **Raw files only.** Every key passes the lister's :class:`~runtime.jobs.lister.KeyFilter` (raw prefix, the
  listing folders or ``--prefix``, never the pipeline's output, keys the table can hold); an event of another
  bucket or of another kind is ignored too. Every ignored event is counted by reason.
* **The object as S3 has it now.** An event is a hint that a key changed, not a description to trust: the consumer
  reads each key's current size, last-modified time and ETag with one ``HeadObject`` and registers that in bulk
  (:func:`runtime.db.registration.register_page`), exactly as a listing of that key would. So an event delivered
  late, twice or out of order can only register what a listing would (a version is never rolled back by the same
  SQL that guards listings), and the row's last-modified time comes from S3's clock, comparable with later
  listings (the event's ``time`` is not: it is when S3 finished the request, after a multipart upload started).
* **Ordered by sequencer.** Per key, only the event with the highest ``sequencer`` of a chunk is looked at, and
  only if it orders after the last sequencer registered for that key (:mod:`runtime.db.discovery`); the others
  are duplicates or older versions, dropped without a request to S3.
* **At least once.** A message is deleted only after the tracking commit that covers it. A crash between the
  commit and the delete redelivers the message; registering it again changes nothing. A message that is not an
  S3 event (malformed) is never deleted: it comes back after the visibility timeout and, after the queue's
  ``maxReceiveCount`` receives, moves to the dead-letter queue (alarmed). A newer version deferred because its
  file is being processed right now keeps its message too, and is retried when the message comes back.
* **One lister at a time.** A drain holds the lister lock like a listing (:func:`runtime.db.registration.
  lister_lock`); while a listing runs, the drain is skipped and the messages wait in the queue.

Keys arrive as EventBridge gives them. S3's own notifications URL-encode keys (a space as ``+``); if a key is not
found as given, its URL-decoded form is tried before the key is counted ``gone`` (deleted since its event; the
next listing settles any doubt).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from runtime.db.discovery import (
    EVENTS,
    is_newer,
    normalized_sequencer,
    record_discovery_run,
    registered_versions,
    store_sequencers,
    stored_sequencers,
)
from runtime.db.registration import RegistrationCounts, lister_lock, register_page
from runtime.errors import MldpError
from runtime.jobs.lister import EXAMPLES_PER_REASON, OUTSIDE_LAYOUT_FOLDERS, KeyFilter, check_prefixes, shown_key
from runtime.layout import Layout
from runtime.storage.base import ObjectInfo, ObjectNotFound, ObjectStore

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

__all__ = ["EVENT_REASONS", "EventDrainSummary", "MalformedEvent", "ObjectEvent", "drain_queue", "parse_event"]

log = logging.getLogger(__name__)

#: Event-specific reasons an event registers nothing (besides the lister's :data:`~runtime.jobs.lister.
#: IGNORED_REASONS`): another bucket's, not an "Object Created" event, a duplicate or older event of its key, or
#: a key gone from the bucket since.
OTHER_BUCKET = "other_bucket"
NOT_OBJECT_CREATED = "not_object_created"
SUPERSEDED = "duplicate_or_older"
GONE = "gone"
EVENT_REASONS = (OTHER_BUCKET, NOT_OBJECT_CREATED, SUPERSEDED, GONE)
#: SQS's limit on a receive and on a delete batch.
SQS_BATCH = 10


class MalformedEvent(MldpError):
    """A message that is not an S3 event EventBridge delivered (it is left for the dead-letter queue)."""


@dataclass(frozen=True)
class ObjectEvent:
    """What the consumer uses of one "Object Created" event."""

    bucket: str
    key: str
    sequencer: str


def parse_event(body: str) -> ObjectEvent | str:
    """The event of an SQS message body (the EventBridge event itself, as an EventBridge rule's SQS target
    delivers it), or the reason it is ignored (:data:`NOT_OBJECT_CREATED`). :class:`MalformedEvent` if the body
    is not an S3 event at all."""
    try:
        event = json.loads(body)
    except ValueError as err:
        raise MalformedEvent(f"not JSON: {err}") from None
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise MalformedEvent("no 'detail' object: not an EventBridge event")
    if event.get("source") != "aws.s3":
        raise MalformedEvent(f"source {event.get('source')!r} is not aws.s3")
    if event.get("detail-type") != "Object Created":
        return NOT_OBJECT_CREATED
    detail = event["detail"]
    bucket, obj = detail.get("bucket"), detail.get("object")
    if not isinstance(bucket, dict) or not isinstance(obj, dict):
        raise MalformedEvent("detail.bucket or detail.object missing")
    name, key = bucket.get("name"), obj.get("key")
    sequencer = normalized_sequencer(obj.get("sequencer"))
    if not isinstance(name, str) or not name or not isinstance(key, str) or not key:
        raise MalformedEvent("detail.bucket.name or detail.object.key missing")
    if sequencer is None:
        raise MalformedEvent(f"detail.object.sequencer {obj.get('sequencer')!r} is not a hex string")
    return ObjectEvent(name, key, sequencer)


@dataclass
class EventDrainSummary:
    """What a drain of the queue did (``--json`` prints :meth:`as_dict`)."""

    counts: RegistrationCounts = field(default_factory=RegistrationCounts)
    messages: int = 0
    deleted: int = 0
    #: Distinct malformed messages received (left in the queue for its dead-letter queue).
    malformed: int = 0
    #: Keys whose newer version waits for the file's current processing (message kept, retried later).
    kept_deferred: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    ignored_examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str | None = None

    def ignore(self, reason: str, key: str | None) -> None:
        """Count an event ignored for ``reason`` (and keep its key as an example)."""
        self.ignored[reason] = self.ignored.get(reason, 0) + 1
        named = self.ignored_examples.setdefault(reason, [])
        if key is not None and len(named) < EXAMPLES_PER_REASON:
            named.append(shown_key(key))

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return {"messages": self.messages, "deleted": self.deleted, "malformed": self.malformed,
                "registered_keys": self.counts.listed, "new": self.counts.new, "changed": self.counts.changed,
                "unchanged": self.counts.unchanged, "stale": self.counts.stale, "deferred": self.counts.deferred,
                "ignored": dict(sorted(self.ignored.items())),
                "ignored_examples": {k: list(v) for k, v in sorted(self.ignored_examples.items()) if v},
                "seconds": round(self.seconds, 3), "skipped": self.skipped}


@dataclass
class _Pending:
    """The messages of one chunk, and what each needs before it may be deleted."""

    delete: list[dict] = field(default_factory=list)
    #: key -> (sequencer, the messages whose deletion waits for that key's registration)
    by_key: dict[str, tuple[str, list[dict]]] = field(default_factory=dict)


class _Drain:
    """One drain: receives, filters, heads, registers, deletes (see the module docstring)."""

    def __init__(self, sqs: Any, queue_url: str, store: ObjectStore, conn: Connection, bucket: str | None,
                 keep: KeyFilter, poll_seconds: int, head_workers: int) -> None:
        self.sqs, self.queue_url, self.store, self.conn, self.bucket = sqs, queue_url, store, conn, bucket
        self.keep, self.poll_seconds, self.head_workers = keep, poll_seconds, head_workers
        self.summary = EventDrainSummary()
        self.held_ids: set[str] = set()

    def receive(self, chunk: dict[str, dict]) -> list[dict]:
        """Up to 10 messages, long polling, that are new to this drain. A message of the ``chunk`` in hand that
        comes back (its visibility timeout ran out) only renews its receipt handle (the old one no longer deletes
        it); one this drain already left in the queue (malformed, or deferred) is skipped until the next drain."""
        response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=SQS_BATCH,
                                            WaitTimeSeconds=self.poll_seconds)
        fresh = []
        for message in response.get("Messages", ()):
            known = chunk.get(message["MessageId"])
            if known is not None:
                known["ReceiptHandle"] = message["ReceiptHandle"]
            elif message["MessageId"] not in self.held_ids:
                chunk[message["MessageId"]] = message
                fresh.append(message)
        return fresh

    def sort(self, messages: list[dict], pending: _Pending) -> None:
        """Parse and filter each message into ``pending`` (malformed ones are counted and left alone)."""
        for message in messages:
            self.summary.messages += 1
            try:
                parsed = parse_event(message.get("Body", ""))
            except MalformedEvent as err:
                self.held_ids.add(message["MessageId"])
                self.summary.malformed += 1
                log.warning("malformed message %s left for the dead-letter queue: %s", message["MessageId"], err)
                continue
            if isinstance(parsed, str):
                self.summary.ignore(parsed, None)
            elif self.bucket is not None and parsed.bucket != self.bucket:
                self.summary.ignore(OTHER_BUCKET, f"{parsed.bucket}/{parsed.key}")
            elif not self.keep(parsed.key):
                pass  # counted by the key filter
            else:
                entry = pending.by_key.get(parsed.key)
                if entry is None:
                    pending.by_key[parsed.key] = (parsed.sequencer, [message])
                else:  # two events of one key in a chunk: only the higher sequencer counts
                    best, waiting = entry
                    self.summary.ignore(SUPERSEDED, parsed.key)
                    newer = parsed.sequencer if is_newer(parsed.sequencer, best) else best
                    pending.by_key[parsed.key] = (newer, [*waiting, message])
                continue
            pending.delete.append(message)

    def head(self, key: str) -> ObjectInfo | None:
        """The object of ``key`` now (its URL-decoded form if the key as given is not found), or ``None``."""
        for candidate in dict.fromkeys((key, unquote_plus(key))):
            try:
                return self.store.head(candidate)
            except ObjectNotFound:
                continue
        return None

    def settle(self, pending: _Pending) -> None:
        """Register the chunk's keys, then delete the messages the commit covers."""
        with self.conn.cursor() as cur:
            stored = stored_sequencers(cur, list(pending.by_key))
        self.conn.commit()
        wanted = {}
        for key, (sequencer, messages) in pending.by_key.items():
            if is_newer(sequencer, stored.get(key)):
                wanted[key] = (sequencer, messages)
            else:  # a duplicate, or an older version than the one registered
                self.summary.ignore(SUPERSEDED, key)
                pending.delete.extend(messages)
        with ThreadPoolExecutor(max_workers=self.head_workers) as pool:
            heads = dict(zip(wanted, pool.map(self.head, wanted)))
        objects: list[tuple[str, ObjectInfo]] = []
        for key, info in heads.items():
            if info is None:
                self.summary.ignore(GONE, key)
                pending.delete.extend(wanted[key][1])
            elif info.key != key and self.keep.reason(info.key) is not None:
                self.keep(info.key)  # the decoded key is not registrable: counted under its reason
                pending.delete.extend(wanted[key][1])
            else:
                objects.append((key, info))
        if objects:
            self.summary.counts.add(register_page(self.conn, [info for _, info in objects], head=self.head))
            self._confirm(objects, wanted, pending)
        self.delete(pending.delete)

    def _confirm(self, objects: list[tuple[str, ObjectInfo]], wanted: dict[str, tuple[str, list[dict]]],
                 pending: _Pending) -> None:
        """After the commit: store the sequencers of the keys now registered at the version read (or at a newer
        one), and release their messages; a key whose newer version was deferred (its file is being processed
        right now) keeps its messages, to be retried when they come back."""
        with self.conn.cursor() as cur:
            registered = registered_versions(cur, [info.key for _, info in objects])
            done: dict[str, str] = {}
            for event_key, info in objects:
                etag, modified = registered.get(info.key, (None, None))
                sequencer, messages = wanted[event_key]
                if etag == info.etag or (modified is not None and modified > info.last_modified):
                    done[event_key] = sequencer
                    pending.delete.extend(messages)
                else:
                    self.summary.kept_deferred += 1
                    self.held_ids.update(m["MessageId"] for m in messages)
            store_sequencers(cur, done)
        self.conn.commit()

    def delete(self, messages: list[dict]) -> None:
        """Delete ``messages`` in batches of 10; a failed delete only means a harmless redelivery."""
        for start in range(0, len(messages), SQS_BATCH):
            batch = messages[start:start + SQS_BATCH]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            self.summary.deleted += len(response.get("Successful", ()))
            for failure in response.get("Failed", ()):
                log.warning("message not deleted (it will be delivered again, harmlessly): %s", failure)


def drain_queue(sqs: Any, queue_url: str, store: ObjectStore, conn: Connection, *, bucket: str | None = None,
                prefixes: list[str] | None = None, layout: Layout | None = None, max_seconds: float = 600.0,
                chunk_messages: int = 1000, poll_seconds: int = 20, head_workers: int = 16,
                wait_seconds: float = 0.0, stop_when_empty: bool = True, chunk_seconds: float = 5.0,
                clock: Callable[[], float] = time.monotonic) -> EventDrainSummary:
    """Drain ``queue_url`` and register its events' keys (see the module docstring). Chunks of up to
    ``chunk_messages`` messages (or what arrived within ``chunk_seconds``, or up to a receive that was not full) are
    registered one transaction each; the drain stops at the first empty long poll
    (``stop_when_empty``) or once ``max_seconds`` have passed (after the chunk in hand). ``bucket``: the store's
    bucket (events of another are ignored; ``None``: any). Another lister holding the lock: skipped."""
    layout = layout or Layout()
    checked = check_prefixes(prefixes, layout)
    keep = _prefix_filter(KeyFilter(layout, default_folders_only=not checked), checked)
    drain = _Drain(sqs, queue_url, store, conn, bucket, keep, poll_seconds, head_workers)
    started, started_at = clock(), datetime.now(timezone.utc)
    with lister_lock(conn, wait_seconds):
        empty = False
        while not empty and clock() - started < max_seconds:
            pending, chunk, chunk_started = _Pending(), {}, clock()
            while clock() - started < max_seconds:
                messages = drain.receive(chunk)
                if not messages:
                    empty = stop_when_empty
                    break
                drain.sort(messages, pending)
                # settle when the chunk is full, when the queue has no full batch left (a trickle of uploads is
                # registered at once, not after 1,000 of them), or after chunk_seconds
                if len(chunk) >= chunk_messages or len(messages) < SQS_BATCH \
                        or clock() - chunk_started >= chunk_seconds:
                    break
            drain.settle(pending)
        summary = drain.summary
        summary.ignored.update({k: summary.ignored.get(k, 0) + v for k, v in keep.ignored.items()})
        for reason, named in keep.examples.items():
            summary.ignored_examples.setdefault(reason, []).extend(named)
        summary.seconds = clock() - started
        record_discovery_run(conn, EVENTS, started_at, seen=summary.messages,
                             registered=summary.counts.new + summary.counts.changed,
                             ignored=sum(summary.ignored.values()), details=summary.as_dict())
    log.info("event drain done: %s", summary.as_dict())
    return summary


def _prefix_filter(keep: KeyFilter, prefixes: list[str]) -> KeyFilter:
    """``keep``, also refusing keys outside ``prefixes`` when some are given (the listing's ``--prefix``)."""
    if not prefixes:
        return keep
    original = keep.reason

    def reason(key: str) -> str | None:
        found = original(key)
        if found is None and not key.startswith(tuple(prefixes)):
            return OUTSIDE_LAYOUT_FOLDERS
        return found

    keep.reason = reason  # type: ignore[method-assign]
    return keep
