"""``mldp reprocess``: convert SUCCEEDED raw files again with the current spec, from their archived copies under
``raw-json-data-processed/`` (nothing is uploaded again), replacing their rows.

What is built here: the selection (``--spec-version``, ``--since``/``--until`` on the last outcome, ``--key``,
``--prefix``, ``--all``), the check that each selected file's archived copy is there (a file whose copy is missing
is reported and never re-read), and the decision per table format:

* **Parquet** refuses: a batch writes one Parquet file per partition holding the rows of all its files, so the rows
  of one raw file cannot be removed without rewriting other files' rows; readers would see the old and the new rows
  of a reprocessed file side by side. The message names the format that can: ``--table-format iceberg``.
* **Iceberg**: :func:`requeue_for_reprocess` moves the planned files back to PENDING in one transaction (still
  SUCCEEDED with the archived copy the plan checked; a ``REPROCESS`` history row each, with actor and reason),
  their ``archived_key`` kept: the processor reads that copy (:attr:`runtime.db.records.ClaimedFile.read_key`),
  never archives the file again, and its Iceberg commit deletes the file's rows of the same ``source_version`` and
  lower in the transaction that adds the new ones (:func:`runtime.table.commit.retraction_filter`), exactly once
  under crashes (the batch id in the snapshot history). A processor without an Iceberg table holds such a file
  uncharged instead of reading it (:data:`runtime.jobs.batch.REPROCESS_NEEDS_ICEBERG`). docs/iceberg.md,
  "Reprocessing", argues the design.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from platform_contract.table import PARQUET, TABLE_FORMATS
from runtime.db.operator_queries import REPROCESS, REPROCESS_CANDIDATES
from runtime.errors import MldpError, UsageError
from runtime.operator.requeue import default_actor
from runtime.storage.base import ObjectStore


class ReprocessRefused(MldpError):
    """``mldp reprocess`` cannot replace the rows of the selected files exactly with this table format."""


@dataclass(frozen=True)
class ReprocessSelection:
    """Which SUCCEEDED files to convert again; ``all_files`` must be set when no filter is (no accidental all)."""

    spec_version: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    keys: tuple[str, ...] | None = None
    prefix: str | None = None
    all_files: bool = False

    def __post_init__(self) -> None:
        filters = (self.spec_version, self.since, self.until, self.keys, self.prefix)
        if self.all_files == any(item is not None for item in filters):
            raise UsageError("give --all, or at least one of --spec-version, --since, --until, --key, --prefix "
                             "(not both)")


@dataclass
class ReprocessPlan:
    """The selected files: those whose archived copy is there, and those reported instead (never re-read)."""

    ready: list[dict[str, Any]] = field(default_factory=list)
    missing_archive: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"ready": self.ready, "missing_archive": self.missing_archive}


def plan_reprocess(conn: Any, selection: ReprocessSelection, store: ObjectStore | None) -> ReprocessPlan:
    """The files ``selection`` names, split by whether their archived copy exists in ``store`` (``None``: the
    archived key recorded is trusted to exist; a file never archived is missing)."""
    with conn.cursor() as cur:
        cur.execute(REPROCESS_CANDIDATES, {
            "spec_version": selection.spec_version, "since": selection.since, "until": selection.until,
            "keys": list(selection.keys) if selection.keys is not None else None, "prefix": selection.prefix})
        rows = [dict(zip(("file_id", "key", "archived_key", "spec_version", "version", "processed_at"), row,
                         strict=True)) for row in cur.fetchall()]
    conn.commit()
    plan = ReprocessPlan()
    for row in rows:
        present = row["archived_key"] is not None and (store is None or store.exists(row["archived_key"]))
        (plan.ready if present else plan.missing_archive).append(row)
    return plan


def requeue_for_reprocess(conn: Any, plan: ReprocessPlan, table_format: str, reason: str,
                          actor: str | None = None) -> int:
    """Move the ready files of ``plan`` back to the queue, to be read from their archived copies (see the module
    docstring), in one transaction; how many moved (a file whose state or archived copy changed since the plan is
    left as it is). Raises :class:`ReprocessRefused` where the format cannot replace their rows exactly."""
    if table_format not in TABLE_FORMATS:
        raise UsageError(f"--table-format: {table_format!r} is not one of {', '.join(TABLE_FORMATS)}")
    if table_format == PARQUET:
        raise ReprocessRefused(
            f"reprocess refused for {len(plan.ready)} file(s): with the Parquet table format a file's rows share "
            "Parquet files with other files' rows and cannot be replaced exactly (old and new rows would both be "
            "read); use --table-format iceberg, whose commit retracts the rows of the older source_version of the "
            "same key in the commit that adds the new ones")
    if not reason or not reason.strip():
        raise UsageError("--reason is required: say why these files are converted again")
    if not plan.ready:
        return 0
    params = {"file_ids": [row["file_id"] for row in plan.ready],
              "archived_keys": [row["archived_key"] for row in plan.ready],
              "actor": actor or default_actor(), "reason": reason.strip()}
    try:
        with conn.cursor() as cur:
            cur.execute(REPROCESS, params)
            count, _keys = cur.fetchone()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return int(count)


def render_plan(plan: ReprocessPlan) -> str:
    """The plan as text."""
    lines = [f"{len(plan.ready)} SUCCEEDED file(s) selected with their archived copy"]
    lines += [f"  {row['key']}  (spec version {row['spec_version'] or '-'}, archived as {row['archived_key']})"
              for row in plan.ready[:20]]
    if len(plan.ready) > 20:
        lines.append(f"  ... and {len(plan.ready) - 20} more")
    if plan.missing_archive:
        lines.append(f"{len(plan.missing_archive)} file(s) NOT reprocessed: their archived copy is missing "
                     "(never re-read from elsewhere)")
        lines += [f"  {row['key']}  (archived key {row['archived_key'] or 'none recorded'})"
                  for row in plan.missing_archive[:20]]
    return "\n".join(lines)
