"""The scheduled lister of ``discovery_mode`` inventory and events (``mldp list --inventory-location URL``): register
from the newest complete S3 Inventory report, list only as the safety net.

Each run decides, from the report folder and the ``discovery_runs`` table (:func:`plan_run`):

1. **A complete report newer than the last one registered** (:func:`find_latest_report`): register from it
   (:func:`runtime.jobs.inventory.register_inventory`, the listing's rules); no listing in that run.
2. Otherwise **list** (as without ``--inventory-location``) when the inventory cannot be trusted to have seen every
   key: no complete report exists yet (S3 delivers the first one within 48 hours of the configuration), or the
   newest one is older than :data:`STALE_REPORT_HOURS` (daily delivery has stopped), or the last listing is older
   than ``full_listing_hours`` (the periodic full listing, the safety net behind both the events and the
   inventory; 0 lists on every run that registers no report).
3. Otherwise **nothing to do**: the report is registered and a listing is recent. The run still publishes its
   (zero) lister figures, so the lister heartbeat stays quiet.

A report is found in AWS's documented layout, ``<destination-prefix>/<source-bucket>/<config-ID>/
<YYYY-MM-DDTHH-MMZ>/manifest.json``: the location names the config's folder (or a folder up to two levels above
it), the run lists its ``YYYY-MM-DDTHH-MMZ`` sub-folders with ``Delimiter='/'`` (a handful of requests whatever
the report's size) and takes the newest whose ``manifest.checksum`` exists and equals the MD5 of its
``manifest.json`` (a report still being written, or altered, is skipped). The folder's timestamp (when S3 began
scanning the bucket) is the report's time, recorded as ``report_time`` in the run's details and compared with the
next report's.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from platform_contract.discovery import DEFAULT_FULL_LISTING_HOURS
from runtime.db.discovery import last_listing_started, last_report_time
from runtime.db.discovery import report_folder_time as report_time_of
from runtime.errors import UsageError
from runtime.storage.base import ObjectNotFound, ObjectStore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg2.extensions import connection as Connection

    from runtime.layout import Layout

__all__ = ["DEFAULT_FULL_LISTING_HOURS", "STALE_REPORT_HOURS", "Plan", "ReportRef", "find_latest_report", "plan_run",
           "report_time_of", "run_scheduled_discovery"]

log = logging.getLogger(__name__)

#: A newest report older than this means daily delivery has stopped: every run lists until one arrives. Two days:
#: reports are daily, and AWS may take up to 48 hours to deliver one.
STALE_REPORT_HOURS = 48
#: How deep below the location the report folders are looked for (location = destination prefix: 2 levels).
_MAX_DEPTH = 2
#: Sub-folders of a config's folder that never hold a manifest.
_NOT_REPORTS = ("data", "hive")


@dataclass(frozen=True)
class ReportRef:
    """A complete report: where its ``manifest.json`` is (``s3://`` URL or local path) and its time."""

    manifest: str
    created: datetime


def _open_location(location: str, s3_client: Any) -> tuple[ObjectStore, str, str]:
    """The store of ``location``, the key prefix of the location in it, and how a key becomes a manifest path."""
    from runtime.storage.factory import open_store

    if location.startswith("s3://"):
        parts = urlsplit(location)
        if not parts.netloc:
            raise UsageError(f"--inventory-location {location!r} names no bucket")
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return open_store(f"s3://{parts.netloc}", s3_client=s3_client), prefix, f"s3://{parts.netloc}/"
    root = Path(location)
    if not root.is_dir():
        raise UsageError(f"--inventory-location {location!r} is neither s3://bucket/prefix/ nor a local directory")
    return open_store(str(root)), "", str(root.resolve()) + "/"


def _report_folders(store: ObjectStore, prefix: str, depth: int = 0) -> list[tuple[datetime, str]]:
    """Every ``YYYY-MM-DDTHH-MMZ/`` folder at most :data:`_MAX_DEPTH` levels below ``prefix``, with its time."""
    level = store.list_level(prefix)
    found = []
    for sub in level.prefixes if level is not None else ():
        name = sub[len(prefix):].rstrip("/")
        when = report_time_of(name)
        if when is not None:
            found.append((when, sub))
        elif depth < _MAX_DEPTH and name not in _NOT_REPORTS:
            found.extend(_report_folders(store, sub, depth + 1))
    return found


def _complete(store: ObjectStore, folder: str) -> bool:
    """True if ``folder`` holds ``manifest.json`` and a ``manifest.checksum`` equal to its MD5."""
    try:
        checksum = store.get_bytes(folder + "manifest.checksum").decode("ascii", "replace").strip().lower()
        manifest = store.get_bytes(folder + "manifest.json")
    except ObjectNotFound:
        return False
    if hashlib.md5(manifest, usedforsecurity=False).hexdigest() != checksum:  # S3's checksum of the manifest
        log.warning("inventory report %s: manifest.checksum does not match manifest.json (incomplete or altered): "
                    "skipped", folder)
        return False
    return True


def find_latest_report(location: str, s3_client: Any = None) -> ReportRef | None:
    """The newest complete report under ``location`` (module docstring), or ``None`` if there is none."""
    store, prefix, base = _open_location(location, s3_client)
    for when, folder in sorted(_report_folders(store, prefix), reverse=True):
        if _complete(store, folder):
            return ReportRef(base + folder + "manifest.json", when)
        log.info("inventory report %s is not complete (no matching manifest.checksum): skipped", folder)
    return None


@dataclass(frozen=True)
class Plan:
    """What one scheduled run does: register ``report`` (if any), else list if ``listing``; and why."""

    report: ReportRef | None
    listing: bool
    reason: str

    @property
    def action(self) -> str:
        """``inventory``, ``listing`` or ``none``."""
        return "inventory" if self.report is not None else "listing" if self.listing else "none"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def plan_run(latest: ReportRef | None, registered: datetime | None, listed: datetime | None,
             full_listing_hours: int, now: datetime) -> Plan:
    """The decision of the module docstring, from the newest complete report, the time of the newest report
    registered, the start of the last listing and the safety-net period."""
    if latest is not None and (registered is None or latest.created > registered):
        return Plan(latest, False, f"inventory report of {latest.created:%Y-%m-%dT%H:%MZ} is newer than the last "
                    "registered" + (f" ({registered:%Y-%m-%dT%H:%MZ})" if registered else " (none)"))
    if latest is None:
        return Plan(None, True, "no complete inventory report yet: listing")
    if now - latest.created > timedelta(hours=STALE_REPORT_HOURS):
        return Plan(None, True, f"the newest inventory report is {_hours(now - latest.created)} old (more than "
                    f"{STALE_REPORT_HOURS} h: delivery stopped?): listing")
    if listed is None or now - listed >= timedelta(hours=full_listing_hours):
        since = "never listed" if listed is None else f"last listing {_hours(now - listed)} ago"
        return Plan(None, True, f"{since}, full_listing_hours {full_listing_hours}: safety-net listing")
    return Plan(None, False, f"inventory report of {latest.created:%Y-%m-%dT%H:%MZ} already registered, last "
                f"listing {_hours(now - listed)} ago (< {full_listing_hours} h): nothing to list")


def run_scheduled_discovery(store: ObjectStore, conn: Connection, location: str, *,
                            full_listing_hours: int = DEFAULT_FULL_LISTING_HOURS,
                            prefixes: Sequence[str] | None = None, chunk_size: int | None = None,
                            layout: Layout | None = None, wait_seconds: float = 0.0, parallelism: int = 1,
                            show_progress: bool = True, s3_client: Any = None,
                            now: datetime | None = None, connect: Any = None,
                            processes: int | None = None) -> tuple[Any, dict[str, Any]]:
    """One scheduled run (module docstring): the :class:`~runtime.jobs.lister.ListingSummary` (zero counts when
    nothing was due) and the extra report fields (``discovery``: what ran, ``discovery_reason``, and the report's
    counts when it registered one). ``connect``: a new connection, for a report's extra writers
    (:func:`runtime.jobs.inventory.register_inventory`)."""
    from runtime.jobs.lister import DEFAULT_CHUNK_SIZE, ListingSummary, RegistrationCounts, run_lister

    if full_listing_hours < 0:
        raise UsageError(f"--full-listing-hours must be >= 0, got {full_listing_hours}")
    latest = find_latest_report(location, s3_client)
    with conn.cursor() as cur:
        registered, listed = last_report_time(cur), last_listing_started(cur)
    conn.commit()
    plan = plan_run(latest, registered, listed, full_listing_hours, now or datetime.now(timezone.utc))
    log.info("scheduled discovery: %s", plan.reason)
    extra: dict[str, Any] = {"discovery": plan.action, "discovery_reason": plan.reason}
    size = chunk_size or DEFAULT_CHUNK_SIZE
    if plan.report is not None:
        from runtime.jobs.inventory import register_inventory  # pyarrow: only when a report is registered

        summary, stats = register_inventory(store, conn, plan.report.manifest, prefixes, chunk_size=size,
                                            layout=layout, wait_seconds=wait_seconds, show_progress=show_progress,
                                            s3_client=s3_client, connect=connect)
        return summary, {**extra, **stats.as_dict(), "report": plan.report.manifest}
    if plan.listing:
        summary = run_lister(store, conn, prefixes, chunk_size=size, show_progress=show_progress, layout=layout,
                             wait_seconds=wait_seconds, parallelism=parallelism, processes=processes)
        return summary, extra
    return ListingSummary(RegistrationCounts(), 0.0, list(prefixes or ())), extra
