"""Job arguments of the Glue entry scripts, turned into an ``mldp`` command line, so a Glue run and a laptop run
execute the same code.

What Glue passes (the contract this module follows): ``sys.argv`` is the script path, then Glue's own arguments
(``--JOB_ID``, ``--JOB_RUN_ID``, ``--JOB_NAME``, ``--job-bookmark-option``, ``--TempDir``, ``--enable-*``,
``--extra-py-files``, ...; a Python-shell run passes fewer of them), then the job's DefaultArguments merged with
the run's Arguments (a run's value replaces the default of the same name), each as ``--name value``.

With ``awsglue`` importable, ``awsglue.utils.getResolvedOptions`` parses them, exactly as aws-glue-libs'
``awsglue/utils.py`` does: it skips ``argv[0]``, registers Glue's reserved options itself (``--JOB_RUN_ID``
among them, from ``Job.id_params()``: asking for a reserved name raises), and makes every option it is asked
for *required*. So this module asks only for the options present in ``argv``, never for a reserved one, and
reads the run id from what ``getResolvedOptions`` returns on its own. Without ``awsglue`` (a laptop, or a
Python-shell image without it), a plain parser with the same rules gives the same result.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Glue's own run id argument, registered by ``getResolvedOptions`` itself (``Job.id_params()``).
GLUE_RUN_ID = "JOB_RUN_ID"


def _given(args: Sequence[str], name: str) -> bool:
    flag = f"--{name}"
    return any(a == flag or a.startswith(flag + "=") for a in args)


def _plain_options(args: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """``--name value`` / ``--name=value`` pairs of ``args`` for ``names`` (the last occurrence wins)."""
    wanted = set(names)
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("--"):
            name, sep, value = token[2:].partition("=")
            if not sep and i + 1 < len(args) and not args[i + 1].startswith("--"):
                value = args[i + 1]
                i += 1
            if name in wanted:
                found[name] = value
        i += 1
    return found


def _glue_resolver():
    """``awsglue.utils.getResolvedOptions``, or ``None`` where ``awsglue`` is not installed."""
    try:
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        return None
    return getResolvedOptions


def resolve_options(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """The values of the options ``names`` present in ``argv``, plus Glue's run id under :data:`GLUE_RUN_ID`.

    ``argv`` is ``sys.argv`` as Glue passes it: the script path first. Options not in ``names`` (Glue's own,
    ``--enable-metrics``, ...) are ignored; an absent option is left out (its ``mldp`` default applies).
    """
    args = list(argv[1:])
    present = [n for n in names if n != GLUE_RUN_ID and _given(args, n)]
    resolver = _glue_resolver()
    if resolver is None:
        return _plain_options(args, [*present, GLUE_RUN_ID])
    resolved = resolver(list(argv), present)
    options = {n: resolved[n.replace("-", "_")] for n in present}
    if resolved.get(GLUE_RUN_ID):
        options[GLUE_RUN_ID] = resolved[GLUE_RUN_ID]
    return options


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


def job_cli_argv(command: str, argv: Sequence[str], names: Sequence[str], flags: Sequence[str] = ()) -> list[str]:
    """The ``mldp <command> ... --json`` command line of a Glue job run with ``sys.argv`` ``argv``."""
    options = resolve_options(argv, names)
    return [*to_cli_argv(command, options, flags=flags, rename={GLUE_RUN_ID: "job-run-id"}), "--json"]
