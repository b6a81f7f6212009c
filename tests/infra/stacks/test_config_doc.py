"""docs/configuration.md is generated from the configuration's dataclasses, and stays so."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra


def test_the_configuration_page_is_generated_from_the_dataclasses() -> None:
    from stacks.config_doc import COMMAND, PAGE, render

    assert PAGE.read_text() == render(), f"{PAGE.name} is out of date with stacks/config.py: run {COMMAND}"


def test_the_page_lists_every_key_with_its_dev_and_prod_values() -> None:
    from stacks.config import CATALOG
    from stacks.config_doc import render

    page = render()
    for key in CATALOG.settings:
        assert f"| `{key}` |" in page, key
    assert "| `database.instance_type` | `InstanceType \\| str` | `t4g.micro` | `m7g.large` |" in page
    assert "| `database.cloudwatch_logs_retention` | `RetentionDays` | `ONE_WEEK` | `THREE_MONTHS` |" in page
    assert "| `db_instance_type` | `database.instance_type` |" in page  # former keys, with the key to use


def test_check_mode_reports_the_command_that_regenerates_the_page(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    from stacks import config_doc

    stale = Path(str(tmp_path)) / "configuration.md"
    stale.write_text("# Configuration\n")
    monkeypatch.setattr(config_doc, "PAGE", stale)
    monkeypatch.setattr(config_doc, "ROOT", Path(str(tmp_path)))
    assert config_doc.main(["--check"]) == 1
    assert "run .venv/bin/python -m stacks.config_doc" in capsys.readouterr().err
    assert config_doc.main([]) == 0 and config_doc.main(["--check"]) == 0
