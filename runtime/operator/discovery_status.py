"""The discovery part of ``mldp status``: how raw files are discovered (the mode) and when the last reconciliation
ran (a listing or an inventory run: the safety net that finds what events missed), from ``discovery_runs``
(migration 0011).

The mode is read from what ran, not from a setting the database cannot see: ``events`` when the event consumer
drained the queue within :data:`EVENTS_RECENT_SECONDS` (reconciled by the last listing or inventory run), otherwise
the kind of the last reconciliation, ``none`` before any discovery run."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from runtime.db.discovery import EVENTS, RECONCILIATION_MODES, last_runs
from runtime.operator.formatting import format_duration, when

if TYPE_CHECKING:
    from psycopg2.extensions import cursor as Cursor

__all__ = ["EVENTS_RECENT_SECONDS", "discovery_status", "render_discovery"]

#: An event drain this recent makes the mode ``events`` (the consumer runs every few minutes).
EVENTS_RECENT_SECONDS = 86400


def _run(row: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"mode": row["mode"], "finished_at": row["finished_at"],
            "age_seconds": max(0.0, (now - row["finished_at"]).total_seconds()), "keys_seen": row["keys_seen"],
            "keys_registered": row["keys_registered"], "keys_ignored": row["keys_ignored"]}


def discovery_status(cur: Cursor, now: datetime) -> dict[str, Any]:
    """``mode``, ``last_reconciliation`` and ``last_event_drain`` (each a run's figures, or ``None``)."""
    runs = last_runs(cur)
    reconciliations = [runs[m] for m in RECONCILIATION_MODES if m in runs]
    last = max(reconciliations, key=lambda r: r["finished_at"]) if reconciliations else None
    drain = runs.get(EVENTS)
    if drain is not None and (now - drain["finished_at"]).total_seconds() <= EVENTS_RECENT_SECONDS:
        mode = EVENTS
    else:
        mode = last["mode"] if last else "none"
    return {"mode": mode, "last_reconciliation": _run(last, now), "last_event_drain": _run(drain, now)}


def render_discovery(d: dict[str, Any]) -> str:
    """Two or three lines for the text report."""
    lines = [f"Discovery: {d['mode']}"]
    for label, run in (("last reconciliation", d["last_reconciliation"]), ("last event drain", d["last_event_drain"])):
        if run is None:
            lines.append(f"  {label}: never" + (" (nothing reconciles missed events)" if "recon" in label else ""))
            continue
        lines.append(f"  {label}: {run['mode']} {when(run['finished_at'])} ({format_duration(run['age_seconds'])} "
                     f"ago): {run['keys_seen']:,} keys seen, {run['keys_registered']:,} registered, "
                     f"{run['keys_ignored']:,} ignored")
    return "\n".join(lines)
