"""The SQL of registration beyond the bulk statement (:data:`runtime.db.queries.REGISTER_INCOMING`): the listed
versions a ``HeadObject`` confirmed as current although they look older than the registered one. Run by
:func:`runtime.db.registration.register_page`."""

from __future__ import annotations

from runtime.db.queries import NEXT_VERSION

#: Register the listed versions a HEAD confirmed as the current objects of their keys although they were listed
#: with an earlier last-modified time than the registered version (``unconfirmed`` in
#: :data:`runtime.db.queries.REGISTER_INCOMING`: S3 gives an object written by a multipart upload the time the upload
#: started, so one completed after a later single PUT looks older than the version it replaced). Only over the row
#: as it was classified (its ETag unchanged since), never over a PROCESSING or locked row (``deferred``, as there).
#: The row keeps the later of the two last-modified times, so a listing or an inventory report that still shows the
#: replaced version (with that version's time, and an ETag now in the history) is ``stale``, never a rollback.
REGISTER_CONFIRMED = f"""
WITH confirmed AS (
    SELECT * FROM unnest(%(keys)s::text[], %(sizes)s::bigint[], %(epochs)s::float8[], %(etags)s::text[],
                         %(registered)s::text[]) AS u(s3_key, size, epoch, etag, registered_etag)
), locked AS (
    SELECT f.file_id, c.size, to_timestamp(c.epoch) AS last_modified, c.etag
    FROM confirmed AS c
    JOIN file_processing_status AS f ON f.s3_key = c.s3_key
    WHERE f.processing_status <> 'PROCESSING' AND f.etag IS NOT DISTINCT FROM c.registered_etag
        AND f.etag IS DISTINCT FROM c.etag
    ORDER BY f.file_id
    FOR UPDATE OF f SKIP LOCKED
)
UPDATE file_processing_status AS f SET
    file_size_bytes = l.size,
    last_modified_timestamp = greatest(f.last_modified_timestamp, l.last_modified),
    etag = l.etag,{NEXT_VERSION}
FROM locked AS l
WHERE f.file_id = l.file_id
RETURNING f.file_id
"""
