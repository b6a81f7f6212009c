"""``mldp schema diff OLD NEW`` (issue 20): added columns need a reprocess to be filled, drops and retypes are
refused."""

from __future__ import annotations

import json
from importlib import resources

from runtime.cli import main
from runtime.operator.spec_diff import diff_specs
from runtime.transforms.spec import load_spec, spec_from_dict


def default_document() -> dict:
    return json.loads(resources.files("runtime.transforms").joinpath("default_spec.json").read_text("utf-8"))


def test_an_added_column_needs_a_reprocess_and_is_allowed():
    document = default_document()
    document["columns"].append({"name": "device", "source": "device", "type": "string"})
    report = diff_specs(load_spec(None), spec_from_dict(document))
    assert (report["added"], report["dropped"], report["retyped"], report["refused"]) == (["device"], [], [], None)
    assert report["reprocess_needed"] and "until their archived raw files are converted again" in \
        report["reprocess_reason"]


def test_a_dropped_or_retyped_column_is_refused(tmp_path, capsys):
    document = default_document()
    document["columns"] = [c for c in document["columns"] if c["name"] != "nested_field1"]
    document["columns"][0]["cast"] = "bigint"
    path = tmp_path / "new.json"
    path.write_text(json.dumps(document))
    assert main(["schema", "diff", "default", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "dropped: nested_field1" in out and "retyped: id: cast None -> 'bigint'" in out
    assert "error: column(s) nested_field1, id would be dropped or retyped" in err
