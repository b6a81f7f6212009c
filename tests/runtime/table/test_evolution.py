"""Schema evolution of the Iceberg table (:mod:`runtime.table.evolution`), without Spark: a new column is added
(old rows read null), a type Iceberg promotes is widened, a retype or a dropped column is refused before anything is
committed, at the manifest's step and in the commit, and ``_rescued_data`` may be absent."""

from __future__ import annotations

import pyarrow as pa
import pytest

from runtime.storage.local import LocalStore
from runtime.table.commit import BatchFiles
from runtime.table.evolution import TableSchemaRefused
from tests.runtime.table.test_commit import no_lock
from tests.support.iceberg import iceberg_table, table_rows, write_file


def with_score(store, name: str, scores: pa.Array | None, ids: list[str], **extra):
    columns = {} if scores is None else {"score": scores}
    return write_file(store, f"staged/{name}.parquet", f"s3://b/{name}.jsonl", 1, ids, extra={**columns, **extra})


@pytest.fixture
def table_with_score(tmp_path, db_url):
    store = LocalStore(tmp_path)
    first = with_score(store, "a", pa.array([1, 2], pa.int32()), ["1", "2"])
    table = iceberg_table(store, db_url)
    table.data_key_prefix(store, "staged/a.parquet")
    table.commit_batch(BatchFiles("b-1", [first]), no_lock)
    return store, table


def score_type(table) -> str:
    return str(table.load().schema().find_field("score").field_type)


def test_a_new_column_is_added_and_old_rows_read_null(table_with_score):
    store, table = table_with_score
    added = with_score(store, "n", pa.array([3], pa.int32()), ["3"], device=["cam-1"])
    table.commit_batch(BatchFiles("b-2", [added]), no_lock)
    arrow = table.load().scan().to_arrow()
    assert dict(zip(arrow["id"].to_pylist(), arrow["device"].to_pylist(), strict=True)) == \
        {"1": None, "2": None, "3": "cam-1"}


def test_a_type_iceberg_promotes_is_widened(table_with_score):
    store, table = table_with_score
    wider = with_score(store, "w", pa.array([2**40], pa.int64()), ["3"])
    table.data_key_prefix(store, "staged/w.parquet")
    table.commit_batch(BatchFiles("b-2", [wider]), no_lock)
    assert score_type(table) == "long"
    assert sorted(table.load().scan().to_arrow()["score"].to_pylist()) == [1, 2, 2**40]


@pytest.mark.parametrize("change", ["retyped", "dropped"])
def test_a_retype_or_a_drop_is_refused_before_the_manifest_and_in_the_commit(change, table_with_score):
    store, table = table_with_score
    before = table_rows(table)
    scores = pa.array(["high"], pa.string()) if change == "retyped" else None
    changed = with_score(store, "c", scores, ["3"])
    expected = "would change type" if change == "retyped" else "score are missing"
    with pytest.raises(TableSchemaRefused, match=expected) as refused:
        table.data_key_prefix(store, "staged/c.parquet")
    assert "mldp schema diff" in str(refused.value) and refused.value.exit_status == 3
    with pytest.raises(TableSchemaRefused, match=expected):
        table.commit_batch(BatchFiles("b-2", [changed]), no_lock)
    assert table_rows(table) == before and score_type(table) == "int"
    assert len(table.load().snapshots()) == 1


def test_rescued_data_may_be_absent_from_a_batchs_files(table_with_score):
    store, table = table_with_score
    rescued = with_score(store, "r", pa.array([3], pa.int32()), ["3"], _rescued_data=['{"x": 1}'])
    table.commit_batch(BatchFiles("b-2", [rescued]), no_lock)
    plain = with_score(store, "p", pa.array([4], pa.int32()), ["4"])
    table.data_key_prefix(store, "staged/p.parquet")
    table.commit_batch(BatchFiles("b-3", [plain]), no_lock)
    assert sorted(table.load().scan().to_arrow()["_rescued_data"].to_pylist(), key=str) == [None, None, None,
                                                                                             '{"x": 1}']
