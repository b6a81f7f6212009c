"""JSON with exact numbers (``runtime.transforms.exact_json``): a number is written back as the text it was read
from, never through a float (pure Python, no Spark)."""

from __future__ import annotations

import decimal
import json
import math

import pytest

from runtime.transforms.exact_json import JsonNumber, decoder, dumps, loads

#: Numbers a float cannot hold: more than 17 significant digits, past a double's range both ways, a negative zero,
#: an upper-case exponent, an integer past a long.
NUMBERS = ["1.2345678901234567890123", "1e400", "-1e-400", "-0.0", "1E+2", "123456789012345678901234567890123",
           "-98765432109876543210.000000000000000000001", "0.5"]


@pytest.mark.parametrize("text", NUMBERS)
def test_a_number_is_written_back_as_its_text(text):
    assert dumps(loads(text)) == text
    assert dumps(loads(f'{{"a": [{text}, {{"b": {text}}}]}}')) == f'{{"a":[{text},{{"b":{text}}}]}}'
    assert dumps(loads(f"[{text}, 1]"), (", ", ": ")) == f"[{text}, 1]"


def test_a_number_reads_as_an_exact_decimal_and_the_rest_as_json_reads_it():
    value = loads('{"f": 1.2345678901234567890123, "i": 123456789012345678901234567890123, "s": "x", "n": null,'
                  ' "nan": NaN, "inf": -Infinity, "t": true}')
    assert isinstance(value["f"], JsonNumber) and value["f"] == decimal.Decimal("1.2345678901234567890123")
    assert value["f"].text == "1.2345678901234567890123" and value["f"] != 1.2345678901234567
    assert value["i"] == 123456789012345678901234567890123 and type(value["i"]) is int
    assert math.isnan(value["nan"]) and value["inf"] == -math.inf
    assert dumps(value) == ('{"f":1.2345678901234567890123,"i":123456789012345678901234567890123,"s":"x","n":null,'
                            '"nan":NaN,"inf":-Infinity,"t":true}')


def test_what_holds_no_number_is_written_as_json_writes_it():
    value = {"ü": ["\u2028\x1f", None, 1, 2.5, True, {"x.y": {}}], "": []}
    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert dumps(value, (", ", ": ")) == json.dumps(value, ensure_ascii=False)
    mixed = {"ü\x1f": [JsonNumber("1e400"), "\u2028"]}
    assert dumps(mixed) == '{"ü\\u001f":[1e400,"\u2028"]}'


def test_an_object_json_cannot_write_is_still_refused():
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"a": [JsonNumber("1.5"), object()]})


def test_the_decoder_takes_json_options():
    seen = decoder(object_pairs_hook=lambda pairs: pairs).decode('{"a": 1.10}')
    assert seen == [("a", decimal.Decimal("1.10"))] and seen[0][1].text == "1.10"


def test_a_default_and_ascii_output_serve_a_report_that_holds_exact_numbers():
    import datetime as dt

    seen = dt.datetime(2024, 3, 4, 12, tzinfo=dt.UTC)
    report = {"first_seen": seen, "examples": [JsonNumber("1e400"), "é"], 7: {None: JsonNumber("-0.0")}}
    text = dumps(report, (", ", ": "), ensure_ascii=True, default=str)
    assert text == ('{"first_seen": "2024-03-04 12:00:00+00:00", "examples": [1e400, "\\u00e9"], '
                    '"7": {"null": -0.0}}')
    assert json.loads(text)["7"] == {"null": -0.0}  # valid JSON; keys as json writes them
    assert dumps({"a": seen}, default=str) == json.dumps({"a": seen}, default=str, separators=(",", ":"))
