"""``mldp inspect KEY``: the whole life of one raw file (versions, attempts, batches, job runs, errors, dead
letters, archive, and the curated Parquet files that hold its rows), as data (:func:`inspect_file`) and as text
(:func:`render_inspection`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.db import operator_queries as q
from runtime.db.states import FileState
from runtime.errors import MldpError
from runtime.layout import Layout
from runtime.operator.formatting import human_bytes, jsonable, render_table, rows_as_dicts, shorten, when

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

    from runtime.storage.base import ObjectStore


class UnknownFile(MldpError, LookupError):
    """No tracked file has the key the operator gave (``mldp inspect`` prints it with the database it searched and
    exits 1)."""


def normalize_key(key: str) -> str:
    """The tracking key of ``key``: an ``s3://bucket/`` prefix and a leading ``/`` are dropped."""
    if key.startswith("s3://"):
        key = key[len("s3://"):].partition("/")[2]
    return key.lstrip("/")


def curated_name_pattern(layout: Layout, batch_id: str) -> str:
    """Where the curated Parquet files of a batch are: publishing names them after the batch."""
    return f"{layout.curated_prefix}year=*/month=*/day=*/mode=*/batch-{batch_id}-*.snappy.parquet"


def inspect_file(conn: Connection, key: str, store: ObjectStore | None = None, layout: Layout | None = None,
                 curated_under: str = "") -> dict:
    """Everything the tracking database knows about the file ``key`` (its raw key, ``s3://`` URL or archived key).

    The curated Parquet files are those of the batches that recorded the file SUCCEEDED (they hold its rows,
    next to the rows of the other files of the same batches). With ``store`` they are listed under the curated
    prefix (narrowed by ``curated_under``, e.g. ``year=2024/``); without it, the report gives the batch ids and
    the name pattern. Raises :class:`UnknownFile` when the key is not tracked.
    """
    layout = layout or Layout()
    wanted = normalize_key(key)
    with conn.cursor() as cur:
        cur.execute(q.FILE_BY_KEY, {"key": wanted})
        found = rows_as_dicts(cur)
        if not found:
            cur.execute(q.FILE_BY_ARCHIVED_KEY, {"key": wanted})
            found = rows_as_dicts(cur)
        if not found:
            conn.commit()
            raise UnknownFile(f"no tracked file has the key {wanted!r} (give the key relative to the bucket, e.g. "
                              "raw-json-data/2024/week01/part-0001.jsonl, or its s3:// URL)")
        file = found[0]
        cur.execute(q.FILE_HISTORY, {"file_id": file["file_id"]})
        history = rows_as_dicts(cur)
        cur.execute(q.FILE_BATCHES, {"file_id": file["file_id"]})
        batches = rows_as_dicts(cur)
    conn.commit()
    file, history, batches = jsonable(file), jsonable(history), jsonable(batches)
    succeeded = _succeeded_batches(history)
    return {
        "file": file,
        "versions": _versions(file, history),
        "attempts": _attempts(history),
        "history": history,
        "batches": batches,
        "job_runs": sorted({r for r in [file["glue_job_run_id"]] + [b["glue_job_run_id"] for b in batches]
                            + [h["glue_job_run_id"] for h in history] if r}),
        "errors": [{"recorded_at": h["recorded_at"], "version": h["version"], "attempt": h["retry_count"],
                    "state": h["processing_status"], "error": h["error_message"]}
                   for h in history if h["event"] == "OUTCOME" and h["error_message"]],
        "dead_letter_paths": _unique([h["dead_letter_path"] for h in history] + [file["dead_letter_path"]]),
        "archived_key": file["archived_key"],
        "curated": _curated(store, layout, succeeded, curated_under),
    }


def _versions(file: dict, history: list[dict]) -> list[dict]:
    """Each version (ETag) of the file, oldest first, with the last state it reached."""
    versions: dict[int, dict] = {}
    for row in history:
        if row["version"] is not None:
            versions[row["version"]] = {"version": row["version"], "etag": row["etag"],
                                        "last_state": row["processing_status"], "last_change": row["recorded_at"]}
    versions[file["version"]] = {"version": file["version"], "etag": file["etag"],
                                 "last_state": file["processing_status"], "last_change": file["updated_at"],
                                 "current": True}
    return [versions[v] for v in sorted(versions)]


def _attempts(history: list[dict]) -> list[dict]:
    """Each processing attempt (an OUTCOME event): when, which batch and run, its attempt number and result."""
    return [{"recorded_at": h["recorded_at"], "version": h["version"], "attempt": h["retry_count"],
             "batch_id": h["batch_id"], "glue_job_run_id": h["glue_job_run_id"], "state": h["processing_status"],
             "records_good": h["records_good"], "records_bad": h["records_bad"], "error": h["error_message"]}
            for h in history if h["event"] == "OUTCOME"]


def _succeeded_batches(history: list[dict]) -> list[str]:
    return _unique([h["batch_id"] for h in history
                    if h["event"] == "OUTCOME" and h["processing_status"] == FileState.SUCCEEDED])


def _unique(values: list) -> list:
    seen: list = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen


def _curated(store: ObjectStore | None, layout: Layout, batch_ids: list[str], curated_under: str) -> dict:
    result: dict[str, Any] = {"batch_ids": batch_ids,
                              "patterns": [curated_name_pattern(layout, b) for b in batch_ids], "files": None}
    if store is None or not batch_ids:
        return result
    prefixes = {b: f"batch-{b}-" for b in batch_ids}
    files = []
    for obj in store.list(layout.curated_prefix + curated_under.lstrip("/")):
        name = obj.key.rsplit("/", 1)[-1]
        for batch_id, prefix in prefixes.items():
            if name.startswith(prefix):
                files.append({"key": obj.key, "batch_id": batch_id, "size": obj.size})
    result["files"] = files
    return result


# --- text ----------------------------------------------------------------------------------------------------


def render_inspection(report: dict, max_curated: int = 10) -> str:
    """The report of :func:`inspect_file` as text for a terminal (at most ``max_curated`` curated files; the
    JSON report lists them all)."""
    f = report["file"]
    lines = [
        f"{f['s3_key']}  (file_id {f['file_id']})",
        f"  state         {f['processing_status']}"
        + (f": {f['error_message']}" if f["error_message"] else ""),
        f"  version       {f['version']}, ETag {f['etag']}, {human_bytes(f['file_size_bytes'])}, "
        f"last modified {when(f['last_modified_timestamp'])}",
        f"  attempts      {f['retry_count']} on this version; last batch {f['batch_id'] or '-'} "
        f"(run {f['glue_job_run_id'] or '-'}), processed {when(f['processed_at'])}",
        f"  records       {_count(f['records_good'])} good, {_count(f['records_bad'])} dead-lettered, "
        f"{_count(f.get('records_rescued'))} with rescued data (spec version {f.get('spec_version') or '-'})",
        f"  dead letters  {f['dead_letter_path'] or '-'}",
        f"  archived as   {f['archived_key'] or '-'}",
        f"  registered    {when(f['created_at'])}, updated {when(f['updated_at'])}",
    ]
    if f["processing_status"] == FileState.FAILED:
        lines.append(f"  next attempt  {when(f['next_attempt_at'])}")
    sections = ["\n".join(lines), _render_versions(report["versions"]), _render_history(report["history"]),
                _render_batches(report["batches"]), _render_curated(report["curated"], max_curated)]
    return "\n\n".join(sections)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _render_versions(versions: list[dict]) -> str:
    rows = [(v["version"], v["etag"] or "-", v["last_state"] or "-", when(v["last_change"]),
             "current" if v.get("current") else "") for v in versions]
    return "Versions\n" + render_table(("version", "etag", "last state", "last change", ""), rows, right=(0,))


def _render_history(history: list[dict]) -> str:
    if not history:
        return "History: no event yet (registered, never processed)"
    rows = [
        (when(h["recorded_at"]), h["event"], h["version"], h["processing_status"], h["retry_count"],
         (h["batch_id"] or "-")[:8], shorten(h["glue_job_run_id"], 20),
         "-" if h["records_good"] is None else f"{h['records_good']}/{h['records_bad']}",
         shorten(h["actor"], 16), shorten(h["reason"] or h["error_message"], 60))
        for h in history
    ]
    return ("History (REQUEUED/RELEASED/RETIRED/NEW_VERSION rows show the state before the change)\n"
            + render_table(("when", "event", "ver", "state", "attempt", "batch", "job run", "good/bad", "actor",
                            "reason / error"), rows, right=(2, 4)))


def _render_batches(batches: list[dict]) -> str:
    if not batches:
        return "Batches: none"
    rows = [(b["batch_id"], shorten(b["glue_job_run_id"], 24), b["state"], b["file_count"], when(b["claimed_at"]),
             when(b["finished_at"]), b.get("spec_version") or "-") for b in batches]
    return "Batches\n" + render_table(("batch", "job run", "state", "files", "claimed", "finished", "spec version"),
                                      rows, right=(3,))


def _render_curated(curated: dict, limit: int) -> str:
    if not curated["batch_ids"]:
        return "Curated Parquet: none (no batch recorded this file SUCCEEDED)"
    if curated["files"] is None:
        return ("Curated Parquet: the files of batches " + ", ".join(curated["batch_ids"])
                + " (give --store to list them):\n" + "\n".join("  " + p for p in curated["patterns"]))
    if not curated["files"]:
        return ("Curated Parquet: no file of batches " + ", ".join(curated["batch_ids"])
                + " under the curated prefix")
    files = curated["files"]
    rows = [(c["key"], human_bytes(c["size"])) for c in files[:limit]]
    more = f"\n  ... and {len(files) - limit} more (--json lists them all)" if len(files) > limit else ""
    return (f"Curated Parquet: {len(files)} files of the batches that recorded it SUCCEEDED (they also hold the "
            "rows of the other files of those batches)\n" + render_table(("key", "size"), rows, right=(1,)) + more)
