"""The runtime jar's row cache (``mldp.spark.RowCacheSerializer``): the local session holds cached frames with it,
and a cached frame reads back exactly what it holds (whole, column-pruned, filtered, spilled to disk), whatever the
types, the nulls and the row sizes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark import StorageLevel
from pyspark.sql import functions as F

from platform_contract.spark import CACHE_SERIALIZER_CONF, ROW_CACHE_SERIALIZER

_SCHEMA = ("id long, text string, amount decimal(20,3), flag boolean, raw binary, "
           "items array<struct<name:string,value:double>>, tags map<string,int>, nested struct<a:string,b:array<int>>")


@pytest.fixture(scope="module")
def frame(spark):
    """Rows of every kind of column, some all-null, some big (about 9 MB in all: more than two of the cache's 4 MB
    batches), made by the executors (so the cache receives Spark's binary rows)."""
    ids = spark.range(0, 3000, numPartitions=3)
    text = F.expr("CASE WHEN id % 7 = 0 THEN NULL ELSE concat('é-', repeat(CAST(id AS STRING), "
                  "CAST(id % 5 + 1 AS INT) * 600)) END")
    return ids.select(
        "id", text.alias("text"), (F.col("id") / 7).cast("decimal(20,3)").alias("amount"),
        F.when(F.col("id") % 3 == 0, None).otherwise(F.col("id") % 2 == 0).alias("flag"),
        F.col("id").cast("string").cast("binary").alias("raw"),
        F.array(F.struct(F.lit("n").alias("name"), (F.col("id") * 0.5).alias("value")),
                F.struct(F.lit(None).cast("string").alias("name"), F.lit(None).cast("double").alias("value")))
        .alias("items"),
        F.create_map(F.lit("k"), (F.col("id") % 11).cast("int")).alias("tags"),
        F.struct(F.col("id").cast("string").alias("a"), F.array(F.lit(1), F.lit(None).cast("int")).alias("b"))
        .alias("nested"),
    )


def _rows(frame) -> list:
    return sorted(frame.collect(), key=lambda row: row["id"])


def test_the_local_session_caches_with_the_row_cache(spark) -> None:
    assert spark.conf.get(CACHE_SERIALIZER_CONF) == ROW_CACHE_SERIALIZER


@pytest.mark.parametrize("level", [StorageLevel.MEMORY_AND_DISK, StorageLevel.DISK_ONLY])
def test_a_cached_frame_reads_back_what_it_holds(spark, frame, level) -> None:
    expected = _rows(frame)
    cached = frame.persist(level)
    try:
        assert cached.count() == 3000
        assert "InMemoryTableScan" in cached.select("*")._jdf.queryExecution().executedPlan().toString()
        assert _rows(cached) == expected  # whole rows
        pruned = sorted(cached.select("nested", "id", "amount").collect(), key=lambda row: row["id"])
        assert pruned == [(row["nested"], row["id"], row["amount"]) for row in expected]  # other columns, reordered
        assert cached.where(F.col("flag")).select("id").count() == sum(1 for row in expected if row["flag"])
        assert cached.agg(F.sum("amount")).first()[0] == sum((row["amount"] for row in expected), Decimal(0))
        assert expected[7]["text"] is None and len(expected[4]["text"]) == 3002
    finally:
        cached.unpersist(blocking=True)


def test_a_row_larger_than_a_batch_is_cached_whole(spark) -> None:
    """A row over the 4 MB a batch gathers is a batch of its own."""
    big = spark.range(3, numPartitions=1).selectExpr("id", "repeat('x', 5000000 + CAST(id AS INT)) AS blob").cache()
    try:
        assert [(row["id"], len(row["blob"])) for row in big.orderBy("id").collect()] == [
            (0, 5_000_000), (1, 5_000_001), (2, 5_000_002)]
    finally:
        big.unpersist(blocking=True)


def test_a_cache_serializer_of_the_jar_that_cannot_be_loaded_fails_at_once_with_the_fix(spark) -> None:
    from runtime.spark.session import SPARK_CACHE_SERIALIZER, check_cache_serializer

    check_cache_serializer(spark)  # the session's own: loadable
    with pytest.raises(RuntimeError, match="cannot load .*--extra-jars.*" + SPARK_CACHE_SERIALIZER):
        check_cache_serializer(spark, "mldp.spark.NoSuchSerializer")
    check_cache_serializer(spark, "org.example.NotOurs")  # another's: Spark's business
