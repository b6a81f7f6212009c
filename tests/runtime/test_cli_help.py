"""``mldp COMMAND --help`` describes the command's actions, shows every default and gives examples that are
correct: each example parses with the real parser, and partitions are written as the pipeline writes them."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest

from runtime.cli import build_parser
from runtime.commands.db import ACTIONS
from runtime.commands.options import EXAMPLES

#: The commands whose every option must name its default (``list`` and ``smoke`` have options of their own owners).
DOCUMENTED = ["db", "migrate", "demo", "inspect", "process", "requeue", "release", "status"]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def help_text(command: str) -> str:
    return subcommands()[command].format_help()


def test_every_command_of_the_newcomer_path_has_examples_in_its_help() -> None:
    for name in [*DOCUMENTED, "list"]:
        assert name in EXAMPLES, name
        assert "\nexamples:\n" in help_text(name), name


@pytest.mark.parametrize(("command", "example"), [(c, e) for c, examples in EXAMPLES.items() for e, _ in examples])
def test_every_example_parses(command: str, example: str) -> None:
    words = shlex.split(example)
    assert words[:2] == ["mldp", command], example
    args = build_parser().parse_args(words[1:])
    assert args.command == command and callable(args.handler)


@pytest.mark.parametrize("command", DOCUMENTED)
def test_every_option_names_its_default(command: str) -> None:
    for action in subcommands()[command]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS or action.required:
            continue
        if isinstance(action, (argparse._HelpAction, argparse._StoreTrueAction)) and action.dest != "drain":
            continue
        assert "default" in (action.help or ""), f"mldp {command} {action.option_strings[0]}: {action.help!r}"


def test_db_help_describes_each_action() -> None:
    text = help_text("db")
    for action, what in ACTIONS.items():
        assert re.search(rf"^  {action}\s+{re.escape(what)}$", text, re.M), action
    assert "data_platform_db" in text and "$DATABASE_URL" in text


def test_partition_examples_are_written_as_the_pipeline_writes_them() -> None:
    """Partition values are numbers (``month=1``), never zero-padded (``month=01`` matches no partition)."""
    text = " ".join(help_text("inspect").split())
    assert "year=2024/month=1/" in text
    for command in subcommands():
        assert not re.search(r"(month|day)=0\d", help_text(command)), command


def test_process_help_shows_its_defaults() -> None:
    text = " ".join(help_text("process").split())
    for shown in ("(default: process one batch)", "(default: none, drain until nothing is claimable)",
                  "(default: local-<12 hex digits>; Glue passes JOB_RUN_ID)", "default: the packaged default spec)"):
        assert shown in text, shown
