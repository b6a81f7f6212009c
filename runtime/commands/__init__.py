"""Subcommands beyond the core ones in :mod:`runtime.cli`; each module registers its own parser."""

from __future__ import annotations

import argparse
from typing import Callable


def register_commands(sub: argparse._SubParsersAction, add_db_option: Callable, add_json_option: Callable) -> None:
    """Add every optional subcommand module's parsers (each sets ``handler`` via ``set_defaults``)."""
    import importlib
    import pkgutil

    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub, add_db_option, add_json_option)
