"""Every job argument the stacks pass reaches ``mldp``: Glue hands the entry script its DefaultArguments, and the
entry forwards only the options it lists (``OPTIONS`` of ``runtime/glue/*``); an argument the construct sets but
the entry does not list is silently dropped on Glue (``--inventory-location`` was, until this test)."""

from __future__ import annotations

from typing import Any

from runtime.glue import file_lister_and_db_populator as lister_entry
from runtime.glue import json_to_parquet_batch_processor as processor_entry

#: Arguments Glue itself reads (job parameters of the AWS Glue documentation), not forwarded to ``mldp``.
GLUE_OWN = frozenset({
    "--TempDir", "--additional-python-modules", "--python-modules-installer-option", "--extra-py-files", "--extra-jars",
    "--job-language", "--job-bookmark-option", "--enable-metrics", "--enable-observability-metrics",
    "--enable-continuous-cloudwatch-log", "--enable-auto-scaling", "--conf", "library-set",
})
#: The entry of each job, by the job name's stem (the Python-shell jobs run the lister's entry).
ENTRIES = {"FileListerAndDbPopulator": lister_entry, "FileEventConsumer": lister_entry,
           "JsonToParquetBatchProcessor": processor_entry}


def dropped_job_arguments(template: dict[str, Any]) -> dict[str, list[str]]:
    """Job name -> the DefaultArguments its entry script would not forward to ``mldp``."""
    dropped: dict[str, list[str]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Glue::Job":
            continue
        properties = resource["Properties"]
        name = properties["Name"]
        entry = next(module for stem, module in ENTRIES.items() if name.startswith(stem))
        known = {f"--{option}" for option in entry.OPTIONS}
        unknown = sorted(set(properties.get("DefaultArguments", {})) - GLUE_OWN - known)
        if unknown:
            dropped[name] = unknown
    return dropped


def test_every_argument_of_every_job_reaches_mldp(platform_templates: dict[str, dict[str, Any]]) -> None:
    jobs = [r for t in platform_templates.values() for r in t["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    assert len(jobs) == 7  # dev: lister, processor, backfill; prod: the same and the event consumer
    assert {name: dropped_job_arguments(t) for name, t in platform_templates.items()} == {
        name: {} for name in platform_templates}


def test_an_argument_the_entry_does_not_list_is_found() -> None:
    template = {"Resources": {"Job": {"Type": "AWS::Glue::Job", "Properties": {
        "Name": "FileListerAndDbPopulator-dev", "DefaultArguments": {"--store": "s3://b", "--not-an-option": "1"}}}}}
    assert dropped_job_arguments(template) == {"FileListerAndDbPopulator-dev": ["--not-an-option"]}
