"""The recorded error of a Spark failure is its root cause (the innermost Java exception, or the Python worker's
own error), never the Py4J call site ("An error occurred while calling o284.parquet")."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.spark.failures import MAX_CAUSE_CHARS, root_cause, signature
from tests.support import spark_inputs as inputs


class FakeThrowable:
    """A Java throwable as py4j shows it: class name, message, cause."""

    def __init__(self, name: str, message: str | None, cause: FakeThrowable | None = None) -> None:
        self.name, self.message, self.cause = name, message, cause

    def getCause(self):
        return self.cause

    def getMessage(self):
        return self.message

    def getClass(self):
        return type("Class", (), {"getName": lambda _self: self.name})()

    def equals(self, other) -> bool:
        return other is self


class FakePy4JJavaError(Exception):
    def __init__(self, throwable: FakeThrowable) -> None:
        super().__init__("An error occurred while calling o284.parquet.\n: org.apache.spark.SparkException: ...")
        self.java_exception = throwable


def test_the_innermost_java_cause_with_its_class_and_message():
    inner = FakeThrowable("java.io.IOException", "incorrect header check")
    error = FakePy4JJavaError(FakeThrowable("org.apache.spark.SparkException", "Job aborted",
                                            FakeThrowable("org.apache.spark.SparkException", "Error reading", inner)))
    assert root_cause(error) == "java.io.IOException: incorrect header check"


def test_a_cause_without_a_message_is_its_class_and_a_self_cause_ends_the_walk():
    looped = FakeThrowable("java.lang.NullPointerException", None)
    looped.cause = looped
    assert root_cause(FakePy4JJavaError(looped)) == "java.lang.NullPointerException"


def test_python_errors_give_their_innermost_cause():
    try:
        try:
            raise KeyError("mode")
        except KeyError as inner:
            raise RuntimeError("the batch failed") from inner
    except RuntimeError as outer:
        assert root_cause(outer) == "KeyError: 'mode'"
    assert root_cause(RuntimeError()) == "RuntimeError"
    assert len(root_cause(ValueError("x" * 5000))) == MAX_CAUSE_CHARS


def test_a_traceback_text_gives_its_last_line():
    text = ("\n  An exception was thrown from the Python worker.\nTraceback (most recent call last):\n"
            '  File "hooks.py", line 3, in f\nValueError: hook says no\n')
    assert root_cause(type("PythonException", (Exception,), {})(text)) == "PythonException: ValueError: hook says no"


def test_signature_ignores_paths_and_numbers_only():
    assert signature("Mkdirs failed for file:/a/b-1/x (3 tries)") == "Mkdirs failed for <path> (N tries)"
    assert signature("cause A") != signature("cause B")


@pytest.mark.spark
def test_a_real_spark_read_failure(spark, tmp_path: Path):
    path = tmp_path / "garbage.jsonl.deflate"
    path.write_bytes(inputs.GARBAGE)
    with pytest.raises(Exception) as raised:
        spark.read.json(str(path)).collect()
    assert "An error occurred while calling" in str(raised.value)  # what was recorded before
    assert root_cause(raised.value) == "java.io.IOException: incorrect header check"


@pytest.mark.spark
def test_a_real_python_worker_failure(spark):
    from pyspark.sql import functions as F

    @F.udf("string")
    def lookup(value):
        raise ValueError("the feature service is down")

    with pytest.raises(Exception) as raised:
        spark.range(3).select(lookup("id")).collect()
    assert root_cause(raised.value) == "PythonException: ValueError: the feature service is down"
