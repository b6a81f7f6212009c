"""Discovery bookkeeping in the tracking database (migration 0011): one row per finished discovery run
(``discovery_runs``: a listing, a registration from an S3 Inventory report, a drain of the S3 event queue) and
the highest S3 event sequencer registered per key (``discovery_event_sequencers``).

S3 orders the events of one key by their ``sequencer``: hex strings of varying length, compared after
left-padding the shorter one with zeros (S3 user guide, "Event message structure"). :func:`sequencer_order` is
that order in Python; :data:`UPSERT_SEQUENCERS` is the same order in SQL, so two consumers can never move a key's
sequencer back."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection
    from psycopg2.extensions import cursor as Cursor

__all__ = [
    "EVENTS",
    "INVENTORY",
    "LISTING",
    "MODES",
    "RECONCILIATION_MODES",
    "is_newer",
    "last_listing_started",
    "last_report_time",
    "last_runs",
    "normalized_sequencer",
    "record_discovery_run",
    "registered_versions",
    "report_folder_time",
    "sequencer_order",
    "store_sequencers",
    "stored_sequencers",
]

#: The discovery paths a run is recorded under.
LISTING = "listing"
INVENTORY = "inventory"
EVENTS = "events"
MODES = (LISTING, INVENTORY, EVENTS)
#: The paths that see every key (the safety net behind events): a listing or an inventory run.
RECONCILIATION_MODES = (LISTING, INVENTORY)

_INSERT_RUN = """
INSERT INTO discovery_runs (mode, started_at, keys_seen, keys_registered, keys_ignored, details)
VALUES (%(mode)s, %(started_at)s, %(seen)s, %(registered)s, %(ignored)s, %(details)s::jsonb)
"""

#: The last finished run of each mode.
_LAST_RUNS = """
SELECT DISTINCT ON (mode) mode, started_at, finished_at, keys_seen, keys_registered, keys_ignored, details
FROM discovery_runs
ORDER BY mode, finished_at DESC
"""

#: The newest inventory report registered: its ``report_time`` (recorded since the scheduled inventory runs), else
#: the run's start (a report is never newer than the run that registered it).
_LAST_REPORT_TIME = """
SELECT max(coalesce((details->>'report_time')::timestamptz, started_at)) FROM discovery_runs WHERE mode = 'inventory'
"""

_LAST_LISTING = "SELECT max(started_at) FROM discovery_runs WHERE mode = 'listing'"

_REGISTERED = "SELECT s3_key, etag, last_modified_timestamp FROM file_processing_status WHERE s3_key = ANY(%(keys)s)"

_STORED = "SELECT s3_key, sequencer FROM discovery_event_sequencers WHERE s3_key = ANY(%(keys)s)"

#: Store each key's sequencer unless a higher one is stored already (compared as zero-padded hex).
UPSERT_SEQUENCERS = """
INSERT INTO discovery_event_sequencers AS d (s3_key, sequencer)
SELECT * FROM unnest(%(keys)s::text[], %(sequencers)s::text[])
ON CONFLICT (s3_key) DO UPDATE SET sequencer = EXCLUDED.sequencer, updated_at = now()
WHERE lpad(EXCLUDED.sequencer, greatest(length(EXCLUDED.sequencer), length(d.sequencer)), '0')
    > lpad(d.sequencer, greatest(length(EXCLUDED.sequencer), length(d.sequencer)), '0')
"""


def normalized_sequencer(value: object) -> str | None:
    """``value`` as an uppercase hex string, or ``None`` if it is not one (a malformed event)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.upper()
    return text if all(c in "0123456789ABCDEF" for c in text) else None


def sequencer_order(sequencer: str, width: int = 0) -> str:
    """A sort key of ``sequencer``: left-padded with zeros to ``width`` (at least its own length). Compare two
    sequencers with the same ``width`` (the longer one's length)."""
    return sequencer.upper().rjust(max(width, len(sequencer)), "0")


def is_newer(sequencer: str, than: str | None) -> bool:
    """True if ``sequencer`` orders after ``than`` (always when there is none)."""
    if than is None:
        return True
    width = max(len(sequencer), len(than))
    return sequencer_order(sequencer, width) > sequencer_order(than, width)


def stored_sequencers(cur: Cursor, keys: list[str]) -> dict[str, str]:
    """The stored sequencer of each of ``keys`` that has one."""
    if not keys:
        return {}
    cur.execute(_STORED, {"keys": keys})
    return dict(cur.fetchall())


def registered_versions(cur: Cursor, keys: list[str]) -> dict[str, tuple[str | None, datetime | None]]:
    """The registered ETag and last-modified time of each of ``keys`` that is tracked."""
    cur.execute(_REGISTERED, {"keys": keys})
    return {key: (etag, modified) for key, etag, modified in cur.fetchall()}


def store_sequencers(cur: Cursor, sequencers: Mapping[str, str]) -> None:
    """Raise each key's stored sequencer to the given one (never lower it), in the caller's transaction."""
    if sequencers:
        keys = sorted(sequencers)  # a stable lock order between concurrent consumers
        cur.execute(UPSERT_SEQUENCERS, {"keys": keys, "sequencers": [sequencers[k] for k in keys]})


def record_discovery_run(conn: Connection, mode: str, started_at: datetime, *, seen: int, registered: int,
                         ignored: int, details: Mapping[str, Any] | None = None) -> None:
    """Record one finished discovery run (its own transaction). ``registered``: keys new or changed."""
    if mode not in MODES:
        raise ValueError(f"unknown discovery mode {mode!r}")
    with conn.cursor() as cur:
        cur.execute(_INSERT_RUN, {"mode": mode, "started_at": started_at, "seen": seen, "registered": registered,
                                  "ignored": ignored, "details": json.dumps(dict(details or {}), default=str)})
    conn.commit()


def last_runs(cur: Cursor) -> dict[str, dict[str, Any]]:
    """The last finished run of each mode that ever ran: mode -> its row as a dict."""
    cur.execute(_LAST_RUNS)
    names = [column.name for column in cur.description]
    return {row[0]: dict(zip(names, row)) for row in cur.fetchall()}


def last_report_time(cur: Cursor) -> datetime | None:
    """The time of the newest S3 Inventory report registered (``None``: none ever was)."""
    cur.execute(_LAST_REPORT_TIME)
    return cur.fetchone()[0]


def last_listing_started(cur: Cursor) -> datetime | None:
    """When the last finished listing started (``None``: no listing ever finished)."""
    cur.execute(_LAST_LISTING)
    return cur.fetchone()[0]

_REPORT_FOLDER = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})Z$")


def report_folder_time(folder: str) -> datetime | None:
    """The time of an S3 Inventory report folder (AWS's layout: ``<destination prefix>/<source bucket>/<config id>/
    YYYY-MM-DDTHH-MMZ/manifest.json``, the time S3 began scanning the bucket) from the last segment of ``folder``;
    ``None`` if it is not one."""
    match = _REPORT_FOLDER.match(folder.rstrip("/").rsplit("/", 1)[-1])
    if match is None:
        return None
    year, month, day, hour, minute = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)
    except ValueError:
        return None
