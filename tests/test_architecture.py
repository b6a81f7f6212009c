"""The architecture contracts of ``pyproject.toml`` (``[tool.importlinter]``): they hold, every runtime package is
in a layer, and they fail when a forbidden import is added (each contract is broken once in a copy of the tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("runtime", "platform_constructs", "platform_contract", "stacks")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages under ``root`` (they shadow the installed ones)."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "COLUMNS": "400"},  # no wrapped names
        capture_output=True, text=True, timeout=300,
    )


def contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contracts())} kept, 0 broken" in result.stdout


def test_every_runtime_package_and_module_is_in_a_layer() -> None:
    layers = next(c for c in contracts() if c["id"] == "runtime-layers")["layers"]
    named = {part.strip() for layer in layers for part in layer.replace("|", ":").split(":")}
    children = {f"runtime.{p.stem if p.is_file() else p.name}" for p in (REPO / "runtime").iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")}
    assert children - named == set(), "add each new runtime package or module to a layer of runtime-layers"


#: One forbidden import per contract: (module file to append to, the import, the contract id it breaks).
VIOLATIONS = [
    ("runtime/db/connection.py", "import runtime.jobs.batch", "runtime-layers"),
    ("platform_constructs/__init__.py", "import runtime.errors", "constructs-without-runtime"),
    ("runtime/errors.py", "import stacks", "runtime-without-cdk"),
    ("stacks/__init__.py", "import runtime.errors", "stacks-without-runtime"),
    ("platform_contract/__init__.py", "import runtime.errors", "contract-stands-alone"),
]


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.whl"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("module", "statement", "contract_id"), VIOLATIONS, ids=[v[2] for v in VIOLATIONS])
def test_a_forbidden_import_breaks_its_contract(tree_copy: Path, module: str, statement: str,
                                                contract_id: str) -> None:
    path = tree_copy / module
    original = path.read_text()
    path.write_text(original + f"\n{statement}  # added by the test\n")
    try:
        result = lint_imports(tree_copy)
    finally:
        path.write_text(original)
    contract = next(c for c in contracts() if c["id"] == contract_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract['name']} BROKEN" in result.stdout


def import_cycles(packages: tuple[str, ...] = PACKAGES) -> list[list[str]]:
    """The groups of our modules that import each other in a cycle, ``TYPE_CHECKING`` imports included (Tarjan's
    strongly connected components over grimp's import graph)."""
    import grimp

    graph = grimp.build_graph(*packages, exclude_type_checking_imports=False)
    ours = {m for m in graph.modules if m.split(".")[0] in packages}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module) & ours:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(ours):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_not_even_under_type_checking() -> None:
    assert import_cycles() == []


def test_an_import_cycle_is_found(tree_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tree_copy / "platform_contract" / "defaults.py"
    original = path.read_text()
    path.write_text(original + "\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    import platform_contract.metrics  # added by the test\n")
    metrics = tree_copy / "platform_contract" / "metrics.py"
    metrics_original = metrics.read_text()
    metrics.write_text(metrics_original + "\nimport platform_contract.defaults  # added by the test\n")
    monkeypatch.syspath_prepend(str(tree_copy))
    for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
        monkeypatch.delitem(sys.modules, name)
    try:
        assert import_cycles() == [["platform_contract.defaults", "platform_contract.metrics"]]
    finally:
        path.write_text(original)
        metrics.write_text(metrics_original)


#: The longest a module of the product may be: past it, a module holds more than one job (issue 17).
MAX_MODULE_LINES = 400


def test_no_product_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(REPO)): n for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these along a real seam (at most {MAX_MODULE_LINES} lines each): {long}"
