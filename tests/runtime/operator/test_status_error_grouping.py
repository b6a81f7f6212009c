"""``mldp status`` groups errors with numbers and long hexadecimal ids replaced by ``N`` (README), without
mangling names that contain digits (``Py4JJavaError`` stays, not ``PyNJJavaError``)."""

from __future__ import annotations

from runtime.db import operator_queries


def test_numbers_and_long_hex_ids_become_n_and_names_stay(db_conn):
    errors = [
        "no good record: all 5 records malformed or invalid",
        "no good record: all 17 records malformed or invalid",
        "batch conversion failed: Py4JJavaError: Job aborted (TID 17) in 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "batch conversion failed: Py4JJavaError: Job aborted (TID 3) in 2c26b46b68ffc68ff99b453c1d30413413422d70",
    ]
    with db_conn.cursor() as cur:
        for i, error in enumerate(errors):
            cur.execute("INSERT INTO file_processing_status (s3_key, processing_status, error_message) "
                        "VALUES (%s, 'QUARANTINED', %s)", (f"raw-json-data/x/{i}.json", error))
        cur.execute(operator_queries.TOP_ERRORS, {"limit": 10})
        groups = {pattern: files for pattern, files, _states, _key in cur.fetchall()}
    db_conn.rollback()
    assert groups == {
        "no good record: all N records malformed or invalid": 2,
        "batch conversion failed: Py4JJavaError: Job aborted (TID N) in N": 2,
    }
