"""The rescued data's paths, its reading back and the spec keys that govern it (pure Python, no Spark)."""

from __future__ import annotations

import decimal
import json
import random

import pytest

from runtime.errors import SpecError
from runtime.transforms.rescue import (
    WHOLE_RECORD,
    apply_rescue,
    general_path,
    normalise,
    parse_path,
    parse_record,
    path_text,
    rescue_text,
    rescued_fields,
    sightings,
)
from runtime.transforms.spec import load_spec, spec_from_dict
from tests.support.drifting_records import drifting_record


@pytest.mark.parametrize(("segments", "text"), [
    (["device"], "device"),
    (["some_nested_struct", "field9"], "some_nested_struct.field9"),
    (["some_list_of_structs", 2, "tag"], "some_list_of_structs[2].tag"),
    (["x.y", "", "$ref", 'q"', "a[0]"], '["x.y"][""]["$ref"]["q\\""]["a[0]"]'),
])
def test_paths_are_written_and_read_back(segments, text):
    assert path_text(segments) == text
    assert parse_path(text) == segments


def test_every_generated_rescue_reads_back_into_the_record():
    """Without Spark: the fields a record's spec does not read, set back into what the spec reads, give the record."""
    schema = load_spec(None).source_schema()
    rng = random.Random(5)
    for index in range(500):
        record = drifting_record(rng, index, drift=0.6)
        fields = rescued_fields(record, schema)
        known = {key: record[key] for key in ("id", "DATE", "MODE") if key in record}
        if isinstance(record.get("some_nested_struct"), dict) and "field1" in record["some_nested_struct"]:
            known["some_nested_struct"] = {"field1": record["some_nested_struct"]["field1"]}
        if isinstance(record.get("some_list_of_structs"), list):
            known["some_list_of_structs"] = [{k: v for k, v in item.items() if k in ("name", "value")}
                                             for item in record["some_list_of_structs"]]
        assert normalise(apply_rescue(known, fields)) == normalise(record)


def test_a_record_python_cannot_parse_is_rescued_whole_unless_spark_found_it_malformed():
    schema = load_spec(None).source_schema()
    assert rescue_text("{'id': 'a'}", schema) == (json.dumps({WHOLE_RECORD: "{'id': 'a'}"}), False)
    assert rescue_text("{'id': 'a'}", schema, parsed_json="{}") == (None, False)
    assert rescue_text('{"x": NaN}', schema)[1] is False
    assert rescue_text('{"x": NaN}', schema, allow_non_numeric=True)[1] is True
    assert rescue_text("[" * 5000, schema, parsed_json="{}") == (None, False)  # too deep for Python too


@pytest.mark.parametrize("text", ['{"id": "a", "id": "b"}', '{"x": {"y": 1, "y": 2}}', '{"l": [{}, {"k": 1, "k": 2}]}',
                                  '{"some_nested_struct": {"field1": "a", "field1": "b"}}'])
def test_a_record_with_a_name_given_twice_in_one_object_is_malformed_whoever_found_it(text):
    """Nothing rescued and not parsed, whether Spark found the record well-formed (it keeps the last value: the
    earlier one would be lost) or malformed: the record is dead-lettered whole."""
    schema = load_spec(None).source_schema()
    assert rescue_text(text, schema) == (None, False)
    assert rescue_text(text, schema, parsed_json="{}") == (None, False)


def test_sightings_name_unknown_fields_and_mismatches_with_types():
    schema = load_spec(None).source_schema()
    rescued = json.dumps({"device": "cam", "some_list_of_structs[3].value": "v", '["a[0]"]': 1})
    assert list(sightings(rescued, schema)) == [("device", "unknown", "string", '"cam"'),
                                                 ("some_list_of_structs[].value", "mismatch", "string", '"v"'),
                                                 ('["a[0]"]', "unknown", "integer", "1")]
    assert general_path("a[12].b[0]") == "a[].b[]"
    assert general_path('a["x[1]"][2]') == 'a["x[1]"][]'
    assert general_path('["x.y"].z') == '["x.y"].z'


def test_rescued_numbers_keep_their_digits_and_their_text():
    """A number is rescued as the text the record held (never through a float: no digit past the 17th lost, no
    ``1e400`` made infinite), in a top-level field, a nested one, a list element and a value that does not fit its
    column; its sighting's example is that text too, and applying the rescue gives the exact record back."""
    schema = load_spec(None).source_schema()
    numbers = "[1.2345678901234567890123, 1e400, -0.0, 1E+2, 123456789012345678901234567890123]"
    text = ('{"id": "n", "top": 1.2345678901234567890123, "some_nested_struct": {"field1": "v", "x": ' + numbers
            + '}, "some_list_of_structs": [{"name": "a", "value": 0.5}, {"k": 1e400, "tag": -0.0}]}')
    rescued, parsed = rescue_text(text, schema)
    assert parsed is True
    assert rescued == ('{"top":1.2345678901234567890123,"some_nested_struct.x":[1.2345678901234567890123,1e400,-0.0,'
                       '1E+2,123456789012345678901234567890123],"some_list_of_structs[1].k":1e400,'
                       '"some_list_of_structs[1].tag":-0.0}')
    assert [item[3] for item in sightings(rescued, schema)] == [
        "1.2345678901234567890123", numbers, "1e400", "-0.0"]
    known = {"id": "n", "some_nested_struct": {"field1": "v"}, "some_list_of_structs": [{"name": "a", "value": 0.5}]}
    rebuilt = apply_rescue(known, rescued)
    assert normalise(rebuilt) == normalise(parse_record(text))
    assert rebuilt["some_list_of_structs"][1]["tag"].text == "-0.0"
    assert rebuilt["some_nested_struct"]["x"][0] == decimal.Decimal("1.2345678901234567890123")
    # a value that does not fit its column (Spark read the struct as null): kept as its text
    mismatch = '{"id": "m", "some_nested_struct": 1.2345678901234567890123, "some_list_of_structs": 1e400}'
    assert rescue_text(mismatch, schema, parsed_json='{"id": "m"}') == (
        '{"some_nested_struct":1.2345678901234567890123,"some_list_of_structs":1e400}', True)


def test_the_spec_names_its_schema_policy_and_type_mismatch_rule():
    base = {"columns": [{"name": "id", "source": "id", "type": "string"}]}
    spec = spec_from_dict(base)
    assert (spec.schema_policy, spec.on_type_mismatch, spec.writes_rescued_data) == ("rescue", "dead_letter", True)
    assert spec_from_dict({**base, "schema_policy": "ignore"}).writes_rescued_data is False
    with pytest.raises(SpecError, match="schema_policy: 'drop' is not one of rescue, fail, ignore"):
        spec_from_dict({**base, "schema_policy": "drop"})
    with pytest.raises(SpecError, match="on_type_mismatch: 'rescue' keeps the value in _rescued_data"):
        spec_from_dict({**base, "schema_policy": "fail", "on_type_mismatch": "rescue"})


def test_the_spec_version_is_the_hash_of_its_content():
    base = {"columns": [{"name": "id", "source": "id", "type": "string"}]}
    first, same = spec_from_dict(base), spec_from_dict(json.loads(json.dumps(base, indent=4)))
    other = spec_from_dict({**base, "schema_policy": "fail"})
    assert first.content_hash == same.content_hash and len(first.content_hash) == 12
    assert other.content_hash != first.content_hash
