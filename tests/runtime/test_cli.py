"""The ``mldp`` mechanism itself: one registry of command modules, shared options with the defaults of
:mod:`platform_contract.defaults`, and the error contract (a user-facing error is one ``error:`` line and exit
status 2, any other exception a traceback; ``-v`` shows the traceback of both)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from platform_contract import defaults
from runtime.cli import build_parser, main
from runtime.commands import COMMANDS
from runtime.commands import status as status_command
from runtime.db.connection import DatabaseUnavailable
from runtime.db.embedded import EmbeddedPostgresError
from runtime.errors import MldpError, SpecError, UsageError
from runtime.storage.base import ObjectNotFound, ObjectStoreError

REPO = Path(__file__).resolve().parents[2]
COMMAND_NAMES = ["db", "migrate", "list", "demo", "inspect", "process", "recover", "requeue", "release", "retire",
                 "reprocess", "schema", "smoke", "snapshot", "compact", "status"]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------------------ one mechanism
def test_every_command_module_is_registered_once_in_help_order() -> None:
    assert list(_subcommands(build_parser())) == COMMAND_NAMES
    helpers = {"__init__", "options", "common", "list_from_queue"}  # list_from_queue: options of `mldp list`
    modules = {p.stem for p in (REPO / "runtime" / "commands").glob("*.py")} - helpers
    assert sorted(m.__name__.rsplit(".", 1)[1] for m in COMMANDS) == sorted(modules)
    assert len(set(COMMANDS)) == len(COMMANDS)


def test_every_subcommand_has_a_handler() -> None:
    for name, parser in _subcommands(build_parser()).items():
        assert callable(parser.get_default("handler")), name


def test_the_cli_imports_neither_spark_nor_arrow() -> None:
    """The Glue Python-shell lister imports :mod:`runtime.cli` (and so every command module) without pyspark."""
    code = ("import sys, runtime.cli; runtime.cli.build_parser(); "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'pyarrow', 'runtime.transforms'"
            ") or m.startswith(('runtime.spark', 'runtime.jobs.processor'))); print(loaded); sys.exit(bool(loaded))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------ defaults
def test_job_options_default_to_runtime_defaults() -> None:
    parser = build_parser()
    process = parser.parse_args(["process", "--store", "s3://b"])
    assert (process.batch_size, process.max_attempts, process.lease_seconds) == (
        defaults.BATCH_SIZE, defaults.MAX_ATTEMPTS, defaults.LEASE_SECONDS)
    lister = parser.parse_args(["list", "--store", "s3://b"])
    assert (lister.chunk_size, lister.parallelism) == (defaults.LISTER_CHUNK_SIZE, defaults.LISTER_PARALLELISM)
    for args in (process, lister):
        assert (args.environment, args.metrics_namespace) == (defaults.LOCAL_ENVIRONMENT, defaults.METRICS_NAMESPACE)


@pytest.mark.parametrize(("command", "shown"), [
    ("process", [f"(default {defaults.BATCH_SIZE})", f"(default {defaults.MAX_ATTEMPTS})",
                 f"(default {defaults.LEASE_SECONDS})", f"(default {defaults.LOCAL_ENVIRONMENT})",
                 f"(default {defaults.METRICS_NAMESPACE})", "(default raw-json-data/)"]),
    ("list", [f"(default {defaults.LISTER_CHUNK_SIZE})", f"(default {defaults.LOCAL_ENVIRONMENT})",
              f"(default {defaults.LISTER_PARALLELISM})"]),
    ("demo", ["(default 36)", "(default 150)", "(default 25)", "(default .mldp/demo)"]),
])
def test_help_shows_the_defaults(command: str, shown: list[str]) -> None:
    text = " ".join(_subcommands(build_parser())[command].format_help().split())
    for default in shown:
        assert default in text, default


@pytest.mark.parametrize("argv", [
    ["process", "--store", "s3://b", "--batch-size", "0"],
    ["process", "--store", "s3://b", "--max-attempts", "-1"],
    ["process", "--store", "s3://b", "--lease-seconds", "-5"],
    ["list", "--store", "s3://b", "--chunk-size", "0"],
    ["demo", "--batch-size", "many"],
])
def test_out_of_range_option_values_are_usage_errors(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert f"argument {argv[-2]}: must be" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ errors
def test_user_facing_errors_share_one_root() -> None:
    for error in (UsageError, SpecError, DatabaseUnavailable, EmbeddedPostgresError, ObjectStoreError,
                  ObjectNotFound):
        assert issubclass(error, MldpError), error
    assert issubclass(UsageError, ValueError) and issubclass(DatabaseUnavailable, RuntimeError)


def test_a_user_error_is_one_line_and_status_2(capsys) -> None:
    code, out, err = _run(capsys, "status", "--batches", "-1")
    assert (code, out) == (2, "")
    assert err.splitlines() == ["error: --batches and --errors must not be negative"]


def test_a_bad_layout_prefix_is_a_user_error_before_anything_is_opened(tmp_path, capsys) -> None:
    code, _out, err = _run(capsys, "list", "--store", str(tmp_path / "missing"), "--raw-prefix", "raw",
                           "--db", "postgresql://nobody@127.0.0.1:1/none", "--no-metrics")
    assert code == 2
    assert err.splitlines() == ["error: --raw-prefix 'raw' must be a key prefix ending in '/'"]


def test_verbose_shows_the_traceback_of_a_user_error(capsys) -> None:
    code, _out, err = _run(capsys, "-v", "status", "--batches", "-1")
    assert code == 2
    assert "Traceback (most recent call last)" in err and "runtime.errors.UsageError" in err
    assert err.splitlines()[-1] == "error: --batches and --errors must not be negative"


def _bug(args: argparse.Namespace) -> int:
    raise ValueError("a bug, not the user's")


def test_a_value_error_from_a_bug_propagates(monkeypatch) -> None:
    monkeypatch.setattr(status_command, "run", _bug)
    with pytest.raises(ValueError, match="a bug, not the user's"):
        main(["status"])
    with pytest.raises(KeyError):
        monkeypatch.setattr(status_command, "run", lambda args: {}["missing"])
        main(["-v", "status"])


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_a_bug_ends_mldp_with_a_traceback_and_a_failure_status(verbose: list[str]) -> None:
    script = ("import sys\n"
              "from runtime.commands import status\n"
              "def bug(args):\n"
              "    raise ValueError('a bug, not the user\\'s')\n"
              "status.run = bug\n"
              "from runtime.cli import main\n"
              f"sys.exit(main({[*verbose, 'status']!r}))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "ValueError: a bug, not the user's"
    assert "error: a bug" not in result.stderr
