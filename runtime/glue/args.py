"""Job arguments for the Glue entry scripts: Glue job arguments (``getResolvedOptions``) when ``awsglue`` is
importable, plain command-line arguments otherwise. Either way the result is an ``mldp`` command line, so a Glue
run and a laptop run execute the same code."""

from __future__ import annotations

from collections.abc import Sequence

#: Glue's own run id argument, passed to every job run.
GLUE_RUN_ID = "JOB_RUN_ID"


def _plain_options(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    wanted = set(names)
    found: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--"):
            name, sep, value = token[2:].partition("=")
            if not sep and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            if name in wanted:
                found[name] = value
        i += 1
    return found


def resolve_options(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """The values of the options ``names`` present in ``argv`` (``--name value``); others are ignored.

    Glue passes many arguments of its own (``--JOB_NAME``, ``--TempDir``, ``--enable-metrics``, ...); only the
    named ones are returned. With ``awsglue`` importable its ``getResolvedOptions`` parses them.
    """
    present = [n for n in names if f"--{n}" in argv or any(a.startswith(f"--{n}=") for a in argv)]
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        return _plain_options(argv, present)
    resolved = getResolvedOptions(list(argv), present)
    return {n: resolved.get(n, resolved.get(n.replace("-", "_"))) for n in present}


def to_cli_argv(command: str, options: dict[str, str], flags: Sequence[str] = (),
                rename: dict[str, str] | None = None) -> list[str]:
    """An ``mldp`` argv: ``[command, --opt, value, ...]``; boolean ``flags`` are emitted bare when ``true``."""
    rename = rename or {}
    argv = [command]
    for name, value in options.items():
        option = rename.get(name, name)
        if name in flags:
            if str(value).lower() in ("1", "true", "yes"):
                argv.append(f"--{option}")
            continue
        argv += [f"--{option}", value]
    return argv
