"""``mldp reprocess`` (issue 20): the selection of SUCCEEDED files, the archived copies checked (a missing one is
reported, never re-read), the Parquet format refused with a message naming the Iceberg format."""

from __future__ import annotations

import pytest

from runtime.cli import main
from runtime.errors import UsageError
from runtime.operator.reprocess import (
    ReprocessRefused,
    ReprocessSelection,
    plan_reprocess,
    requeue_for_reprocess,
)
from runtime.storage.local import LocalStore
from tests.support.iceberg import iceberg_table, write_file


def tracked(conn, key: str, state: str, version: str | None, archived: str | None) -> None:
    with conn.cursor() as cur:
        cur.execute("INSERT INTO file_processing_status (s3_key, processing_status, spec_version, archived_key, "
                    "processed_at) VALUES (%s, %s, %s, %s, now())", (key, state, version, archived))
    conn.commit()


def test_the_selection_reports_files_whose_archived_copy_is_missing(db_conn, tmp_path):
    store = LocalStore(tmp_path)
    store.put_bytes("raw-json-data-processed/2024/week01/a.jsonl", b"{}\n")
    for name, state, version in (("a", "SUCCEEDED", "old"), ("b", "SUCCEEDED", "old"), ("c", "SUCCEEDED", "new"),
                                 ("d", "FAILED", "old")):
        tracked(db_conn, f"raw-json-data/2024/week01/{name}.jsonl", state, version,
                f"raw-json-data-processed/2024/week01/{name}.jsonl")
    plan = plan_reprocess(db_conn, ReprocessSelection(spec_version="old"), store)
    assert [row["key"] for row in plan.ready] == ["raw-json-data/2024/week01/a.jsonl"]
    assert [row["key"] for row in plan.missing_archive] == ["raw-json-data/2024/week01/b.jsonl"]
    everything = plan_reprocess(db_conn, ReprocessSelection(prefix="raw-json-data/2024/"), None)
    assert len(everything.ready) == 3
    with pytest.raises(ReprocessRefused, match="use --table-format iceberg"):
        requeue_for_reprocess(db_conn, plan, "parquet", "spec v2")
    assert requeue_for_reprocess(db_conn, plan, "iceberg", "spec v2", actor="alice") == 1
    with db_conn.cursor() as cur:
        cur.execute("SELECT s3_key, processing_status, archived_key IS NOT NULL FROM file_processing_status "
                    "ORDER BY s3_key")
        assert [(k.rsplit("/", 1)[1], s, a) for k, s, a in cur.fetchall()] == [
            ("a.jsonl", "PENDING", True), ("b.jsonl", "SUCCEEDED", True), ("c.jsonl", "SUCCEEDED", True),
            ("d.jsonl", "FAILED", True)]
        cur.execute("SELECT event, processing_status, actor, reason FROM file_processing_history")
        assert cur.fetchall() == [("REPROCESS", "SUCCEEDED", "alice", "spec v2")]
    db_conn.commit()
    assert requeue_for_reprocess(db_conn, plan, "iceberg", "again") == 0  # no longer SUCCEEDED: left as it is


def test_a_file_whose_archived_copy_changed_since_the_plan_is_left_as_it_is(db_conn, tmp_path):
    tracked(db_conn, "raw-json-data/x.jsonl", "SUCCEEDED", "v1", "raw-json-data-processed/x.jsonl")
    plan = plan_reprocess(db_conn, ReprocessSelection(all_files=True), None)
    with db_conn.cursor() as cur:  # a new version was processed and archived meanwhile
        cur.execute("UPDATE file_processing_status SET archived_key = 'raw-json-data-processed/_versions/v2/x.jsonl'")
    db_conn.commit()
    assert requeue_for_reprocess(db_conn, plan, "iceberg", "spec v2") == 0
    with pytest.raises(UsageError, match="--reason"):
        requeue_for_reprocess(db_conn, plan, "iceberg", " ")


def test_a_selection_needs_a_filter_or_all():
    with pytest.raises(UsageError, match="give --all"):
        ReprocessSelection()
    with pytest.raises(UsageError, match="not both"):
        ReprocessSelection(prefix="x", all_files=True)


def test_the_command_refuses_parquet_with_the_selection_shown(db_conn, capsys):
    tracked(db_conn, "raw-json-data/x.jsonl", "SUCCEEDED", "v1", "raw-json-data-processed/x.jsonl")
    dsn = db_conn.dsn
    assert main(["reprocess", "--all", "--db", dsn]) == 1
    out, err = capsys.readouterr()
    assert "1 SUCCEEDED file(s) selected" in out and "use --table-format iceberg" in err


def iceberg_table_exists(tmp_path, db_url: str) -> None:
    """Create the local Iceberg table of the tracking database at ``db_url`` (one staged file's schema)."""
    (tmp_path / "store").mkdir()
    store = LocalStore(tmp_path / "store")
    table = iceberg_table(store, db_url)
    write_file(store, "staged/0.parquet", "s3://b/0.jsonl", 1, ["a"])
    table.data_key_prefix(store, "staged/0.parquet")


def test_the_command_requeues_with_the_iceberg_format_and_records_who_and_why(db_conn, db_url, tmp_path, capsys,
                                                                              monkeypatch):
    tracked(db_conn, "raw-json-data/x.jsonl", "SUCCEEDED", "v1", "raw-json-data-processed/x.jsonl")
    iceberg_table_exists(tmp_path, db_url)
    monkeypatch.setenv("MLDP_ACTOR", "bob")
    assert main(["reprocess", "--all", "--db", db_url, "--table-format", "iceberg", "--reason", "spec v2"]) == 0
    out, _err = capsys.readouterr()
    assert "re-queued 1 file(s)" in out and "mldp process --table-format iceberg" in out
    with db_conn.cursor() as cur:
        cur.execute("SELECT f.processing_status, h.event, h.actor, h.reason FROM file_processing_status AS f "
                    "JOIN file_processing_history AS h USING (file_id)")
        assert cur.fetchall() == [("PENDING", "REPROCESS", "bob", "spec v2")]
    db_conn.commit()


def test_the_command_moves_nothing_when_the_iceberg_table_does_not_exist(db_conn, db_url, capsys):
    """Re-queued for a table that is not there, the files would be held by every processor run: the command stops
    first, saying which table it looked for and how to make one."""
    tracked(db_conn, "raw-json-data/x.jsonl", "SUCCEEDED", "v1", "raw-json-data-processed/x.jsonl")
    assert main(["reprocess", "--all", "--db", db_url, "--table-format", "iceberg", "--reason", "spec v2"]) == 2
    _out, err = capsys.readouterr()
    assert "no Iceberg table" in err and "--table-format iceberg" in err
    with db_conn.cursor() as cur:
        cur.execute("SELECT processing_status FROM file_processing_status")
        assert cur.fetchall() == [("SUCCEEDED",)]
        cur.execute("SELECT count(*) FROM file_processing_history")
        assert cur.fetchone() == (0,)
    db_conn.commit()
    assert main(["reprocess", "--all", "--db", db_url, "--table-format", "iceberg", "--dry-run"]) == 0  # a look is fine
