"""The constructs' documentation runs: the reuse example of ``docs/infrastructure.md`` (quoted verbatim from
``docs/examples/reuse_constructs.py``) synthesizes, and each construct folder's ``README.md`` lists every prop of its
props types and has a usage example that builds."""

from __future__ import annotations

import dataclasses
import re
import runpy
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "reuse_constructs.py"
#: Construct folder -> the props types its README documents.
READMES = {
    "tracked_raw_bucket": ("platform_constructs.tracked_raw_bucket", ("TrackedRawBucketProps",)),
    "tracking_database": ("platform_constructs.tracking_database", ("TrackingDatabaseProps",)),
    "json_to_parquet_workflow": ("platform_constructs.json_to_parquet_workflow", ("JsonToParquetWorkflowProps",)),
    "pipeline_alarms": ("platform_constructs.pipeline_alarms", ("PipelineAlarmsProps",)),
}


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_the_guide_quotes_the_reuse_example_verbatim() -> None:
    code = EXAMPLE.read_text()
    quoted = code[code.index("from aws_cdk import"):]
    assert quoted in _python_blocks((REPO / "docs" / "infrastructure.md").read_text())


def test_the_reuse_example_synthesizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    namespace = runpy.run_path(str(EXAMPLE), run_name="reuse_example")
    template = namespace["app"].synth().get_stack_by_name("ClickstreamToParquet").template
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert {"AWS::S3::Bucket", "AWS::RDS::DBInstance", "AWS::Glue::Workflow", "AWS::CloudWatch::Alarm"} <= types
    jobs = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    assert {job["DefaultArguments"]["--raw-prefix"] for job in jobs} == {"landing/clicks/"}


@pytest.mark.parametrize("folder", sorted(READMES))
def test_each_construct_readme_lists_every_prop_and_its_example_builds(folder: str) -> None:
    import importlib

    readme = (REPO / "platform_constructs" / folder / "README.md").read_text()
    package, props_types = READMES[folder]
    module = importlib.import_module(package)
    for props_type in props_types:
        fields = [f.name for f in dataclasses.fields(getattr(module, props_type))]
        missing = [name for name in fields if f"| `{name}` |" not in readme]
        assert missing == [], f"{folder}/README.md does not list {missing}"
    (example,) = _python_blocks(readme)
    namespace: dict[str, Any] = {"print": lambda *args: None}
    exec(compile(example, f"{folder}/README.md", "exec"), namespace)  # the example builds its constructs
