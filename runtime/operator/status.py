"""``mldp status``: the morning questions of a backfill in one report (what is left, how fast, what failed and why,
what is stuck), as data (:func:`build_status`) and as text (:func:`render_status`).

Work in progress is shown batch by batch with its owner (run, host and pid, or Glue job) and lease: *running*,
*recoverable now* (its lease expired, its run handed it back, or its owner is provably gone:
:class:`runtime.jobs.owner.OwnerProbe`), or *held* for the operator after failed recoveries. The files of
recoverable batches wait like the backlog's and are counted in it; the time to drain counts every file left."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from runtime.db import operator_queries as q
from runtime.db.records import OpenBatch, Owner
from runtime.db.states import BatchState, FileState
from runtime.jobs.owner import OwnerProbe, recoverability
from runtime.operator.discovery_status import discovery_status, render_discovery
from runtime.operator.formatting import (
    count_of,
    format_duration,
    human_bytes,
    jsonable,
    render_table,
    rows_as_dicts,
    shorten,
    when,
)
from runtime.operator.spec_versions import render_spec_versions, spec_versions

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection
    from psycopg2.extensions import cursor as Cursor

#: Every file state, in the order the report lists them.
STATES = tuple(state.value for state in FileState)
#: The throughput windows of the report: name -> seconds.
WINDOWS = {"last_hour": 3600, "last_day": 86400}
#: Open batches listed one by one (all are counted).
SHOWN_BATCHES = 20


def build_status(conn: Connection, batches: int = 10, errors: int = 10,
                 probe: OwnerProbe | None = None) -> dict[str, Any]:
    """The status report of the tracking database ``conn`` as a JSON-ready dict (see docs/operations.md for its keys):
    ``files_by_state``, ``total``, ``backlog``, ``in_progress``, ``throughput``, ``eta``, ``recent_batches``
    (the last ``batches``), ``top_errors`` (the ``errors`` most frequent) and ``limits`` (those two numbers). All
    figures come from one snapshot of the database, so they agree with each other. ``probe`` judges the
    owners of open batches."""
    with conn.cursor() as cur:
        if conn.info.transaction_status == TRANSACTION_STATUS_IDLE and not conn.autocommit:
            cur.execute(q.SNAPSHOT)
        cur.execute(q.NOW)
        now = cur.fetchone()[0]
        by_state = _files_by_state(cur)
        backlog = _backlog(cur)
        in_progress = _in_progress(cur, probe or OwnerProbe())
        backlog["recoverable"] = in_progress["recoverable_files"]
        backlog["files"] += in_progress["recoverable_files"]
        backlog["bytes"] += in_progress.pop("recoverable_bytes")
        throughput = {}
        for name, seconds in WINDOWS.items():
            cur.execute(q.THROUGHPUT, {"seconds": seconds})
            throughput[name] = rows_as_dicts(cur)[0]
        cur.execute(q.RECENT_BATCHES, {"limit": batches})
        recent = [_batch_row(row) for row in rows_as_dicts(cur)]
        cur.execute(q.TOP_ERRORS, {"limit": errors})
        top_errors = rows_as_dicts(cur)
        discovery = discovery_status(cur, now)  # issue 21
        versions = spec_versions(cur, batches)
    conn.commit()
    report = {
        "generated_at": now,
        "files_by_state": by_state,
        "total": {"files": sum(s["files"] for s in by_state.values()),
                  "bytes": sum(s["bytes"] for s in by_state.values())},
        "backlog": backlog,
        "in_progress": in_progress,
        "throughput": throughput,
        "eta": drain_estimate(backlog["files"] + in_progress["running_files"] + in_progress["held_files"],
                              throughput),
        "recent_batches": recent,
        "top_errors": top_errors,
        "spec_versions": versions,
        "limits": {"recent_batches": batches, "top_errors": errors},
        "discovery": discovery,
    }
    return jsonable(report)


def drain_estimate(backlog_files: int, throughput: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Time to finish ``backlog_files`` (every file left: the backlog and the files in progress) at the rate files
    left the backlog (SUCCEEDED or QUARANTINED) in the last hour, else in the last day; ``seconds`` is None when
    nothing finished in the last day (or 0 when nothing is left)."""
    if backlog_files == 0:
        return {"seconds": 0, "files_per_hour": None, "basis": "backlog empty"}
    for name, hours in (("last_hour", 1), ("last_day", 24)):
        window = throughput.get(name) or {}
        done = int(window.get("succeeded", 0)) + int(window.get("quarantined", 0))
        if done:
            rate = done / hours
            return {"seconds": round(backlog_files / rate * 3600), "files_per_hour": round(rate, 1), "basis": name}
    return {"seconds": None, "files_per_hour": 0, "basis": "no file finished in the last day"}


def _files_by_state(cur: Cursor) -> dict[str, dict[str, int]]:
    cur.execute(q.FILES_BY_STATE)
    found = {state: (files, size) for state, files, size in cur.fetchall()}
    return {state: {"files": int(found.get(state, (0, 0))[0]), "bytes": int(found.get(state, (0, 0))[1])}
            for state in STATES}


def _backlog(cur: Cursor) -> dict[str, Any]:
    cur.execute(q.BACKLOG)
    backlog = rows_as_dicts(cur)[0]
    backlog["files"] = backlog["pending"] + backlog["failed"]
    backlog["oldest_age_seconds"] = round(backlog["oldest_age_seconds"] or 0, 1)
    cur.execute(q.OLDEST_BACKLOG_KEY)
    row = cur.fetchone()
    backlog["oldest_key"] = row[0] if row else None
    return backlog


def _in_progress(cur: Cursor, probe: OwnerProbe) -> dict[str, Any]:
    cur.execute(q.IN_PROGRESS)
    files, _lease_expired = cur.fetchone()
    cur.execute(q.STATUS_OPEN_BATCHES, {"limit": 10_000})
    batches = [_open_batch(row, probe) for row in rows_as_dicts(cur)]
    by_status = {status: [b for b in batches if b["status"] == status] for status in ("running", "recoverable", "held")}
    recoverable = by_status["recoverable"]
    return {
        "files": files,
        **{f"{status}_files": sum(b["files"] for b in group) for status, group in by_status.items()},
        **{f"{status}_batches": len(group) for status, group in by_status.items()},
        "recoverable_bytes": sum(b["bytes"] for b in recoverable),
        "batches": batches[:SHOWN_BATCHES],
        # the names of earlier reports: what the next processor run takes over
        "stuck_files": sum(b["files"] for b in recoverable),
        "stuck_batches": recoverable[:SHOWN_BATCHES],
    }


def _open_batch(row: dict[str, Any], probe: OwnerProbe) -> dict[str, Any]:
    """One open batch of the report: its owner, lease, and ``status`` (running, recoverable, held) with ``why``."""
    owner = Owner(row["glue_job_run_id"], row["owner_host"], row["owner_pid"], row["owner_node"],
                  row["owner_glue_job"])
    batch = OpenBatch(row["batch_id"], owner, row["files"], row["lease_expired"], row["released"], row["held"],
                      row["recovery_attempts"], row["recovery_error"])
    verdict = recoverability(batch, probe)
    if row["held"]:
        status, why = "held", verdict.why
    elif row["released"]:
        status, why = "recoverable", f"handed back by its run: {row['release_reason']}"
    else:
        status, why = ("recoverable" if verdict.gone else "running"), verdict.why
    return {
        "batch_id": row["batch_id"], "glue_job_run_id": row["glue_job_run_id"], "owner": owner.describe(),
        "owner_host": row["owner_host"], "owner_pid": row["owner_pid"], "owner_glue_job": row["owner_glue_job"],
        "files": row["files"], "bytes": row["bytes"], "file_count": row["files"], "claimed_at": row["claimed_at"],
        "lease_expires_at": row["lease_expires_at"], "heartbeat_at": row["heartbeat_at"], "status": status,
        "why": why, "recovery_attempts": row["recovery_attempts"], "recovery_error": row["recovery_error"],
    }


def _batch_row(row: dict[str, Any]) -> dict[str, Any]:
    row["seconds"] = round(row["seconds"], 1)
    row["outcome"] = batch_outcome(row["state"], row["outcomes"])
    return row


def batch_outcome(state: str, outcomes: dict[str, int]) -> str:
    """One word per batch: ``running`` (still claimed), ``abandoned`` (its run died before staging was complete),
    ``ok`` (every file SUCCEEDED), else the non-succeeded counts, e.g. ``2 QUARANTINED, 1 FAILED``."""
    if state == BatchState.CLAIMED:
        return "running"
    if state == BatchState.ABANDONED:
        return "abandoned"
    problems = {k: v for k, v in outcomes.items() if k != FileState.SUCCEEDED and v}
    if not problems:
        return "ok"
    return ", ".join(f"{n} {k}" for k, n in sorted(problems.items(), key=lambda item: (-item[1], item[0])))


# --- text ----------------------------------------------------------------------------------------------------


def render_status(report: dict[str, Any]) -> str:
    """The report of :func:`build_status` as text for a terminal."""
    sections = [
        f"Tracking database status at {when(report['generated_at'])}",
        _render_states(report),
        _render_backlog(report),
        _render_throughput(report),
        _render_batches(report["recent_batches"], report["limits"]["recent_batches"]),
        render_spec_versions(report["spec_versions"]),
        _render_errors(report["top_errors"], _needing_attention(report)),
        render_discovery(report["discovery"]),
    ]
    return "\n\n".join(sections)


def _render_states(report: dict[str, Any]) -> str:
    rows = [(state, f"{v['files']:,}", human_bytes(v["bytes"])) for state, v in report["files_by_state"].items()]
    rows.append(("total", f"{report['total']['files']:,}", human_bytes(report["total"]["bytes"])))
    return "Files by state\n" + render_table(("state", "files", "bytes"), rows, right=(1, 2))


def _render_backlog(report: dict[str, Any]) -> str:
    b, p = report["backlog"], report["in_progress"]
    lines = [
        f"Backlog: {count_of(b['files'], 'file')} ({human_bytes(b['bytes'])}): {b['pending']:,} pending, "
        f"{b['failed']:,} failed awaiting retry ({b['failed_due_now']:,} due now"
        + (f", next retry {when(b['next_retry_at'])}" if b["next_retry_at"] else "") + ")"
        + (f", {b['recoverable']:,} in batches recoverable now" if b.get("recoverable") else ""),
    ]
    if b["files"]:
        lines.append(f"  oldest waiting {format_duration(b['oldest_age_seconds'])}: {b['oldest_key']}")
    lines.extend(_render_in_progress(p))
    return "\n".join(lines)


def _render_in_progress(p: dict[str, Any]) -> list[str]:
    """The in-progress line and one line per open batch (owner, lease, status and why)."""
    if not p["files"] and not p["batches"]:
        return ["In progress: 0 files"]
    open_batches = p["running_batches"] + p["recoverable_batches"] + p["held_batches"]
    lines = [f"In progress: {count_of(p['files'], 'file')} in {count_of(open_batches, 'batch', 'batches')}: "
             f"{p['running_files']:,} running, {p['recoverable_files']:,} recoverable now (taken over by the next "
             f"processor run), {p['held_files']:,} held for the operator"]
    for batch in p["batches"]:
        lease = f"lease until {when(batch['lease_expires_at'])}"
        if batch["status"] == "held":
            state = f"HELD: {shorten(batch['recovery_error'], 100)} (mldp recover {batch['batch_id'][:8]} --reason WHY)"
        else:
            state = f"{'recoverable now' if batch['status'] == 'recoverable' else 'running'}: {batch['why']}"
        lines.append(f"  batch {batch['batch_id']} of {batch['owner']}: {count_of(batch['files'], 'file')}, "
                     f"claimed {when(batch['claimed_at'])}, {lease}; {state}")
    if len(p["batches"]) < open_batches:
        lines.append(f"  ... and {open_batches - len(p['batches']):,} more")
    return lines


def _render_throughput(report: dict[str, Any]) -> str:
    rows = [
        (name.replace("_", " "), f"{w['files']:,}", f"{w['succeeded']:,}", f"{w['failed']:,}",
         f"{w['quarantined']:,}", human_bytes(w["bytes"]), f"{w['records_good']:,}", f"{w['records_bad']:,}")
        for name, w in report["throughput"].items()
    ]
    table = render_table(("window", "files", "succeeded", "failed", "quarantined", "bytes", "records good",
                          "records bad"), rows, right=range(1, 8))
    eta = report["eta"]
    if eta["seconds"] is None:
        drain = f"Time to drain: unknown ({eta['basis']})"
    elif eta["files_per_hour"] is None:
        drain = "Time to drain: 0s (backlog empty)"
    else:
        drain = (f"Time to drain: {format_duration(eta['seconds'])} at {eta['files_per_hour']:,.0f} files/h "
                 f"({eta['basis'].replace('_', ' ')})")
    return "Throughput (outcomes recorded)\n" + table + "\n" + drain


def _render_batches(batches: list[dict[str, Any]], limit: int) -> str:
    if not batches:
        return "Last batches: not shown (--batches 0)" if limit == 0 else "Last batches: none yet"
    rows = [
        (b["batch_id"][:8], shorten(b["glue_job_run_id"], 24), when(b["claimed_at"]), b["file_count"],
         "-" if b["records_good"] is None else f"{b['records_good']:,}",
         "-" if b["records_bad"] is None else f"{b['records_bad']:,}", format_duration(b["seconds"]), b["outcome"])
        for b in batches
    ]
    return (f"Last {len(batches)} batches\n"
            + render_table(("batch", "job run", "claimed", "files", "good", "bad", "duration", "outcome"), rows,
                           right=(3, 4, 5, 6)))


def _needing_attention(report: dict[str, Any]) -> int:
    """Files FAILED or QUARANTINED now (the files the error list groups)."""
    return sum(report["files_by_state"][state.value]["files"] for state in (FileState.FAILED, FileState.QUARANTINED))


def _render_errors(errors: list[dict[str, Any]], needing_attention: int) -> str:
    if not errors and needing_attention:  # the list groups every such file: it is empty only with --errors 0
        return (f"Errors: not shown (--errors 0); {count_of(needing_attention, 'file')} FAILED or QUARANTINED "
                "(mldp status --errors 10 lists the most frequent errors)")
    if not errors:
        return "Errors: no file is FAILED or QUARANTINED"
    rows = [(e["files"], "/".join(e["states"]), shorten(e["pattern"], 90)) for e in errors]
    return ("Most frequent errors (FAILED and QUARANTINED files; numbers shown as N)\n"
            + render_table(("files", "state", "error"), rows, right=(0,))
            + "\n  (mldp requeue --error-contains TEXT --reason WHY --dry-run  shows what a requeue would change)")
