"""The naming rules of :mod:`runtime.spark.names` are Spark's own: checked against the bundled Spark 3.5 / Hadoop
3.3 (which codec a name gets, exact case; which names its file index skips), and the compressed files the tests
build are the ones Spark reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.spark.names import (
    HADOOP_CODECS,
    hadoop_codec_suffix,
    hidden_from_spark,
    intended_codec_suffix,
    spark_alias,
)
from tests.support import spark_inputs as inputs

NAMES = ("_name.jsonl", ".name.jsonl", "_a=b.jsonl", "_metadata.jsonl", "_common_metadata_x.jsonl",
         "x.jsonl._COPYING_", "a_b.jsonl", "=x.jsonl", "plain.jsonl", "__x.jsonl", "._x.jsonl")


def test_codec_by_suffix_is_case_sensitive_for_hadoop_and_not_for_the_user():
    assert hadoop_codec_suffix("raw/X.JSONL.GZ") is None and intended_codec_suffix("raw/X.JSONL.GZ") == ".gz"
    assert hadoop_codec_suffix("a.json.bz2") == intended_codec_suffix("a.json.BZ2") == ".bz2"
    assert hadoop_codec_suffix("a.gz/b.json") is None  # only the file's own name counts
    assert intended_codec_suffix("a.jsonl") is None


@pytest.mark.parametrize(("key", "alias"), [
    ("raw/a.jsonl", None),
    ("raw/a.jsonl.gz", None),
    ("raw/_dir/a.jsonl", None),  # folders do not matter: Spark is given the file itself
    ("raw/X.JSONL.GZ", "mldp-7.json.gz"),
    ("raw/_name.jsonl", "mldp-7.json"),
    ("raw/.name.jsonl.Zst", "mldp-7.json.zst"),
    ("raw/x.jsonl._COPYING_", "mldp-7.json"),
])
def test_the_alias_spark_reads_a_misread_name_under(key, alias):
    assert spark_alias(7, key) == alias


@pytest.mark.spark
def test_the_codec_table_is_hadoops(spark):
    jvm = spark.sparkContext._jvm
    factory = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(spark.sparkContext._jsc.hadoopConfiguration())
    for suffix in HADOOP_CODECS:
        for name in (f"a.json{suffix}", f"a.json{suffix.upper()}", f"a.json{suffix}.txt"):
            codec = factory.getCodec(jvm.org.apache.hadoop.fs.Path("/x/" + name))
            found = str(codec.getDefaultExtension()) if codec is not None else None
            assert found == hadoop_codec_suffix(name), name
    listed = str(factory.toString())  # "{ zg.: ...GzipCodec, 2zb.: ... }": every registered suffix, reversed
    registered = {entry.split(":")[0].strip(" {")[::-1] for entry in listed.split(",") if ":" in entry}
    assert registered == set(HADOOP_CODECS)


@pytest.mark.spark
def test_hidden_names_are_the_ones_spark_skips(spark, tmp_path: Path):
    for name in NAMES:
        path = tmp_path / name
        path.write_bytes(inputs.good_lines(1))
        found = spark.read.schema("id string").json(str(path)).inputFiles()
        assert (len(found) == 0) == hidden_from_spark(name), name


@pytest.mark.spark
@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".deflate", ".lz4", ".snappy"])
def test_spark_reads_the_compressed_files_the_tests_build(spark, tmp_path: Path, suffix):
    path = tmp_path / f"a.jsonl{suffix}"
    path.write_bytes(inputs.compressed(inputs.good_lines(500) * 3, suffix))
    rows = spark.read.schema("id string, _corrupt_record string").json(str(path)).collect()
    assert len(rows) == 1500 and not any(row["_corrupt_record"] for row in rows)
