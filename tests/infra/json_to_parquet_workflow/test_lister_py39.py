"""The Python-shell lister runs Python 3.9: its import closure must stay 3.9-compatible."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[3]
RUNTIME = REPO / "runtime"


#: The packages the lister's import closure is followed into: the runtime and the contract it imports.
BUNDLED = ("runtime", "platform_contract")


def _runtime_imports(path: Path, *, in_functions: bool = True) -> set[str]:
    """``runtime.*`` and ``platform_contract.*`` modules imported by ``path``: at module level, and inside functions
    if ``in_functions``."""
    names: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text())]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in BUNDLED:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] in BUNDLED)
        if in_functions or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return names


def _module_file(name: str) -> Path | None:
    base = REPO.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_pyspark(path: Path) -> bool:
    return any(
        (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "pyspark")
        or (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "pyspark" for a in n.names))
        for n in ast.walk(ast.parse(path.read_text()))
    )


def lister_import_closure() -> list[Path]:
    """Every runtime file that ``mldp list`` (the lister entry script) can import on Glue.

    All ``runtime`` imports are followed, module-level and inside functions, with two boundaries: modules that
    import pyspark (Spark-only, never reached by the lister; Python shell has no pyspark), and the handler
    functions of the ``runtime/commands/*`` modules. The CLI imports every command module to register its
    parser, so their module-level imports are followed; their handlers run other subcommands, never ``list``.
    """
    entry = RUNTIME / "glue" / "file_lister_and_db_populator.py"
    commands_dir = RUNTIME / "commands"
    seen: dict[Path, None] = {entry: None}
    queue = [entry]
    while queue:
        path = queue.pop()
        is_command = path.parent == commands_dir and path.name != "__init__.py"
        wanted = {_module_file(n) for n in _runtime_imports(path, in_functions=not is_command)}
        if path == commands_dir / "__init__.py":  # register_commands() imports every command module
            wanted.update(commands_dir.glob("*.py"))
        parents = set()
        for file in wanted - {None}:
            rel = file.relative_to(REPO).with_suffix("").parts
            for i in range(1, len(rel)):
                parents.add(REPO.joinpath(*rel[:i]) / "__init__.py")
        for file in (wanted | parents) - {None}:
            if file.is_file() and file not in seen and not _imports_pyspark(file):
                seen[file] = None
                queue.append(file)
    return sorted(seen)


def test_lister_import_closure_is_python_39_compatible() -> None:
    closure = lister_import_closure()
    relative = [str(p.relative_to(REPO)) for p in closure]
    assert "runtime/cli.py" in relative and "runtime/jobs/lister.py" in relative, relative
    assert "platform_contract/defaults.py" in relative, relative
    for path in closure:  # the grammar of 3.9 (no match statements, no parenthesized context managers, ...)
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    vermin = Path(sys.executable).parent / "vermin"
    result = subprocess.run(
        [str(vermin), "--no-tips", "--violations", "--target=3.9-", "--no-parse-comments",
         *map(str, closure)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"not Python 3.9-compatible ({relative}):\n{result.stdout}{result.stderr}"
