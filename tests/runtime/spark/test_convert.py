"""convert_batch against real local Spark: every input kind's defined outcome, asserted on the Parquet (read with
pyarrow, as an ML engineer would), the dead-letter JSON Lines and the per-file counts."""

from __future__ import annotations

import json
import math
import textwrap
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from runtime.spark.convert import ConversionResult, FileCounts, SourceFile, convert_batch
from runtime.spark.names import unreadable_reason
from runtime.spark.read import read_batch
from runtime.spark.session import get_spark
from runtime.spark.transform import HookFailed
from runtime.spark.validate import validate
from runtime.transforms.spec import load_spec, spec_from_dict
from tests.support import spark_inputs as inputs

pytestmark = pytest.mark.spark

BUCKET_URI = "s3://test-bucket/raw-json-data/"


@dataclass
class Batch:
    """One converted batch and what it wrote."""

    result: ConversionResult
    files: dict[str, SourceFile]  # by case or file name
    curated: Path
    dead_letter: Path

    def curated_rows(self) -> list[dict[str, Any]]:
        if not self.curated.exists():
            return []
        return ds.dataset(self.curated, format="parquet", partitioning="hive").to_table().to_pylist()

    def dead_letters(self) -> list[dict[str, Any]]:
        rows = []
        for file in sorted(self.dead_letter.glob("file_id=*/*.json")):
            file_id = int(file.parent.name.split("=", 1)[1])
            rows += [{**json.loads(line), "file_id": file_id} for line in file.read_text("utf-8").splitlines()]
        return rows


def write_sources(folder: Path, named: dict[str, tuple[str, bytes, str]], first_id: int = 1) -> dict[str, SourceFile]:
    """Write ``name -> (file name, bytes, layout)`` under ``folder``; return the SourceFiles by name."""
    files = {}
    for offset, (name, (file_name, body, layout)) in enumerate(named.items()):
        path = folder / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        key = f"raw-json-data/{file_name}"
        files[name] = SourceFile(file_id=first_id + offset, key=key, spark_path=str(path),
                                 lineage_path=BUCKET_URI + file_name, json_layout=layout)
    return files


def convert(spark, folder: Path, files: dict[str, SourceFile], spec=None) -> Batch:
    curated, dead_letter = folder / "staging" / "curated", folder / "staging" / "dead_letter"
    result = convert_batch(spark, list(files.values()), spec or load_spec(None), str(curated), str(dead_letter))
    return Batch(result, files, curated, dead_letter)


@pytest.fixture(scope="module")
def case_batch(spark, tmp_path_factory) -> Batch:
    """Every input kind of spark_inputs.CASES converted as one batch."""
    folder = tmp_path_factory.mktemp("cases")
    named = {case.name: (case.file_name, case.build(), case.layout) for case in inputs.CASES}
    return convert(spark, folder, write_sources(folder / "raw", named))


def core(counts: FileCounts) -> FileCounts:
    """``counts`` without what was rescued (the sample records carry fields the default spec does not read)."""
    return replace(counts, records_rescued=0, rescued_fields=())


def core_result(result: ConversionResult) -> ConversionResult:
    """``result`` with :func:`core` counts."""
    return replace(result, counts={file_id: core(item) for file_id, item in result.counts.items()})


def rows_of(rows: list[dict[str, Any]], source: SourceFile) -> list[dict[str, Any]]:
    return [row for row in rows if row["source_s3_path"] == source.lineage_path]


# ------------------------------------------------------------------------------------------ defined outcomes
@pytest.mark.parametrize("case", inputs.CASES, ids=lambda case: case.name)
def test_each_input_kind_has_its_defined_outcome(case_batch: Batch, case: inputs.InputCase) -> None:
    source = case_batch.files[case.name]
    counts = case_batch.result.counts[source.file_id]
    assert (counts.records_good, counts.records_bad, counts.records_written) == (case.good, case.bad, None)
    assert len(rows_of(case_batch.curated_rows(), source)) == case.good
    dead = [row for row in case_batch.dead_letters() if row["file_id"] == source.file_id]
    assert Counter(row["reason"].split(":", 1)[0] for row in dead) == Counter(case.reasons)
    for row in dead:
        assert row["source_s3_path"] == source.lineage_path
        assert "line" in row and row["line"] is None
        assert isinstance(row["raw_record"], str) and row["raw_record"]


def test_counts_cover_every_file_and_add_up_to_what_was_written(case_batch: Batch) -> None:
    result = case_batch.result
    assert set(result.counts) == {source.file_id for source in case_batch.files.values()}
    assert result.counts[case_batch.files["whitespace_only"].file_id] == FileCounts(0, 0)
    assert result.curated_rows == sum(c.records_good for c in result.counts.values()) == len(case_batch.curated_rows())
    assert result.dead_letter_rows == sum(c.records_bad for c in result.counts.values()) == \
        len(case_batch.dead_letters())


def test_curated_rows_follow_the_reference_mapping(case_batch: Batch) -> None:
    source = case_batch.files["good_lines"]
    rows = {row["id"]: row for row in rows_of(case_batch.curated_rows(), source)}
    original = inputs.record(2)
    assert rows["rec-00002"] == {
        "id": "rec-00002",
        "event_date": date(2024, 1, 3),
        "event_mode": original["MODE"],
        "nested_field1": "value-2",
        "original_complex_list": [{"name": "feature_0", "value": 0.5}, {"name": "feature_1", "value": 1.5}],
        "_rescued_data": '{"some_nested_struct.field2":2,"not_in_the_spec":{"ignored":[2]}}',
        "source_s3_path": source.lineage_path,
        "source_version": 1,
        "year": 2024,
        "month": 1,
        "day": 3,
        "mode": original["MODE"],
    }


def test_every_curated_row_has_its_source_path(case_batch: Batch) -> None:
    lineage = {source.lineage_path for source in case_batch.files.values()}
    rows = case_batch.curated_rows()
    assert rows and all(row["source_s3_path"] in lineage for row in rows)


def test_at_most_one_parquet_file_per_partition_and_no_default_partition(case_batch: Batch) -> None:
    parquet = list(case_batch.curated.rglob("*.parquet"))
    per_folder = Counter(path.parent for path in parquet)
    assert parquet and max(per_folder.values()) == 1
    for folder in per_folder:
        parts = folder.relative_to(case_batch.curated).parts
        assert [part.split("=")[0] for part in parts] == ["year", "month", "day", "mode"]
        assert not any("__HIVE_DEFAULT_PARTITION__" in part for part in parts)


def test_dead_letters_are_partitioned_by_source_file(case_batch: Batch) -> None:
    folders = {path.name for path in case_batch.dead_letter.iterdir() if path.is_dir()}
    expected = {f"file_id={case_batch.files[case.name].file_id}" for case in inputs.CASES if case.bad}
    assert folders == expected
    assert all(len(list((case_batch.dead_letter / name).glob("*.json"))) == 1 for name in folders)


def test_a_reader_gets_the_source_file_of_each_dead_letter_as_a_column(case_batch: Batch) -> None:
    """README: the ``file_id=`` folders are read back as a column. pyarrow's hive partitioning (as Spark's and
    Athena's) gives each record its ``file_id``, and it agrees with the record's own ``source_s3_path``."""
    table = ds.dataset(case_batch.dead_letter, format="json", partitioning="hive").to_table()
    assert {"file_id", "source_s3_path", "reason", "raw_record"} <= set(table.column_names)
    path_of = {source.file_id: source.lineage_path for source in case_batch.files.values()}
    rows = table.to_pylist()
    assert len(rows) == len(case_batch.dead_letters()) > 0
    assert all(path_of[row["file_id"]] == row["source_s3_path"] for row in rows)


def test_reasons_quote_the_offending_value(case_batch: Batch) -> None:
    by_file = {}
    for row in case_batch.dead_letters():
        by_file.setdefault(row["file_id"], []).append(row)
    number = by_file[case_batch.files["date_as_number"].file_id]
    assert "'20240105'" in number[0]["reason"] and json.loads(number[0]["raw_record"])["id"] == "rec-00140"
    modes = by_file[case_batch.files["unsafe_modes"].file_id]
    reasons = sorted(row["reason"] for row in modes)
    assert any("value 'a/b'" in reason for reason in reasons)
    assert any("value '..'" in reason for reason in reasons)
    assert any("value ''" in reason for reason in reasons)
    assert any(reason == "missing_required: 'MODE' is missing or null" for reason in reasons)


def test_malformed_records_keep_their_raw_text(case_batch: Batch) -> None:
    dead = {row["file_id"]: row for row in case_batch.dead_letters()}
    assert dead[case_batch.files["malformed_line_among_good"].file_id]["raw_record"] == "{not json}"
    assert dead[case_batch.files["truncated_last_line"].file_id]["raw_record"] == '{"id": "cut-1", "DATE": "2024-0'
    array = dead[case_batch.files["json_array_broken_element"].file_id]["raw_record"]
    assert "rec-00130" in array and "rec-00131" in array  # the whole document is the one bad record
    deep = dead[case_batch.files["deeply_nested"].file_id]["raw_record"]
    assert deep.startswith('{"id": "rec-00200"')


def test_a_record_with_a_key_given_twice_is_dead_lettered_whole(case_batch: Batch) -> None:
    """``"MODE": "train", ..., "MODE": "eval"``: Spark's parser keeps "eval" and "train" would be lost, so the record
    is malformed, its raw text (both values) in the dead letters, no curated row."""
    source = case_batch.files["duplicate_keys"]
    assert rows_of(case_batch.curated_rows(), source) == []
    (dead,) = [row for row in case_batch.dead_letters() if row["file_id"] == source.file_id]
    assert dead["raw_record"] == inputs.duplicate_keys().decode().strip()
    assert dead["reason"].startswith("malformed_json") and "name twice" in dead["reason"]


def test_nan_and_infinity_tokens_are_numbers_when_the_spec_allows_them(spark, tmp_path: Path) -> None:
    from runtime.transforms.spec import spec_from_dict

    document = json.loads((Path(__file__).parents[3] / "runtime/transforms/default_spec.json").read_text())
    lenient = spec_from_dict({**document, "json": {"allow": ["non_numeric_numbers"]}})
    files = write_sources(tmp_path / "raw", {"nan": ("nan.jsonl", inputs.nan_infinity(), "lines")})
    batch = convert(spark, tmp_path, files, lenient)
    (row,) = rows_of(batch.curated_rows(), files["nan"])
    values = [item["value"] for item in row["original_complex_list"]]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


def test_a_spec_names_only_known_json_leniencies() -> None:
    from runtime.errors import SpecError
    from runtime.transforms.spec import load_spec, spec_from_dict

    document = json.loads((Path(__file__).parents[3] / "runtime/transforms/default_spec.json").read_text())
    with pytest.raises(SpecError, match="unknown leniency 'trailing_commas'"):
        spec_from_dict({**document, "json": {"allow": ["trailing_commas"]}})
    assert set(load_spec(None).json_reader_options().values()) == {"false"}


def test_ten_megabyte_line_is_processed(case_batch: Batch) -> None:
    (row,) = rows_of(case_batch.curated_rows(), case_batch.files["ten_megabyte_line"])
    assert len(row["nested_field1"]) == inputs.TEN_MB


def test_accepted_date_spellings(case_batch: Batch) -> None:
    rows = rows_of(case_batch.curated_rows(), case_batch.files["date_formats"])
    got = {row["id"]: row["event_date"].isoformat() for row in rows}
    assert got == {f"date-{i}": expected for i, (_, expected) in enumerate(inputs.DATE_FORMAT_EXPECTATIONS)}
    assert all((row["year"], row["month"], row["day"]) == (row["event_date"].year, row["event_date"].month,
                                                           row["event_date"].day) for row in rows)


# ------------------------------------------------------------------------------------------ file names
def test_odd_file_names_are_read_literally_and_traced(spark, tmp_path: Path) -> None:
    named = {}
    for index, name in enumerate(inputs.ODD_FILE_NAMES):
        body = inputs.lines(inputs.record(300 + index, id=f"odd-{index}"), "{broken")
        folder = "plain dir=1" if ":" in name else "dir [x]=1"  # ':' with a glob character: see below
        named[name] = (f"{folder}/{name}", body, "lines")
    # a file whose name is a glob matching every other file must still only be read once, by itself
    named["glob"] = ("dir [x]=1/*.jsonl", inputs.good_lines(1, 400), "lines")
    batch = convert(spark, tmp_path, write_sources(tmp_path / "raw", named))
    for name, source in batch.files.items():
        expected = FileCounts(1, 0) if name == "glob" else FileCounts(1, 1)
        assert core(batch.result.counts[source.file_id]) == expected, name
    assert batch.result.unreadable == {}
    rows = batch.curated_rows()
    assert {row["source_s3_path"] for row in rows} == {source.lineage_path for source in batch.files.values()}
    assert {row["id"] for row in rows} == {f"odd-{i}" for i in range(len(inputs.ODD_FILE_NAMES))} | {"rec-00400"}
    dead = batch.dead_letters()
    by_id = {source.file_id: source.lineage_path for source in batch.files.values()}
    assert len(dead) == len(inputs.ODD_FILE_NAMES)
    assert all(row["source_s3_path"] == by_id[row["file_id"]] for row in dead)


@pytest.mark.parametrize(("path", "readable"), [
    ("/data/raw/at 10:00.jsonl", True),
    ("/data/raw [1]/file.jsonl", True),
    ("/data/raw [1]/at 10:00.jsonl", False),
    ("s3://bucket/raw/a*b:c.jsonl", False),
    ("s3://bucket/raw/a:b.jsonl", True),
    ("/data//raw/./x/../file.jsonl", True),  # a local file system resolves these the same way
    ("s3://bucket/raw//file.jsonl", False),
    ("s3://bucket/raw/./file.jsonl", False),
    ("s3://bucket/raw/../file.jsonl", False),
    ("s3://bucket/raw/..file.jsonl", True),
])
def test_unreadable_paths(path: str, readable: bool) -> None:
    assert (unreadable_reason(path) is None) is readable


def test_a_path_spark_cannot_open_is_reported_not_read(spark, tmp_path: Path) -> None:
    """Hadoop's globber cannot rebuild a name with ':' under a globbed path: that file is set aside, the rest of
    the batch is converted."""
    files = write_sources(tmp_path / "raw", {"odd": ("dir [x]/at 10:00.jsonl", inputs.good_lines(2), "lines"),
                                              "fine": ("dir [x]/fine.jsonl", inputs.good_lines(1, 5), "lines")})
    batch = convert(spark, tmp_path, files)
    odd, fine = files["odd"].file_id, files["fine"].file_id
    assert core_result(batch.result).counts == {odd: FileCounts(0, 0), fine: FileCounts(1, 0)}
    assert set(batch.result.unreadable) == {odd} and "cannot read" in batch.result.unreadable[odd]
    assert [row["id"] for row in batch.curated_rows()] == ["rec-00005"]
    only_odd = convert_batch(spark, [files["odd"]], load_spec(None), str(tmp_path / "c2"), str(tmp_path / "d2"))
    assert only_odd == ConversionResult({odd: FileCounts(0, 0)}, 0, 0, {odd: batch.result.unreadable[odd]})


# ------------------------------------------------------------------------------------------ edge batches
def test_batch_without_good_records_writes_no_parquet(spark, tmp_path: Path) -> None:
    files = write_sources(tmp_path / "raw", {
        "broken": ("broken.json", inputs.json_array_broken_element(), "array"),
        "blank": ("blank.jsonl", inputs.whitespace_only(), "lines"),
    })
    batch = convert(spark, tmp_path, files)
    assert batch.result == ConversionResult({1: FileCounts(0, 1), 2: FileCounts(0, 0)}, 0, 1)
    assert not batch.curated.exists()
    assert len(batch.dead_letters()) == 1


def test_batch_without_bad_records_writes_no_dead_letters_and_a_rerun_overwrites(spark, tmp_path: Path) -> None:
    files = write_sources(tmp_path / "raw", {"a": ("a.jsonl", inputs.good_lines(4), "lines"),
                                              "b": ("b.json", inputs.json_array(2, 10), "array")})
    first = convert(spark, tmp_path, files)
    again = convert(spark, tmp_path, files)
    assert first.result == again.result
    assert core_result(first.result) == ConversionResult({1: FileCounts(4, 0), 2: FileCounts(2, 0)}, 6, 0)
    assert not again.dead_letter.exists()
    assert sorted(row["id"] for row in again.curated_rows()) == sorted(row["id"] for row in first.curated_rows())
    assert len(again.curated_rows()) == 6


def test_empty_batch_needs_no_spark(tmp_path: Path) -> None:
    result = convert_batch(None, [], load_spec(None), str(tmp_path / "c"), str(tmp_path / "d"))  # type: ignore[arg-type]
    assert result == ConversionResult({}, 0, 0)
    assert not (tmp_path / "c").exists()


def test_get_spark_reuses_the_session_with_its_settings(spark) -> None:
    again = get_spark("another-name")
    assert again._jsparkSession.equals(spark._jsparkSession)
    assert again.conf.get("spark.sql.session.timeZone") == "UTC"
    assert again.conf.get("spark.sql.files.ignoreCorruptFiles") == "false"
    assert again.conf.get("spark.sql.shuffle.partitions") == "4"


def test_reading_runs_no_spark_job(spark, tmp_path: Path) -> None:
    """The explicit schema means no inference pass: building the validated frame is lazy."""
    files = write_sources(tmp_path / "raw", {"a": ("a.jsonl", inputs.good_lines(2), "lines"),
                                              "b": ("b.json", inputs.json_array(2), "array")})
    spec = load_spec(None)
    group = f"no-inference-{tmp_path.name}"
    spark.sparkContext.setJobGroup(group, "read without inference")
    try:
        frame = validate(read_batch(spark, list(files.values()), spec.read_schema()), spec)
        assert spark.sparkContext.statusTracker().getJobIdsForGroup(group) == []
        assert frame.count() == 4
        assert spark.sparkContext.statusTracker().getJobIdsForGroup(group) != []
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)


def persisted_rdds(spark) -> int:
    return spark.sparkContext._jsc.getPersistentRDDs().size()


def test_the_batch_leaves_nothing_cached(spark, tmp_path: Path) -> None:
    files = write_sources(tmp_path / "raw", {"a": ("a.jsonl", inputs.malformed_line_among_good(), "lines")})
    before = persisted_rdds(spark)
    convert(spark, tmp_path, files)
    assert persisted_rdds(spark) == before


def test_a_file_listed_twice_or_an_unknown_layout_is_rejected(spark, tmp_path: Path) -> None:
    (source,) = write_sources(tmp_path / "raw", {"a": ("a.jsonl", inputs.good_lines(1), "lines")}).values()
    twin = SourceFile(2, source.key, "file://" + source.spark_path, source.lineage_path, "lines")
    with pytest.raises(ValueError, match="same file twice"):
        convert_batch(spark, [source, twin], load_spec(None), str(tmp_path / "c"), str(tmp_path / "d"))
    odd = SourceFile(3, source.key, source.spark_path, source.lineage_path, "xml")
    with pytest.raises(ValueError, match="json_layout"):
        convert_batch(spark, [odd], load_spec(None), str(tmp_path / "c"), str(tmp_path / "d"))


# ------------------------------------------------------------------------------------------ custom specs
def custom_spec(tmp_path: Path, hook: str | None = None):
    document = {
        "columns": [
            {"name": "id", "source": "id", "type": "string", "required": True},
            {"name": "day", "source": "when", "type": "date", "formats": ["dd.MM.yyyy"], "iso_timestamps": False},
            {"name": "score", "source": "stats.score", "type": "double"},
            {"name": "count", "source": "stats.count", "type": "string", "cast": "int"},
            {"name": "team", "source": "team", "type": "string", "required": True},
        ],
        "partitions": [{"name": "team", "from": "team", "part": "value"},
                       {"name": "year", "from": "day", "part": "year"}],
        "hook": hook,
        # a "NaN" *string* read as a double is also a leniency of Spark's parser (allowNonNumericNumbers)
        "json": {"allow": ["non_numeric_numbers"]},
    }
    return spec_from_dict(document, base_dir=tmp_path)


def test_custom_spec_casts_dates_and_partitions(spark, tmp_path: Path) -> None:
    body = inputs.lines(
        {"id": "1", "when": "05.01.2024", "stats": {"score": "NaN", "count": "12"}, "team": "red"},
        {"id": "2", "when": "2024-01-05", "stats": {"score": 1.0, "count": "3"}, "team": "red"},
        {"id": "3", "when": "06.01.2024", "stats": {"score": 2.5, "count": "many"}, "team": "blue"},
        {"id": "4", "when": "07.01.2024", "stats": {"score": 3.5}, "team": "__HIVE_DEFAULT_PARTITION__"},
        {"id": "5", "when": "08.01.2024", "stats": {"score": "high"}, "team": "blue"},
    )
    files = write_sources(tmp_path / "raw", {"a": ("a.jsonl", body, "lines")})
    batch = convert(spark, tmp_path, files, custom_spec(tmp_path))
    assert batch.result.counts == {1: FileCounts(1, 4)}
    (row,) = batch.curated_rows()
    assert (row["id"], row["day"], row["count"], row["team"], row["year"]) == ("1", date(2024, 1, 5), 12, "red", 2024)
    assert math.isnan(row["score"])
    assert sorted(path.relative_to(batch.curated).as_posix() for path in batch.curated.rglob("*.parquet"))[0] \
        .startswith("team=red/year=2024/")
    reasons = {json.loads(row["raw_record"]).get("id"): row["reason"] for row in batch.dead_letters()
               if row["reason"].split(":")[0] != "malformed_json"}
    assert reasons["2"].startswith("invalid_date: 'when' value '2024-01-05'")
    assert reasons["3"] == "invalid_cast: 'stats.count' value 'many' is not a valid int"
    assert reasons["4"].startswith("invalid_partition: 'team' from 'team' value '__HIVE_DEFAULT_PARTITION__'")
    assert [row["reason"].split(":")[0] for row in batch.dead_letters()].count("malformed_json") == 1  # "high"


HOOKS = textwrap.dedent("""
    from pyspark.sql import functions as F

    def add_column(df):
        return df.withColumn("id_length", F.length("id")).filter(F.col("id") != "drop-me")

    def drop_partition(df):
        return df.drop("team")

    def null_partition(df):
        return df.withColumn("team", F.lit(None).cast("string"))

    def not_a_frame(df):
        return 42
""")


@pytest.fixture
def hook_batch(tmp_path: Path):
    (tmp_path / "hooks.py").write_text(HOOKS)
    body = inputs.lines({"id": "keep", "when": "05.01.2024", "team": "red"},
                        {"id": "drop-me", "when": "05.01.2024", "team": "red"})
    files = write_sources(tmp_path / "raw", {"a": ("a.jsonl", body, "lines")})
    return tmp_path, files


def test_hook_adds_columns_and_may_drop_rows(spark, hook_batch) -> None:
    folder, files = hook_batch
    batch = convert(spark, folder, files, custom_spec(folder, "hooks.py:add_column"))
    # 2 records passed validation; the hook dropped one: the file's count is what was written
    assert batch.result == ConversionResult({1: FileCounts(2, 0, records_written=1)}, 1, 0)
    assert batch.result.counts[1].written == 1
    (row,) = batch.curated_rows()
    assert (row["id"], row["id_length"], row["team"]) == ("keep", 4, "red")


@pytest.mark.parametrize(("hook", "error", "message"), [
    ("drop_partition", HookFailed, "dropped required column"),  # the same for every file: no file's fault
    ("not_a_frame", HookFailed, "not a DataFrame"),
    ("null_partition", Exception, "null or unsafe 'team' partition value"),  # data-dependent: a Spark job fails
])
def test_hook_that_breaks_the_output_contract_fails_the_batch(spark, hook_batch, hook, error, message) -> None:
    folder, files = hook_batch
    before = persisted_rdds(spark)
    with pytest.raises(error, match=message):
        convert(spark, folder, files, custom_spec(folder, f"hooks.py:{hook}"))
    assert persisted_rdds(spark) == before
