"""Run the mutation check: for each mutation of :mod:`tests.mutations.catalog`, a copy of the working tree with the
mutation applied, its mapped tests run there, and a verdict: killed (the tests failed) or survived.

Each run gets a directory of its own (``git ls-files`` of the tracked and the untracked, non-ignored files, so
uncommitted work is checked too), with its own embedded PostgreSQL (the test session starts one under the copy's
``.mldp/``) and its own temporary files (``TMPDIR``, ``SPARK_LOCAL_DIRS`` and the JVM's ``java.io.tmpdir``
point into the copy): runs share nothing, so up to one per core run at once. A baseline run of every mapped test
on an unmutated copy comes first: a mapped test that fails without any mutation would make every verdict
meaningless.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.mutations.catalog import Mutation

KILLED, SURVIVED, STALE, MISSING, ERROR, PASSED = (
    "killed", "SURVIVED", "NO LONGER APPLIES", "mapped test missing", "ERROR", "passed")
#: Verdicts that make the check fail (MISSING too, unless the mutation is pending).
FAILING = {SURVIVED, STALE, ERROR}
#: Variables of the caller's environment that would make a run share a server or skip tests.
DROPPED_ENV = ("TEST_DATABASE_SERVER_URL", "MLDP_TEST_TIER", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
               "PYTEST_XDIST_TESTRUNUID", "PYTHONPATH", "MLDP_HOME", "MLDP_PG_PORT", "SPARK_SUBMIT_OPTS")
#: pytest's exit status when tests ran and some failed (``pytest.ExitCode.TESTS_FAILED``).
TESTS_FAILED = 1


class NoLongerApplies(Exception):
    """A mutation's snippet is not in its file exactly once: the catalog must be updated."""


@dataclass
class Result:
    """The verdict on one mutation (``number`` 0: the baseline)."""

    number: int
    name: str
    tests: tuple[str, ...]
    verdict: str
    seconds: float = 0.0
    detail: str = ""
    pending: str = ""

    @property
    def fails_the_check(self) -> bool:
        return self.verdict in FAILING or (self.verdict == MISSING and not self.pending) or (
            self.number == 0 and self.verdict != PASSED)


@dataclass
class Options:
    """How to run: the repository, the Python of its .venv, parallel runs, repeats, where copies and logs go."""

    repo: Path
    python: str
    jobs: int = 1
    repeat: int = 1
    baseline: bool = True
    keep: bool = False
    workdir: Path | None = None
    logs: Path = field(default_factory=lambda: Path(".mldp/mutation-check"))


# -- the mutations themselves --------------------------------------------------------------------------------------

def mutated_texts(root: Path, number: int, mutation: Mutation) -> dict[str, str]:
    """The new text of each file ``mutation`` edits under ``root`` (nothing written). Raises
    :class:`NoLongerApplies` when a snippet does not occur exactly once."""
    texts: dict[str, str] = {}
    for edit in mutation.edits:
        path = root / edit.path
        if edit.path not in texts:
            texts[edit.path] = path.read_text() if path.is_file() else ""
        count = texts[edit.path].count(edit.find)
        if count != 1:
            raise NoLongerApplies(
                f"mutation {number} no longer applies: update it ({mutation.name}: {edit.path} holds the snippet "
                f"{count} times, not once: {edit.find!r})")
        texts[edit.path] = texts[edit.path].replace(edit.find, edit.replace, 1)
    return texts


def apply(root: Path, number: int, mutation: Mutation) -> None:
    """Write ``mutation`` into the tree at ``root`` (a copy: never the working tree)."""
    for relative, text in mutated_texts(root, number, mutation).items():
        (root / relative).write_text(text)


def missing_tests(root: Path, node_ids: Iterable[str]) -> list[str]:
    """The node ids whose file, or whose test function or class in that file, does not exist under ``root``."""
    missing = []
    for node_id in node_ids:
        path, *names = node_id.split("::")
        file = root / path
        source = file.read_text() if file.is_file() else None
        if source is None or any(not _defines(source, re.sub(r"\[.*\]$", "", name)) for name in names):
            missing.append(node_id)
    return missing


def _defines(source: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\b", source, re.MULTILINE) is not None


# -- copies of the working tree --------------------------------------------------------------------------------------

def source_files(repo: Path) -> list[str]:
    """Tracked files and untracked files git does not ignore, as they are in the working tree now."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                            check=True, capture_output=True).stdout.decode().split("\0")
    return [name for name in dict.fromkeys(listed) if name and ((repo / name).is_file() or (repo / name).is_symlink())]


def copy_tree(repo: Path, files: Sequence[str], options: Options, label: str) -> Path:
    """A new directory holding ``files`` of ``repo``, readable by a server that runs as another user."""
    copy = Path(tempfile.mkdtemp(prefix=f"mldp-mutation-{label}-", dir=options.workdir))
    copy.chmod(0o755)  # as root, the embedded PostgreSQL runs as 'postgres' and must reach its data directory
    for name in files:
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target, follow_symlinks=False)
    return copy


def run_environment(copy: Path) -> dict[str, str]:
    """The environment of a run in ``copy``: its own code first on the path, its temporary files inside it."""
    env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    tmp = copy / ".mutation-tmp"
    (tmp / "spark").mkdir(parents=True, exist_ok=True)
    env.update(TMPDIR=str(tmp), SPARK_LOCAL_DIRS=str(tmp / "spark"), MLDP_HOME=str(copy / ".mldp"),
               SPARK_SUBMIT_OPTS=f"-Djava.io.tmpdir={tmp}", PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    return env


def check_imports_from(copy: Path, python: str, env: dict[str, str]) -> None:
    """Fail unless ``runtime`` and ``tests`` are imported from ``copy`` (not from an editable install)."""
    probe = subprocess.run([python, "-c", "import runtime, tests; print(runtime.__file__); print(tests.__file__)"],
                           cwd=copy, env=env, capture_output=True, text=True, check=True)
    if any(not Path(line).resolve().is_relative_to(copy.resolve()) for line in probe.stdout.split()):
        raise RuntimeError(f"the run in {copy} would test other code: {probe.stdout.split()}")


def stop_leftover_servers(copy: Path) -> None:
    """Stop an embedded PostgreSQL a run left behind (a test session killed before its teardown)."""
    from runtime.db.embedded import EmbeddedPostgres

    for pid_file in copy.glob(".mldp/**/postmaster.pid"):
        EmbeddedPostgres(data_root=pid_file.parent.parent).stop()


# -- one run ---------------------------------------------------------------------------------------------------------

def pytest_command(python: str, tests: Sequence[str], stop_at_first_failure: bool = True) -> list[str]:
    """The command a run executes in its copy."""
    return [python, "-m", "pytest", *tests, *(["-x"] if stop_at_first_failure else []), "-q", "-p",
            "no:cacheprovider"]


def verdict_of(exit_codes: Sequence[int], repeat: int) -> tuple[str, str]:
    """Killed when every run's tests failed; survived when any run passed; otherwise an error."""
    if exit_codes and all(code == TESTS_FAILED for code in exit_codes):
        return KILLED, f"{len(exit_codes)} of {repeat} runs failed" if repeat > 1 else ""
    passed = sum(code == 0 for code in exit_codes)
    if passed:
        return SURVIVED, f"the tests passed in {passed} of {len(exit_codes)} runs"
    return ERROR, f"pytest exit statuses {list(exit_codes)} (2: collection errors or interrupted, 3-5: internal, " \
                  "usage, no tests)"


def run_mutation(number: int, mutation: Mutation, files: Sequence[str], options: Options) -> Result:
    """Copy, mutate, run the mapped tests (``repeat`` times, stopping at the first run they pass), judge."""
    started = time.monotonic()
    result = Result(number, mutation.name, mutation.tests, ERROR, pending=mutation.pending)
    try:
        mutated_texts(options.repo, number, mutation)
    except NoLongerApplies as stale:
        result.verdict, result.detail = STALE, str(stale)
        return result
    missing = missing_tests(options.repo, mutation.tests)
    if missing:
        result.verdict = MISSING
        result.detail = "not written yet: " + ", ".join(missing) + (f" (pending: {mutation.pending})"
                                                                     if mutation.pending else "")
        return result
    copy = copy_tree(options.repo, files, options, f"{number:02d}")
    try:
        apply(copy, number, mutation)
        result.verdict, result.detail = _run_tests(copy, number, mutation.tests, options, baseline=number == 0)
    except NoLongerApplies as stale:
        result.verdict, result.detail = STALE, str(stale)
    finally:
        _dispose(copy, options)
        result.seconds = time.monotonic() - started
    return result


def _run_tests(copy: Path, number: int, tests: Sequence[str], options: Options, baseline: bool) -> tuple[str, str]:
    env = run_environment(copy)
    check_imports_from(copy, options.python, env)
    log = options.logs / f"{number:02d}.log"
    codes: list[int] = []
    with log.open("w") as out:
        for attempt in range(1 if baseline else options.repeat):
            out.write(f"$ {' '.join(pytest_command(options.python, tests, not baseline))}  # run {attempt + 1}\n")
            out.flush()
            codes.append(subprocess.run(pytest_command(options.python, tests, not baseline), cwd=copy, env=env,
                                        stdout=out, stderr=subprocess.STDOUT).returncode)
            if codes[-1] != TESTS_FAILED:
                break
    if baseline:
        return (PASSED, "") if codes == [0] else (ERROR, f"the mapped tests fail without any mutation (exit "
                                                         f"{codes[0]}): every verdict is meaningless; see {log}")
    verdict, detail = verdict_of(codes, options.repeat)
    return verdict, detail + (f"; see {log}" if verdict != KILLED else "")


def _dispose(copy: Path, options: Options) -> None:
    stop_leftover_servers(copy)
    if not options.keep:
        shutil.rmtree(copy, ignore_errors=True)


# -- the whole check -------------------------------------------------------------------------------------------------

def baseline_mutation(mutations: Sequence[Mutation], repo: Path) -> Mutation:
    """No edit; every mapped test that exists, once."""
    tests = dict.fromkeys(t for m in mutations for t in m.tests if not missing_tests(repo, [t]))
    return Mutation("baseline: no mutation, every mapped test must pass", (), tuple(tests))


def run_all(selected: Sequence[tuple[int, Mutation]], options: Options,
            report: Callable[[Result], None] = lambda result: None) -> list[Result]:
    """Every selected mutation (and the baseline first), up to ``options.jobs`` at once; results in catalog order."""
    options.logs.mkdir(parents=True, exist_ok=True)
    files = source_files(options.repo)
    work = list(selected)
    if options.baseline:
        work.insert(0, (0, baseline_mutation([m for _, m in selected], options.repo)))

    def one(item: tuple[int, Mutation]) -> Result:
        result = run_mutation(item[0], item[1], files, options)
        report(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        results = list(pool.map(one, work))
    return sorted(results, key=lambda r: r.number)


def format_results(results: Sequence[Result], seconds: float) -> str:
    """The report: each mutation with its mapped tests and verdict, then the totals and the time."""
    lines = ["", "mutation check", ""]
    for r in results:
        label = "baseline" if r.number == 0 else f"{r.number:>8}"
        lines.append(f"{label}  {r.verdict:<19} {r.seconds:7.1f} s  {r.name}")
        lines.extend(f"{'':10}{'':20}{'':11}{test}" for test in r.tests)
        if r.detail:
            lines.append(f"{'':10}{'':20}{'':11}-> {r.detail}")
    counts = {v: sum(r.verdict == v for r in results if r.number) for v in (KILLED, SURVIVED, STALE, MISSING, ERROR)}
    lines += ["", ", ".join(f"{n} {v}" for v, n in counts.items() if n) + f"; total time {seconds:.0f} s"]
    return "\n".join(lines)


def default_python(repo: Path) -> str:
    """The project's .venv Python, else this one."""
    venv = repo / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable
