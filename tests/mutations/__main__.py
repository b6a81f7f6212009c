"""``python -m tests.mutations``: run the mutation check (see :mod:`tests.mutations`); exit status 1 when a mutation
survives, no longer applies, cannot be run, or the baseline fails."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.mutations.catalog import MUTATIONS, Mutation
from tests.mutations.check import Options, Result, default_python, format_results, run_all

REPO = Path(__file__).resolve().parents[2]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.mutations", description=__doc__)
    parser.add_argument("--only", nargs="+", metavar="N|TEXT",
                        help="run only these mutations: their numbers, or text found in their names")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="runs at once (default: the number of CPUs)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each mutation's tests this many times: killed only if they fail every time")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of every mapped test unmutated")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies (to inspect a survivor)")
    parser.add_argument("--workdir", type=Path, help="where the copies go (default: the system temp directory)")
    parser.add_argument("--python", default=default_python(REPO), help="the Python that runs pytest")
    parser.add_argument("--list", action="store_true", help="list the mutations and their tests, run nothing")
    return parser.parse_args(argv)


def select(only: Sequence[str] | None) -> list[tuple[int, Mutation]]:
    """The numbered mutations ``--only`` names (all without it)."""
    numbered = list(enumerate(MUTATIONS, start=1))
    if not only:
        return numbered
    numbers = {text for text in only if text.isdigit()}
    texts = [text for text in only if not text.isdigit()]
    return [(n, m) for n, m in numbered if str(n) in numbers or any(text in m.name for text in texts)]


def print_progress(result: Result) -> None:
    label = "baseline" if result.number == 0 else f"mutation {result.number}"
    print(f"  {label}: {result.verdict} ({result.seconds:.1f} s) {result.name}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    selected = select(args.only)
    if args.list or not selected:
        for number, mutation in selected:
            print(f"{number:>3}  {mutation.name}" + (" [pending]" if mutation.pending else ""))
            print("".join(f"       {test}\n" for test in mutation.tests), end="")
        return 0 if selected or args.list else 2
    options = Options(REPO, args.python, jobs=args.jobs, repeat=max(1, args.repeat),
                      baseline=not args.no_baseline, keep=args.keep, workdir=args.workdir,
                      logs=REPO / ".mldp" / "mutation-check")
    print(f"mutation check: {len(selected)} mutations, {options.jobs} at a time"
          f"{', baseline first' if options.baseline else ''}; logs in {options.logs}", flush=True)
    started = time.monotonic()
    results = run_all(selected, options, print_progress)
    print(format_results(results, time.monotonic() - started))
    return 1 if any(r.fails_the_check for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
