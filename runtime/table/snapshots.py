"""Pinned training snapshots: a tag names one snapshot of the table, so that the exact rows a model was trained on
can be read again later (``mldp snapshot create|list|show``; docs/iceberg.md, "Pinning a training set"), and which
snapshot first holds a raw file's records (``mldp inspect``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platform_contract.table import BATCH_ID_PROPERTY
from runtime.errors import UsageError
from runtime.table.view import reading_guide, when

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from runtime.table.commit import IcebergTable

#: Milliseconds in a day (a tag's ``max-ref-age-ms``).
DAY_MS = 86_400_000


def _tags(table: Table) -> dict[str, Any]:
    return {name: ref for name, ref in table.metadata.refs.items() if ref.snapshot_ref_type == "tag"}


def ancestry(table: Table, snapshot_id: int) -> list[Snapshot]:
    """The snapshot and its ancestors, newest first."""
    found, current = [], table.snapshot_by_id(snapshot_id)
    while current is not None:
        found.append(current)
        current = table.snapshot_by_id(current.parent_snapshot_id) if current.parent_snapshot_id else None
    return found


def batches_in(table: Table, snapshot_id: int) -> list[str]:
    """The batch ids committed up to ``snapshot_id`` (its ancestry), oldest first."""
    ids: list[str] = []
    for snapshot in reversed(ancestry(table, snapshot_id)):
        batch = snapshot.summary.additional_properties.get(BATCH_ID_PROPERTY) if snapshot.summary else None
        if batch and batch not in ids:
            ids.append(batch)
    return ids


def create_tag(iceberg: IcebergTable, name: str, retain_days: int | None = None) -> dict[str, Any]:
    """Tag the table's current snapshot as ``name`` (kept ``retain_days`` days, else for good); a name in use is
    refused (:class:`UsageError`: a tag is never moved)."""
    table = iceberg.load()
    if table is None or table.current_snapshot() is None:
        raise UsageError(f"the Iceberg table {iceberg.location.name} has no snapshot to pin yet")
    if name in table.metadata.refs:
        raise UsageError(f"a tag or branch named {name!r} exists already (snapshot "
                         f"{table.metadata.refs[name].snapshot_id}): choose another name; a tag is never moved")
    snapshot_id = table.current_snapshot().snapshot_id
    max_age = retain_days * DAY_MS if retain_days else None
    table.manage_snapshots().create_tag(snapshot_id, name, max_ref_age_ms=max_age).commit()
    return describe_tag(iceberg.load(), name)


def describe_tag(table: Table, name: str) -> dict[str, Any]:
    """One tag: name, snapshot id, time, rows, data files, the batches it includes, its retention."""
    ref = _tags(table).get(name)
    if ref is None:
        raise UsageError(f"no tag {name!r} on the table (mldp snapshot list shows the tags)")
    snapshot = table.snapshot_by_id(ref.snapshot_id)
    props = snapshot.summary.additional_properties if snapshot is not None and snapshot.summary else {}
    batches = batches_in(table, ref.snapshot_id)
    return {"name": name, "snapshot_id": ref.snapshot_id, "time": when(snapshot.timestamp_ms if snapshot else None),
            "rows": int(props.get("total-records", 0)), "files": int(props.get("total-data-files", 0)),
            "batches": len(batches), "batch_ids": batches,
            "retain_days": ref.max_ref_age_ms // DAY_MS if ref.max_ref_age_ms else None}


def list_tags(iceberg: IcebergTable) -> list[dict[str, Any]]:
    """Every tag of the table, oldest snapshot first."""
    table = iceberg.load()
    if table is None:
        return []
    return sorted((describe_tag(table, name) for name in _tags(table)), key=lambda t: (t["time"] or "", t["name"]))


def show_tag(iceberg: IcebergTable, name: str) -> dict[str, Any]:
    """The tag and how to read exactly its data (pyiceberg, Spark on Glue, Athena, DuckDB)."""
    table = iceberg.load()
    tag = describe_tag(table, name)
    return {**tag, "read": reading_guide(iceberg.location, tag["snapshot_id"], name, table.metadata_location)}


def first_snapshots(iceberg: IcebergTable, batch_ids: list[str]) -> list[dict[str, Any]]:
    """For each batch id, the first snapshot that holds its rows (``None``: not in the table's history)."""
    table = iceberg.load()
    found: dict[str, Any] = {}
    for snapshot in sorted(table.metadata.snapshots, key=lambda s: s.sequence_number or 0) if table else []:
        batch = snapshot.summary.additional_properties.get(BATCH_ID_PROPERTY) if snapshot.summary else None
        if batch in batch_ids and batch not in found and snapshot.summary.operation.value == "append":
            found[batch] = {"batch_id": batch, "snapshot_id": snapshot.snapshot_id, "at": when(snapshot.timestamp_ms)}
    return [found.get(b, {"batch_id": b, "snapshot_id": None, "at": None}) for b in batch_ids]
