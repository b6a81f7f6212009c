"""The summary of a processor run (``mldp process --json``, and the ``processing`` part of ``mldp demo``): its
batches' reports (:class:`runtime.jobs.batch.BatchReport`) added up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def summarize(reports: Sequence[Any], seconds: float) -> dict:
    """The ``--json`` document of a processor run: files by state, records, bytes and partitions of ``reports``,
    the batches recovered and abandoned, and the run's ``seconds``."""
    files: dict[str, int] = {}
    for report in reports:
        for state, count in report.files.items():
            files[state] = files.get(state, 0) + count
    partitions = sorted({p for r in reports for p in r.partitions})
    return {
        "batches": len(reports),
        "files": files,
        "records_good": sum(r.records_good for r in reports),
        "records_bad": sum(r.records_bad for r in reports),
        "records_rescued": sum(getattr(r, "records_rescued", 0) for r in reports),
        "bytes": sum(r.bytes for r in reports),
        "partitions_written": len(partitions),
        "recovered_batches": sum(1 for r in reports if r.recovered),
        "abandoned_batches": sum(1 for r in reports if r.abandoned),
        "seconds": round(seconds, 3),
    }
