"""The SQL that finds the dead letters a reprocessed file's latest conversion replaces (``mldp reprocess``,
docs/iceberg.md "Reprocessing"), from the file's history: every outcome a batch records keeps the dead-letter folder
it published (``file_processing_history.dead_letter_path``). Reached through
:meth:`runtime.db.tracking.TrackingStore.replaced_dead_letters`."""

from __future__ import annotations

#: For each of ``file_ids`` that ``batch_id`` recorded SUCCEEDED (its OUTCOME history row), the dead-letter folders
#: its earlier conversions of the same version published: history rows of the file recorded before that outcome,
#: of another batch, with another folder. Never the folder of that outcome itself, nor any recorded after it (a
#: later conversion's), nor one of another version (other content); nothing for a file the batch did not record
#: SUCCEEDED (a batch abandoned or not yet committed, a file that failed: it keeps its old rows and dead letters).
#: Served by ``idx_history_batch`` and ``idx_history_file``.
REPLACED_DEAD_LETTERS = """
SELECT DISTINCT earlier.file_id, earlier.dead_letter_path
FROM file_processing_history AS latest
JOIN file_processing_history AS earlier
    ON earlier.file_id = latest.file_id
    AND earlier.history_id < latest.history_id
    AND earlier.version IS NOT DISTINCT FROM latest.version
WHERE latest.batch_id = %(batch_id)s
    AND latest.file_id = ANY(%(file_ids)s::bigint[])
    AND latest.event = 'OUTCOME'
    AND latest.processing_status = 'SUCCEEDED'
    AND earlier.dead_letter_path IS NOT NULL
    AND earlier.batch_id IS DISTINCT FROM latest.batch_id
    AND earlier.dead_letter_path IS DISTINCT FROM latest.dead_letter_path
ORDER BY earlier.file_id, earlier.dead_letter_path
"""
