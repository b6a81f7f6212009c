"""Temporary alias of :mod:`platform_constructs._shared.validation`.

``stacks/config.py``, ``stacks/config_keys.py`` and ``tests/infra/test_config.py`` import this old path (issue 17:
another branch rewrites them). Delete this module once they import the new one."""

from platform_constructs._shared.validation import PropsError, changed_fields, check_environment_name, check_field_types

__all__ = ["PropsError", "changed_fields", "check_environment_name", "check_field_types"]
