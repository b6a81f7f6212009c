"""The Glue entry scripts accept exactly what Glue passes, parsed by the real ``awsglue.utils.getResolvedOptions``
(PyPI's awsglue-dev reproduces aws-glue-libs' ``awsglue/utils.py``) and by the fallback parser alike."""

from __future__ import annotations

import random
import sys

import pytest

from runtime.glue import file_lister_and_db_populator as lister_entry
from runtime.glue import json_to_parquet_batch_processor as processor_entry

SCRIPT = "/tmp/glue-scripts/json_to_parquet_batch_processor-0123abcd.py"
GLUE_OWN = ["--JOB_ID", "j_0f1e2d", "--JOB_RUN_ID", "jr_abc123", "--JOB_NAME", "JsonToParquetBatchProcessor-dev",
            "--job-bookmark-option", "job-bookmark-disable", "--TempDir", "s3://b/curated-data-lake/_staging/tmp/",
            "--enable-metrics", "true", "--enable-continuous-cloudwatch-log", "true", "--job-language", "python",
            "--extra-py-files", "s3://assets/runtime-0123.zip", "--additional-python-modules", "s3://a/x.whl",
            "--python-modules-installer-option", "--no-index"]
DEFAULTS = {"--store": "s3://data-bucket", "--db-secret-arn": "arn:aws:secretsmanager:us-east-1:1:secret:db",
            "--environment": "dev", "--metrics-namespace": "MlDataPlatform", "--batch-size": "1000",
            "--max-attempts": "3", "--lease-seconds": "3600", "--max-minutes": "12", "--drain": "true",
            "--raw-prefix": "raw-json-data/"}
EXPECTED_PROCESS = {"--store": "s3://data-bucket", "--db-secret-arn": "arn:aws:secretsmanager:us-east-1:1:secret:db",
                    "--environment": "dev", "--metrics-namespace": "MlDataPlatform", "--batch-size": "1000",
                    "--max-attempts": "3", "--lease-seconds": "3600", "--max-minutes": "12",
                    "--raw-prefix": "raw-json-data/", "--job-run-id": "jr_abc123"}


@pytest.fixture(params=["awsglue", "fallback"])
def resolver(request, monkeypatch):
    """Each parser in turn: the real getResolvedOptions, then the fallback with ``awsglue`` not importable."""
    if request.param == "awsglue":
        import awsglue.utils  # noqa: F401  (must be installed: requirements-dev.txt)
    else:
        monkeypatch.setitem(sys.modules, "awsglue", None)
        monkeypatch.setitem(sys.modules, "awsglue.utils", None)
    return request.param


def _pairs(cli: list[str]) -> tuple[dict[str, str], list[str]]:
    """(``--opt value`` pairs, bare flags) of an ``mldp`` argv after the command, without ``--json``."""
    assert cli[-1] == "--json"
    tokens, pairs, flags, i = cli[1:-1], {}, [], 0
    while i < len(tokens):
        if i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            pairs[tokens[i]] = tokens[i + 1]
            i += 2
        else:
            flags.append(tokens[i])
            i += 1
    return pairs, flags


def _argv(pairs: list[tuple[str, str]]) -> list[str]:
    return [SCRIPT] + [token for pair in pairs for token in pair]


def test_processor_takes_glues_argv_in_any_order(resolver):
    own = list(zip(GLUE_OWN[::2], GLUE_OWN[1::2], strict=True))
    pairs = own + list(DEFAULTS.items())
    for seed in range(5):
        random.Random(seed).shuffle(pairs)
        cli = processor_entry.cli_argv(_argv(pairs))
        assert cli[0] == "process"
        options, flags = _pairs(cli)
        assert options == EXPECTED_PROCESS
        assert flags == ["--drain"]


def test_the_first_job_argument_is_not_taken_for_the_script_path(resolver):
    cli = processor_entry.cli_argv([SCRIPT, "--store", "s3://first", "--JOB_RUN_ID", "jr_1"])
    assert _pairs(cli) == ({"--store": "s3://first", "--job-run-id": "jr_1"}, [])


def test_a_run_argument_replaces_the_default_and_false_flags_are_dropped(resolver):
    argv = _argv([("--store", "s3://b"), ("--drain", "false"), ("--no-metrics", "true")])
    options, flags = _pairs(processor_entry.cli_argv(argv))
    assert options == {"--store": "s3://b"} and flags == ["--no-metrics"]


def test_python_shell_run_without_glue_extras_gives_the_lister_command_line(resolver):
    # a Python-shell run passes no --job-bookmark-option, --TempDir or --enable-* arguments
    argv = ["/tmp/file_lister_and_db_populator-ab12.py", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_9",
            "--JOB_NAME", "FileListerAndDbPopulator-dev", "--store", "s3://b", "--db", "postgresql://u@h/d",
            "--prefixes", "raw-json-data/a/,raw-json-data/b/", "--extra-py-files", "s3://a/r.whl,s3://a/p.whl",
            "library-set", "analytics"]
    cli = lister_entry.cli_argv(argv)
    assert cli[0] == "list"
    assert _pairs(cli) == ({"--store": "s3://b", "--db": "postgresql://u@h/d",
                            "--prefixes": "raw-json-data/a/,raw-json-data/b/", "--job-run-id": "jr_9"}, [])


def test_the_scheduled_listers_inventory_arguments_reach_mldp_list(resolver):
    # discovery_mode inventory/events: the construct passes these two to the lister job (they were once dropped)
    argv = ["/tmp/file_lister_and_db_populator-ab12.py", "--JOB_RUN_ID", "jr_9", "--store", "s3://b",
            "--inventory-location", "s3://reports/s3-inventory/b/raw-json-data-daily/", "--full-listing-hours", "168"]
    assert _pairs(lister_entry.cli_argv(argv)) == ({
        "--store": "s3://b", "--inventory-location": "s3://reports/s3-inventory/b/raw-json-data-daily/",
        "--full-listing-hours": "168", "--job-run-id": "jr_9"}, [])


def test_no_run_id_outside_glue(resolver):
    cli = lister_entry.cli_argv(["script.py", "--store", "/data"])
    assert _pairs(cli) == ({"--store": "/data"}, [])


def test_the_real_getresolvedoptions_rejects_a_reserved_name():
    """Why the entry scripts never ask for JOB_RUN_ID: aws-glue-libs registers it itself."""
    from awsglue.utils import getResolvedOptions

    with pytest.raises(Exception, match="conflicting option string: --JOB_RUN_ID"):
        getResolvedOptions([SCRIPT, "--JOB_RUN_ID", "jr_1"], ["JOB_RUN_ID"])
