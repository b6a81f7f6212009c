"""Each compiled date format parses its example in Spark (the SQL the conversion uses), and a value in another
shape or an impossible date gives null, never a wrong date."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.spark.dates import mask_regex, parse_date_sql
from runtime.transforms.dates import compile_date_format
from runtime.transforms.model import ColumnSpec

EXAMPLES = [("yyyy-MM-dd", "2024-01-05"), ("dd.MM.yyyy", "05.01.2024"), ("MM/dd/yyyy", "01/05/2024"),
            ("yyyy, dd_MM", "2024, 05_01")]


@pytest.mark.parametrize(("pattern", "example"), EXAMPLES)
def test_a_compiled_format_parses_its_example_and_nothing_else(spark, pattern: str, example: str) -> None:
    column = ColumnSpec("d", "d", "date", formats=(compile_date_format(pattern),), iso_timestamps=False)
    expression = parse_date_sql("v", column)
    others = [other for _, other in EXAMPLES if other != example]
    values = [example, *others, example.replace("05", "32").replace("01", "13")]
    rows = spark.createDataFrame([(v,) for v in values], "v string").selectExpr("v", f"{expression} AS d").collect()
    parsed = {row.v: row.d for row in rows}
    assert parsed[example] == date(2024, 1, 5)
    assert all(parsed[other] is None for other in values[1:])


@pytest.mark.parametrize("pattern", ["yyyy-MM-dd", "dd.MM.yyyy", "yyyy, dd_MM"])
def test_a_format_matches_only_its_exact_shape(spark, pattern: str) -> None:
    """The shape is matched whole: no trailing line break or space, no digit of another script, no other separator
    (a ``.`` in the mask is a literal dot, not any character)."""
    example = dict(EXAMPLES)[pattern]
    column = ColumnSpec("d", "d", "date", formats=(compile_date_format(pattern),), iso_timestamps=False)
    near_misses = [example + "\n", example + " ", " " + example, example.replace("2", "\uff12", 1),
                   example.replace(".", "x").replace("-", "x").replace(",", "x")]
    rows = spark.createDataFrame([(v,) for v in [example, *near_misses]], "v string") \
        .selectExpr("v", f"{parse_date_sql('v', column)} AS d").collect()
    parsed = {row.v: row.d for row in rows}
    assert parsed[example] == date(2024, 1, 5)
    assert {value: parsed[value] for value in near_misses} == dict.fromkeys(near_misses)


@pytest.mark.parametrize(("pattern", "example"), EXAMPLES)
def test_a_format_parses_its_example_whatever_the_sql_string_literal_setting(spark, pattern: str,
                                                                             example: str) -> None:
    """The SQL is parsed by the session's parser, so its string literals must mean the same under
    ``spark.sql.parser.escapedStringLiterals`` (a runtime setting a Glue job's ``spark_conf`` may set): with it on,
    a backslash in a literal is kept as it is (``'\\\\-'`` is two backslashes and a dash), which the
    ``translate``-and-compare match never depended on."""
    column = ColumnSpec("d", "d", "date", formats=(compile_date_format(pattern),), iso_timestamps=False)
    frame = spark.createDataFrame([(example,), (example + "\n",)], "v string")
    spark.conf.set("spark.sql.parser.escapedStringLiterals", "true")
    try:
        rows = frame.selectExpr("v", f"{parse_date_sql('v', column)} AS d").collect()
    finally:
        spark.conf.unset("spark.sql.parser.escapedStringLiterals")
    assert {row.v: row.d for row in rows} == {example: date(2024, 1, 5), example + "\n": None}


def test_a_mask_regex_holds_no_backslash_and_refuses_a_character_that_would_need_one() -> None:
    """Every separator a date format may use is matched without a backslash (what keeps the match independent of
    ``spark.sql.parser.escapedStringLiterals``); a mask character a one-character class cannot hold is refused."""
    for pattern in ("yyyy-MM-dd", "yyyy/MM/dd", "dd.MM.yyyy", "yyyy, dd_MM", "MM dd yyyy"):
        assert "\\" not in mask_regex(compile_date_format(pattern).mask)
    with pytest.raises(ValueError, match="without a backslash"):
        mask_regex("0000[00]00")
