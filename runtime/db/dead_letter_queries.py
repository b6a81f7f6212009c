"""The SQL that finds the dead letters a file's latest conversion replaces (docs/iceberg.md "Reprocessing",
docs/guarantees.md), from the file's history: every outcome a batch records keeps the dead-letter folder it published
(``file_processing_history.dead_letter_path``). Reached through
:meth:`runtime.db.tracking.TrackingStore.replaced_dead_letters`."""

from __future__ import annotations

#: For each file ``batch_id`` recorded an outcome for (its OUTCOME history row) that replaces the file's earlier
#: conversions, the dead-letter folders those earlier conversions of the same version published: history rows of the
#: file recorded before that outcome, of another batch, with another folder. An outcome replaces them when it is
#: SUCCEEDED (its rows and its own dead letters hold every record), or QUARANTINED with its own dead letters while no
#: earlier conversion of that version SUCCEEDED (no rows anywhere, so its dead letters are all there is: a file
#: re-queued by ``mldp requeue`` that is QUARANTINED again). Never the folder of that outcome itself, nor any recorded
#: after it (a later conversion's), nor one of another version (other content); nothing for a batch that recorded no
#: outcome (abandoned, or not yet committed), nor for a QUARANTINED reprocess (the file keeps its old rows, so the old
#: dead letters that go with them).
#:
#: And for each file ``batch_id`` recorded a final outcome (SUCCEEDED or QUARANTINED) of a newer version for: every
#: older version's folders but one. An older version's own conversions leave one folder each time it SUCCEEDS, but a
#: QUARANTINED reprocess publishes its folder beside the older one (the file keeps its rows: see above); once a newer
#: version has taken the key, the older version never succeeds again, and its records would stay in the prefix twice
#: for good. The folder that stays is the one of its last SUCCEEDED conversion, which goes with its rows (a newer
#: version QUARANTINED for running out of attempts does not retract them), none if that one had no bad record; for a
#: version that never SUCCEEDED (no rows), that of its last QUARANTINED conversion; every folder for a version with
#: neither (the newer version keeps its older version's bad records: other bytes).
#: Served by ``idx_history_batch`` and ``idx_history_file``.
REPLACED_DEAD_LETTERS = """
SELECT file_id, dead_letter_path FROM (
SELECT earlier.file_id, earlier.dead_letter_path
FROM file_processing_history AS latest
JOIN file_processing_history AS earlier
    ON earlier.file_id = latest.file_id
    AND earlier.history_id < latest.history_id
    AND earlier.version IS NOT DISTINCT FROM latest.version
WHERE latest.batch_id = %(batch_id)s
    AND latest.event = 'OUTCOME'
    AND (latest.processing_status = 'SUCCEEDED'
         OR (latest.processing_status = 'QUARANTINED' AND latest.dead_letter_path IS NOT NULL
             AND NOT EXISTS (
                 SELECT 1 FROM file_processing_history AS with_rows
                 WHERE with_rows.file_id = latest.file_id
                     AND with_rows.history_id < latest.history_id
                     AND with_rows.version IS NOT DISTINCT FROM latest.version
                     AND with_rows.event = 'OUTCOME'
                     AND with_rows.processing_status = 'SUCCEEDED')))
    AND earlier.dead_letter_path IS NOT NULL
    AND earlier.batch_id IS DISTINCT FROM latest.batch_id
    AND earlier.dead_letter_path IS DISTINCT FROM latest.dead_letter_path
UNION
SELECT older.file_id, older.dead_letter_path
FROM file_processing_history AS latest
JOIN file_processing_history AS older
    ON older.file_id = latest.file_id
    AND older.history_id < latest.history_id
    AND older.version < latest.version
-- the folder the older version keeps: its last SUCCEEDED conversion's (none: nothing kept), which goes with its rows
-- (a newer version QUARANTINED for running out of attempts does not retract them); for a version that never
-- SUCCEEDED, its last QUARANTINED one's; no such outcome: no row, every folder stays
JOIN LATERAL (
    SELECT kept.dead_letter_path FROM file_processing_history AS kept
    WHERE kept.file_id = older.file_id
        AND kept.version = older.version
        AND kept.history_id < latest.history_id
        AND kept.event = 'OUTCOME'
        AND (kept.processing_status = 'SUCCEEDED'
             OR (kept.processing_status = 'QUARANTINED' AND kept.dead_letter_path IS NOT NULL))
    ORDER BY kept.processing_status = 'SUCCEEDED' DESC, kept.history_id DESC
    LIMIT 1) AS kept ON TRUE
WHERE latest.batch_id = %(batch_id)s
    AND latest.event = 'OUTCOME'
    AND latest.processing_status IN ('SUCCEEDED', 'QUARANTINED')
    AND older.dead_letter_path IS NOT NULL
    AND older.dead_letter_path IS DISTINCT FROM latest.dead_letter_path
    AND older.dead_letter_path IS DISTINCT FROM kept.dead_letter_path
) AS replaced
ORDER BY file_id, dead_letter_path
"""
