"""Known limits of the rescue, pinned as strict xfails (docs/rescued-data.md "Limits"): when one is fixed, its test
passes and the xfail must go. Found by the review of 2026-12-06 (evening)."""

from __future__ import annotations

import pytest

from runtime.spark import native_json
from tests.runtime.spark.test_rescue import run, spec_with

pytestmark = pytest.mark.spark


@pytest.mark.xfail(strict=True, reason="known limit (docs/rescued-data.md): Spark's parser keeps the last value of a "
                                       "key given twice in a well-formed record; the earlier one is not rescued")
@pytest.mark.parametrize("native", [True, False], ids=["one-parse", "from_json"])
@pytest.mark.parametrize("policy", ["rescue", "fail"])
def test_the_earlier_value_of_a_key_given_twice_in_a_well_formed_record_is_kept_somewhere(
        spark, tmp_path, monkeypatch, native, policy):
    """``{"MODE": "train", "MODE": "test"}``: the row holds ``test``; ``train`` should be in a column, in
    ``_rescued_data``, in the dead letters, or at least counted (so that ``schema_policy: fail`` stops the file)."""
    if not native:
        monkeypatch.setenv(native_json.SWITCH, "off")
    line = ('{"id": "dup", "DATE": "2024-03-01", "MODE": "train", "MODE": "test", '
            '"some_nested_struct": {"field1": "a", "field1": "b"}}\n')
    counts, rows, dead = run(spark, tmp_path, line.encode(), spec_with(schema_policy=policy))
    row = rows["dup"]
    places = [row["event_mode"], row["nested_field1"], row.get("_rescued_data") or "",
              *(item["raw_record"] for item in dead)]
    assert any("train" in text for text in places) or counts.records_rescued or counts.new_fields, (
        f"the value 'train' of MODE (given first) is nowhere: row {row['event_mode']!r} "
        f"rescued {row.get('_rescued_data')!r}, dead letters {dead}, counts {counts}")
    assert any(text == "a" or '"a"' in text for text in places) or counts.records_rescued, (
        "the value 'a' of some_nested_struct.field1 (given first) is nowhere")
