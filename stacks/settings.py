"""The settings of an environment's configuration: one key per field, derived from the dataclasses themselves.

A configuration (:class:`stacks.config.EnvironmentConfig`) is a dataclass whose fields are either its own settings
(``allow_destroy``, ...) or *sections*: fields whose type is a props dataclass (``bucket: TrackedRawBucketProps``).
Every setting has exactly one key, derived mechanically:

* an own field is its name: ``allow_destroy``;
* a props field is ``<section>.<field>``: ``workflow.batch_size``, ``database.instance_type``.

The props fields that the configuration's production rules set are not keys (``rule_owned``); own fields marked
``field(metadata={FIXED: True})`` are keys that CDK context may not override. A key's type is the field's type hint,
and its description the field's ``#:`` comment. Nothing here lists fields by hand: :meth:`Catalog.of` walks
``dataclasses.fields()``, so a props field added to a construct is a key (and a row of ``docs/configuration.md``)
at once.

:func:`coerce` turns a context value (a ``-c`` string, or JSON from ``cdk.json``) into a field's type.
:data:`FORMER_KEYS` holds the names that are keys no more, for the error that names the key to use instead.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import enum
import inspect
import json
import re
import textwrap
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ``dataclasses.field`` metadata of an own field that context may not override (it defines the environment).
FIXED = "fixed"

#: Former keys (flat aliases before each setting had one name, and retired settings) -> (the key to use, a note).
#: A frozen record of removed names, never a list of the current fields: a test checks that each target is a key.
FORMER_KEYS: dict[str, tuple[str, str]] = {
    "alarm_topic_arn": ("alarms.existing_topic_arn", ""),
    "backlog_age_alarm_seconds": ("alarms.backlog_age_seconds", ""),
    "bucket_encryption": ("bucket.encryption", ""),
    "db_instance_type": ("database.instance_type", ""),
    "db_multi_az": ("database.multi_az", ""),
    "db_deletion_protection": ("database.deletion_protection", ""),
    "db_allocated_storage_gib": ("database.allocated_storage_gib", ""),
    "db_max_allocated_storage_gib": ("database.max_allocated_storage_gib", ""),
    "db_backup_retention_days": ("database.backup_retention_days", ""),
    "log_retention_days": (
        "database.cloudwatch_logs_retention",
        "a logs.RetentionDays name instead of days: ONE_WEEK for 7, THREE_MONTHS for 90",
    ),
    "processor_max_concurrent_runs": (
        "workflow.backfill_max_concurrent_runs",
        "the scheduled processor now always runs one at a time; set this for the parallel runs of the backfill job",
    ),
    "staging_expiry_days": (
        "bucket.glue_temp_expiry_days",
        "batch staging no longer expires: each processor run deletes the staging of closed batches, and an open "
        "batch needs its own; set this for the expiry of Glue's scratch space (_glue_temporary/ under the staging "
        "prefix)",
    ),
}

_NULL = ("", "none", "null")


@dataclass(frozen=True)
class Setting:
    """One key of a configuration: the field it names and what a reader needs to know about it."""

    #: ``allow_destroy`` or ``<section>.<field>``.
    key: str
    #: The section (``bucket``, ``database``, ...), or ``None`` for the configuration's own fields.
    section: str | None
    #: The field of that section (or of the configuration).
    field: str
    #: The field's type hint; context values are coerced to it.
    hint: Any
    #: The field's ``#:`` comment.
    description: str
    #: Context may not override it.
    fixed: bool = False

    @property
    def from_context(self) -> bool:
        """Whether context (``-c``, ``cdk.json``) can give a value of this type (not a construct or a Duration)."""
        return representable(self.hint)

    def read(self, config: Any) -> Any:
        """The value of this setting in ``config``."""
        holder = config if self.section is None else getattr(config, self.section)
        return getattr(holder, self.field)


@dataclass(frozen=True)
class Catalog:
    """Every key of a configuration type, in field order."""

    #: The settings by key.
    settings: dict[str, Setting]
    #: The section fields of the configuration and their props types.
    sections: dict[str, type]
    #: Props fields set by the production rules (not keys), by section.
    rule_owned: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, config_type: type, rule_owned: Mapping[str, Collection[str]]) -> Catalog:
        """The keys of the dataclass ``config_type``: its own fields, and ``<section>.<field>`` of each section's
        fields except the ``rule_owned`` ones."""
        hints = typing.get_type_hints(config_type)
        comments = field_comments(config_type)
        settings: dict[str, Setting] = {}
        sections: dict[str, type] = {}
        for own in dataclasses.fields(config_type):
            hint = hints[own.name]
            if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
                fixed = bool(own.metadata.get(FIXED))
                settings[own.name] = Setting(own.name, None, own.name, hint, comments[own.name], fixed)
                continue
            sections[own.name] = hint
            props_hints, props_comments = typing.get_type_hints(hint), field_comments(hint)
            for props_field in dataclasses.fields(hint):
                if props_field.name in rule_owned.get(own.name, ()):
                    continue
                key = f"{own.name}.{props_field.name}"
                settings[key] = Setting(
                    key, own.name, props_field.name, props_hints[props_field.name], props_comments[props_field.name]
                )
        owned = {section: tuple(rule_owned.get(section, ())) for section in sections}
        for section, names in rule_owned.items():
            missing = set(names) - {f.name for f in dataclasses.fields(sections[section])}
            if missing:
                raise ValueError(f"rule-owned fields {sorted(missing)} are not fields of {section!r}")
        return cls(settings, sections, owned)

    def get(self, name: str) -> Setting | None:
        """The setting with key ``name``, or ``None``."""
        return self.settings.get(name)

    def former(self, name: str) -> tuple[str, str] | None:
        """For a name that is no key but names one: ``(key, note)``; else ``None``.

        A former key (:data:`FORMER_KEYS`), or a bare field name of exactly one section (``batch_size`` ->
        ``workflow.batch_size``, with no note).
        """
        if name in FORMER_KEYS:
            return FORMER_KEYS[name]
        owners = [key for key, setting in self.settings.items() if setting.section and setting.field == name]
        return (owners[0], "") if len(owners) == 1 else None

    def close_to(self, name: str) -> list[str]:
        """Keys spelled like ``name`` (for the error of an unknown key)."""
        by_field = {setting.field: key for key, setting in self.settings.items()}
        near = difflib.get_close_matches(name.rpartition(".")[2], list(by_field), n=3, cutoff=0.75)
        return sorted({*difflib.get_close_matches(name, list(self.settings), n=3, cutoff=0.75),
                       *(by_field[field] for field in near)})

    def unknown(self, name: str, scope: str = "") -> str:
        """The end of the error for ``name``, which is not a key: the one key to use (``<scope><key>``, e.g.
        ``dev.workflow.batch_size``), or where the keys are listed."""
        section, _, field_name = name.partition(".")
        if field_name in self.rule_owned.get(section, ()):
            return "is set by the production rules (production, allow_destroy): it is not a key"
        former = self.former(name)
        if former is not None:
            key, note = former
            if name in FORMER_KEYS:
                return f"is no longer an EnvironmentConfig field: use {scope}{key}" + (f" ({note})" if note else "")
            return f"is not an EnvironmentConfig field: use {scope}{key} (a props field's key is <section>.<field>)"
        close = self.close_to(name)
        hint = f"; did you mean {' or '.join(scope + key for key in close)}?" if close else ""
        return (f"is not an EnvironmentConfig field: keys are the configuration's own fields and "
                f"<section>.<field> of {sorted(self.sections)} (docs/configuration.md){hint}")


def field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment above each field of the dataclass ``cls`` (and of the dataclasses it derives from)."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        lines, _ = inspect.getsourcelines(klass)
        (node,) = ast.parse(textwrap.dedent("".join(lines))).body
        assert isinstance(node, ast.ClassDef)
        for statement in node.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                above: list[str] = []
                index = statement.lineno - 2
                while index >= 0 and lines[index].strip().startswith("#:"):
                    above.insert(0, lines[index].strip()[2:].strip())
                    index -= 1
                comments[statement.target.id] = " ".join(above)
    return comments


# ------------------------------------------------------------------------------------------------------------
# Context values
# ------------------------------------------------------------------------------------------------------------
def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _is_mapping(hint: Any) -> bool:
    return typing.get_origin(hint) in (Mapping, dict)


def representable(hint: Any) -> bool:
    """Whether context can give a value of type ``hint``: JSON scalars, paths, enum members by name, tuples and
    string maps of those (one alternative of a union is enough)."""
    if _is_union(hint):
        return any(representable(arg) for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        return all(representable(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)
    if _is_mapping(hint):
        return True
    return hint in (str, int, float, bool, Path) or (isinstance(hint, type) and issubclass(hint, enum.Enum))


def _json(value: str, context_key: str, what: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        raise ValueError(f"context {context_key}={value!r} must be {what} in JSON") from None


def coerce(value: Any, hint: Any, context_key: str) -> Any:
    """Turn a context value (``-c`` strings, or JSON from cdk.json) into the type ``hint``; a ``ValueError``
    naming ``context_key`` for a value that cannot be one."""
    args = typing.get_args(hint)
    if _is_union(hint):
        is_null = value is None or (isinstance(value, str) and value.strip().lower() in _NULL)
        if is_null and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            return coerce(value, inner[0], context_key)
        return value if isinstance(value, str) and str in inner else coerce(value, inner[0], context_key)
    if typing.get_origin(hint) is tuple:
        return _coerce_tuple(value, args, context_key)
    if _is_mapping(hint):
        return _json(value, context_key, "an object") if isinstance(value, str) else value
    if hint is bool:
        return _coerce_bool(value, context_key)
    if hint in (int, float):
        return _coerce_number(value, hint, context_key)
    if hint is Path:
        return Path(value) if isinstance(value, str) else value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if isinstance(value, hint):
            return value
        names = [member.name for member in hint]
        if not isinstance(value, str) or value.strip() not in names:
            raise ValueError(f"context {context_key}={value!r} must be a {hint.__name__} name: one of {names}")
        return hint[value.strip()]
    if hint is str:
        return value
    name = getattr(hint, "__name__", str(hint))
    raise ValueError(f"context {context_key} cannot be set from context: a {name} is set in Python "
                     "(EnvironmentConfig.override)")


def _coerce_tuple(value: Any, args: tuple[Any, ...], context_key: str) -> tuple[Any, ...]:
    if isinstance(value, str):
        text = value.strip()
        items = _json(text, context_key, "a list") if text.startswith("[") else [
            item.strip() for item in text.split(",") if item.strip()]
    else:
        items = list(value)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(coerce(item, args[0], context_key) for item in items)
    if len(items) != len(args):
        raise ValueError(f"context {context_key}={value!r} must have {len(args)} items")
    return tuple(coerce(item, arg, context_key) for item, arg in zip(items, args, strict=True))


def _coerce_bool(value: Any, context_key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"context {context_key}={value!r} must be true or false")


def _coerce_number(value: Any, hint: type, context_key: str) -> Any:
    if isinstance(value, str):
        try:
            return hint(value)
        except ValueError:
            raise ValueError(f"context {context_key}={value!r} must be a number") from None
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


# ------------------------------------------------------------------------------------------------------------
# Showing types and values (docs/configuration.md, error messages)
# ------------------------------------------------------------------------------------------------------------
_QUALIFIED = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+([A-Za-z_]\w*)")


def type_name(hint: Any) -> str:
    """``hint`` as a reader writes it, without module paths (``int | None``, ``tuple[str, ...]``)."""
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return _QUALIFIED.sub(r"\1", str(hint).replace("typing.", "")).replace("<class '", "").replace("'>", "")


def show(value: Any, root: Path | None = None) -> str:
    """``value`` as a context value (``-c`` or ``cdk.json``); paths under ``root`` relative to it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Path):
        return str(value.relative_to(root)) if root is not None and value.is_relative_to(root) else str(value)
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, tuple):
        return json.dumps(_plain(value))
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    if hasattr(value, "to_human_string"):  # aws_cdk.Duration
        return str(value.to_human_string())
    return f"a {type(value).__name__}"


def _plain(value: Any) -> Any:
    return [_plain(item) for item in value] if isinstance(value, tuple) else value
