"""The contract package both halves import (``platform_contract``): its values, and that it stays a leaf (it imports
neither half, nor any third-party package), so the Glue jobs and the constructs can both import it."""

from __future__ import annotations

import ast
from pathlib import Path

from platform_contract import defaults, environment, layout, metrics, outputs

CONTRACT = Path(__file__).resolve().parents[2] / "platform_contract"


def test_the_contracts_defaults() -> None:
    assert (defaults.BATCH_SIZE, defaults.MAX_ATTEMPTS, defaults.LEASE_SECONDS) == (1000, 3, 300)
    assert defaults.MIN_LEASE_SECONDS < defaults.LEASE_SECONDS and defaults.MAX_ATTEMPTS_LIMIT == 100
    assert metrics.DEFAULT_NAMESPACE == defaults.METRICS_NAMESPACE == "MlDataPlatform"
    assert metrics.ENVIRONMENT_DIMENSION == "Environment"


def test_environment_names_follow_one_rule() -> None:
    for good in ("dev", "prod", "prod-eu", "a" * 20):
        assert environment.is_environment_name(good), good
    for bad in ("", "Dev", "1prod", "a" * 21, "prod_eu", None, 3):
        assert not environment.is_environment_name(bad), bad
    assert environment.is_environment_name(defaults.LOCAL_ENVIRONMENT)


def test_the_layout_prefixes_are_folders() -> None:
    prefixes = [getattr(layout, name) for name in layout.__all__ if name.endswith("_PREFIX")]
    assert prefixes and all(p.endswith("/") and not p.startswith("/") for p in prefixes)
    assert layout.HISTORICAL_PREFIX.startswith(layout.RAW_PREFIX)


def test_every_output_has_a_description() -> None:
    keys = {v for k, v in vars(outputs).items() if k.isupper() and isinstance(v, str)}
    assert keys == set(outputs.DESCRIPTIONS)
    assert set(outputs.SMOKE_OUTPUTS) <= keys


def test_the_contract_imports_nothing_but_the_standard_library_and_itself() -> None:
    allowed = {"__future__", "re", "platform_contract"}
    for path in sorted(CONTRACT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert {n.split(".")[0] for n in names} <= allowed, (path.name, names)
