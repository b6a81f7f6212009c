"""Limits of the rescue found by the review of 2026-12-06 (evening) (docs/rescued-data.md "Limits"), with the
regression tests of those fixed since: a name given twice in one object of a well-formed record made Spark's
parser keep the last value and lose the earlier one without a trace (it was a strict xfail here); such a record is
now malformed, dead-lettered whole, in both parses."""

from __future__ import annotations

import json

import pytest

from runtime.spark import native_json
from runtime.spark.validate import MALFORMED_REASON
from tests.runtime.spark.test_rescue import run, spec_with

pytestmark = pytest.mark.spark

_HEAD = '"DATE": "2024-03-01", "MODE": "train"'
#: Records in which an object gives a name twice: at the top level (a known key and an unknown one), in a struct the
#: spec reads, in a list element, and deep inside an unknown value.
DUPLICATES = [
    '{"id": "top", "DATE": "2024-03-01", "MODE": "train", "MODE": "test"}',
    '{"id": "nested", ' + _HEAD + ', "some_nested_struct": {"field1": "a", "field1": "b"}}',
    '{"id": "element", ' + _HEAD + ', "some_list_of_structs": [{"name": "a", "value": 1}, '
    '{"name": "b", "value": 2, "name": "c"}]}',
    '{"id": "unknown", ' + _HEAD + ', "device": 1, "device": 2}',
    '{"id": "deep-unknown", ' + _HEAD + ', "extra": {"k": [{"z": 1, "z": 2}]}}',
]


def _pairs(text: str) -> list:
    """``text`` parsed with every object as its list of (name, value) pairs: a name given twice kept twice."""
    return json.loads(text, object_pairs_hook=list)


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
@pytest.mark.parametrize(("policy", "mismatch"), [("rescue", "dead_letter"), ("rescue", "rescue"),
                                                  ("fail", "dead_letter"), ("ignore", "dead_letter")])
def test_a_record_with_a_name_given_twice_in_one_object_is_dead_lettered_whole(
        spark, tmp_path, monkeypatch, native, mismatch, policy):
    """``{"MODE": "train", "MODE": "test"}``: Spark keeps ``test``, and ``train`` was nowhere (no column, no
    ``_rescued_data``, no count, no dead letter). Now the record is malformed: in the dead letters with its raw text
    and the reason, no curated row, nothing rescued or counted as a new field (``fail`` does not stop the file for
    it: a malformed record, not a new field); the file's other records are converted."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    fine = '{"id": "fine", ' + _HEAD + ', "some_nested_struct": {"field1": "v"}}'
    body = "\n".join([fine, *DUPLICATES]) + "\n"
    counts, rows, dead = run(spark, tmp_path, body.encode(),
                             spec_with(schema_policy=policy, on_type_mismatch=mismatch))
    assert sorted(rows) == ["fine"] and rows["fine"].get("_rescued_data") is None
    assert sorted(item["raw_record"] for item in dead) == sorted(DUPLICATES)
    assert {item["reason"] for item in dead} == {MALFORMED_REASON}
    assert "name twice" in MALFORMED_REASON
    assert (counts.records_good, counts.records_bad) == (1, len(DUPLICATES))
    assert (counts.records_rescued, counts.new_fields, counts.unchecked) == (0, [], 0)


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
def test_an_array_element_with_a_name_given_twice_is_dead_lettered_alone(spark, tmp_path, monkeypatch, native):
    """In an ``array`` file each element is a record: the element with a name given twice is dead-lettered (its
    text holds both values), its neighbours are converted."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    body = ('[{"id": "a", ' + _HEAD + '},\n {"id": "b", ' + _HEAD + ', "MODE": "test"},\n'
            ' {"id": "c", ' + _HEAD + ', "device": {"x": 1, "x": 2}}]')
    counts, rows, dead = run(spark, tmp_path, body.encode(), spec_with(), layout="array")
    assert sorted(rows) == ["a"]
    assert (counts.records_good, counts.records_bad, counts.records_rescued) == (1, 2, 0)
    raw = sorted((item["raw_record"] for item in dead), key=lambda text: _pairs(text)[0][1])
    assert [_pairs(text)[0][1] for text in raw] == ["b", "c"]
    assert [value for name, value in _pairs(raw[0]) if name == "MODE"] == ["train", "test"]
    assert dict(_pairs(raw[1]))["device"] == [("x", 1), ("x", 2)]
    if native:  # the one parse keeps an element's text as the file holds it
        assert raw == ['{"id": "b", ' + _HEAD + ', "MODE": "test"}',
                       '{"id": "c", ' + _HEAD + ', "device": {"x": 1, "x": 2}}']


@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
def test_a_name_given_twice_inside_a_value_a_string_column_holds_as_text(spark, tmp_path, monkeypatch, native):
    """The fallback's documented limit (docs/rescued-data.md): a string column holds a non-string value as its JSON
    text, both values of a repeated name included, so its colons are all counted and Python never sees the record:
    it is converted, nothing lost. The one parse reads every name and makes it malformed."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    line = '{"id": "s", ' + _HEAD + ', "some_nested_struct": {"field1": {"k": 1, "k": 2}}}'
    _counts, rows, dead = run(spark, tmp_path, (line + "\n").encode(), spec_with())
    if native:
        assert (rows, [item["raw_record"] for item in dead]) == ({}, [line])
    else:
        assert dead == [] and _pairs(rows["s"]["nested_field1"]) == [("k", 1), ("k", 2)]
