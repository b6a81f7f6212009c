"""Issue 18 item 11: the docs describe the schedule as Glue implements it (a start while a workflow run is active
is refused, not queued), cite the source, and the workflow really allows one run at a time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[3]
SOURCES = (
    "https://docs.aws.amazon.com/glue/latest/webapi/API_StartWorkflowRun.html",
    "https://docs.aws.amazon.com/glue/latest/webapi/API_CreateWorkflow.html",
)


def test_docs_say_a_scheduled_start_during_a_run_is_skipped_with_the_source() -> None:
    text = (REPO / "docs" / "infrastructure.md").read_text()
    flat = re.sub(r"\s+", " ", text)
    assert "skipped, not postponed" in flat and "ConcurrentRunsExceededException" in flat
    for url in SOURCES:
        assert url in text
    for path in [REPO / "docs" / "infrastructure.md", *REPO.glob("platform_constructs/**/*.py"),
                 *REPO.glob("platform_constructs/**/*.md")]:
        flat = re.sub(r"\s+", " ", path.read_text())
        assert "postpones the next schedule" not in flat, path
        assert "delays the next schedule" not in flat, path


def test_the_workflow_allows_one_run_at_a_time(default: Any, cfn: Any) -> None:
    _, _, template = default
    assert cfn.one(template, "AWS::Glue::Workflow")["Properties"]["MaxConcurrentRuns"] == 1
