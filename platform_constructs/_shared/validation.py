"""The rules that several props types (and the stacks' configuration) apply, each written once.

Every check raises :class:`PropsError`, a ``ValueError`` whose message starts with ``<Owner>.<field>`` and says
what to fix. It also carries ``owner``, ``field`` and ``problem`` separately, so that the stack configuration
(``stacks.config``), which holds the constructs' own props types, can report the same problem under the
context key the user typed (``prod.database.instance_type ...``) without a second copy of the
rule.

What lives here: environment names (one rule, :data:`platform_contract.environment.ENVIRONMENT_NAME_PATTERN`),
metric namespaces, S3 key prefixes, physical-name suffixes, bucket names, e-mail addresses, SNS topic ARNs,
minimums, the generic type check of props fields, mutually exclusive props, and the production rule for
``RemovalPolicy.DESTROY``. Rules that only one props type applies stay next to that type.

No ``aws_cdk`` import at module level: only :func:`is_token` needs it, and imports it when called.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

from platform_contract.environment import ENVIRONMENT_NAME  # the one rule (workflow, alarms, stack configuration)

METRICS_NAMESPACE = re.compile(r"^[A-Za-z0-9_./#:-]{1,255}$")
"""A custom CloudWatch namespace; it must also not start with ``AWS/`` (reserved)."""
NAME_SUFFIX = re.compile(r"^[A-Za-z0-9_-]{0,40}$")
"""A suffix appended to physical names (Glue jobs, triggers, workflow, connection)."""
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
"""An S3 bucket name (and no ``..``)."""
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
"""An e-mail address SNS accepts for an ``email`` subscription."""
SNS_TOPIC_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$")
"""A standard SNS topic ARN in any partition (CloudWatch alarm actions cannot publish to FIFO topics)."""


class PropsError(ValueError):
    """A props (or configuration) field holds a value that cannot work.

    ``str(error)`` is ``"<owner>.<field> <problem>"``; the parts are kept so that a caller holding the props under
    another name (the stack configuration and its context keys) can say the same thing in its own terms.
    """

    def __init__(self, owner: str, field: str, problem: str) -> None:
        super().__init__(self.say(f"{owner}.{field}", problem))
        self.owner = owner
        self.field = field
        self.problem = problem

    @staticmethod
    def say(label: str, problem: str) -> str:
        """``label`` and ``problem`` as one sentence (``x=True requires ...`` reads as one assignment)."""
        return f"{label}{'' if problem.startswith('=') else ' '}{problem}"


def is_token(value: object) -> bool:
    """Whether ``value`` is an unresolved CDK token (a value known only at deployment), which no rule can check."""
    from aws_cdk import Token

    return isinstance(value, str) and Token.is_unresolved(value)


# ------------------------------------------------------------------------------------------------------------
# Names
# ------------------------------------------------------------------------------------------------------------
def check_environment_name(owner: str, value: str, field: str = "environment_name") -> None:
    """``value`` must match :data:`ENVIRONMENT_NAME` (``dev``, ``prod``, ``prod-eu``...)."""
    if not isinstance(value, str) or not ENVIRONMENT_NAME.match(value):
        raise PropsError(
            owner, field,
            f"{value!r} must be 1-20 lowercase letters, digits or '-', starting with a letter (e.g. 'dev', 'prod')",
        )


def check_metrics_namespace(owner: str, value: str, field: str = "metrics_namespace") -> None:
    """``value`` must be a custom CloudWatch namespace (:data:`METRICS_NAMESPACE`, not ``AWS/...``)."""
    if not METRICS_NAMESPACE.match(value) or value.startswith("AWS/"):
        raise PropsError(
            owner, field,
            f"{value!r} must be 1-255 characters of letters, digits or ._-/#: and must not start with 'AWS/'",
        )


def check_name_suffix(owner: str, value: str, field: str = "name_suffix") -> None:
    """``value`` must be a physical-name suffix (:data:`NAME_SUFFIX`)."""
    if not NAME_SUFFIX.match(value):
        raise PropsError(owner, field, f"{value!r} may only use letters, digits, '-' and '_' (<= 40)")


def check_bucket_name(owner: str, value: str | None, field: str = "bucket_name") -> None:
    """``value`` must be ``None`` (a generated name), a token, or a valid S3 bucket name."""
    if value is None or is_token(value):
        return
    if not BUCKET_NAME.match(value) or ".." in value:
        raise PropsError(
            owner, field,
            f"{value!r} is not a valid S3 bucket name: use 3-63 lowercase letters, digits, dots or hyphens, "
            "starting and ending with a letter or digit, or None to let CloudFormation name the bucket",
        )


def check_email_addresses(owner: str, values: Sequence[str], field: str = "alarm_emails") -> None:
    """``values`` must be a tuple of distinct e-mail addresses (:data:`EMAIL`)."""
    if isinstance(values, str):
        raise PropsError(owner, field, "must be a tuple of addresses, not one string")
    for email in values:
        if not isinstance(email, str) or not EMAIL.match(email):
            raise PropsError(
                owner, field,
                f"has {email!r}, which is not an e-mail address: use name@domain.tld (e.g. 'data-oncall@example.com')",
            )
    if len(set(values)) != len(values):
        raise PropsError(owner, field, "lists an address twice; remove the duplicate")


def sns_topic_arn_problem(arn: str) -> str | None:
    """Why ``arn`` cannot be an alarm topic (``None`` if it can): it must be a standard SNS topic ARN."""
    if arn.endswith(".fifo"):
        return f"{arn!r} is a FIFO topic; CloudWatch alarms can only notify standard SNS topics"
    if not SNS_TOPIC_ARN.match(arn):
        return f"{arn!r} is not an SNS topic ARN (expected arn:<partition>:sns:<region>:<account-id>:<topic-name>)"
    return None


def check_sns_topic_arn(owner: str, value: str | None, field: str) -> None:
    """``value`` must be ``None``, a token, or a standard SNS topic ARN (:func:`sns_topic_arn_problem`)."""
    if value is None or is_token(value):
        return
    if (problem := sns_topic_arn_problem(value)) is not None:
        raise PropsError(owner, field, problem)


# ------------------------------------------------------------------------------------------------------------
# S3 key prefixes
# ------------------------------------------------------------------------------------------------------------
def check_prefix(owner: str, field: str, value: str) -> None:
    """``value`` must be a key prefix a grant or lifecycle rule can be scoped to: ``stage/`` or ``a/b/``."""
    if not isinstance(value, str) or not value or not value.endswith("/") or value.startswith("/") or "*" in value:
        raise PropsError(
            owner, field,
            f"{value!r} must be a non-empty key prefix that ends with '/', does not start with '/' and has no '*', "
            "e.g. 'raw-json-data/'",
        )


def check_disjoint_prefixes(owner: str, prefixes: Mapping[str, str]) -> None:
    """No prefix of ``prefixes`` (field name -> prefix) may contain another: each stage needs its own."""
    items = list(prefixes.items())
    for i, (field_a, prefix_a) in enumerate(items):
        for field_b, prefix_b in items[i + 1:]:
            if prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a):
                raise PropsError(
                    owner, field_a,
                    f"{prefix_a!r} and {field_b} {prefix_b!r} overlap: each stage needs its own prefix so that "
                    "lifecycle rules and grants stay scoped (readers of the curated prefix must never see staging "
                    "objects)",
                )


# ------------------------------------------------------------------------------------------------------------
# Numbers and choices
# ------------------------------------------------------------------------------------------------------------
def check_at_least(owner: str, minimums: Mapping[str, tuple[float, float]], unit: str = "") -> None:
    """Each ``field -> (value, minimum)`` of ``minimums`` must have ``value >= minimum`` (``unit``: e.g. ``day``)."""
    for field, (value, minimum) in minimums.items():
        if value < minimum:
            bound = f"at least {minimum} {unit}{'' if minimum == 1 else 's'}" if unit else f">= {minimum}"
            raise PropsError(owner, field, f"must be {bound}, got {value!r}")


def check_one_of(owner: str, field: str, value: object, allowed: Iterable[object], why: str = "") -> None:
    """``value`` must be one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise PropsError(owner, field, f"must be one of {allowed}{why}, got {value!r}")


# ------------------------------------------------------------------------------------------------------------
# Types and shapes of props fields
# ------------------------------------------------------------------------------------------------------------
@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits ``hint``; types this check cannot judge (constructs, jsii interfaces) always fit."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(item, args[0]) for item in value)
        return len(args) == len(value) and all(_matches(item, arg) for item, arg in zip(value, args, strict=True))
    if origin in (Mapping, dict):
        return isinstance(value, Mapping) and all(
            _matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items()
        )
    if origin is Sequence:
        return isinstance(value, Sequence) and not isinstance(value, str)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type) and issubclass(hint, PurePath):
        return isinstance(value, str | os.PathLike)
    if isinstance(hint, type):
        try:
            return isinstance(value, hint)
        except TypeError:  # a jsii interface (typing.Protocol): cannot be checked here
            return True
    return True


def type_label(hint: Any) -> str:
    """``hint`` as a reader would write it (``int``, ``tuple[str, ...] | None``)."""
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "").replace("collections.abc.", "")


def check_field_types(props: Any, owner: str | None = None, only: Iterable[str] | None = None) -> None:
    """Every field of the dataclass ``props`` (or those named in ``only``) must hold a value of its annotated type.

    Catches what Python does not (``batch_size="100"``, ``alarm_emails=["a@b"]``) before a later rule fails with
    a confusing message; fields typed with constructs or jsii interfaces are not checked.
    """
    owner = owner or type(props).__name__
    hints = _hints(type(props))
    wanted = None if only is None else set(only)
    for f in dataclasses.fields(props):
        if wanted is not None and f.name not in wanted:
            continue
        value = getattr(props, f.name)
        if not _matches(value, hints[f.name]):
            raise PropsError(owner, f.name, f"must be of type {type_label(hints[f.name])}, got {value!r}")


def check_string_map(owner: str, field: str, value: Mapping[str, str]) -> None:
    """``value`` must map strings to strings (job arguments, Spark properties)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PropsError(owner, field, f"must map strings to strings, got {value!r}")


def field_default(props: Any, name: str) -> Any:
    """The dataclass default of field ``name`` of ``props`` (``dataclasses.MISSING`` for a required field)."""
    (f,) = [f for f in dataclasses.fields(props) if f.name == name]
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def changed_fields(props: Any, names: Iterable[str]) -> list[str]:
    """The fields among ``names`` whose value differs from their dataclass default."""
    return [name for name in names if getattr(props, name) != field_default(props, name)]


def check_exclusive(props: Any, field: str, ignored: Iterable[str], why: str, owner: str | None = None) -> None:
    """When ``field`` is set (not ``None``), none of ``ignored`` may differ from its default.

    For props that only make sense without ``field`` (e.g. the encryption of a bucket the construct does not
    create): instead of silently ignoring them, name both and say why (AWS Solutions Constructs'
    ``CheckS3Props`` rule).
    """
    if getattr(props, field) is None:
        return
    changed = changed_fields(props, ignored)
    if changed:
        raise PropsError(
            owner or type(props).__name__, field,
            f"and {changed[0]} are both set: {why}; drop {', '.join(changed)} or {field}",
        )


def check_not_destroyed_in_production(owner: str, field: str, policy: object, production: bool) -> None:
    """A construct marked ``production`` refuses ``RemovalPolicy.DESTROY`` (see :mod:`.removal_policy`)."""
    from aws_cdk import RemovalPolicy

    if production and policy == RemovalPolicy.DESTROY:
        raise PropsError(
            owner, field,
            "is RemovalPolicy.DESTROY, but the props are marked production (production=True): production data is "
            "never deleted with the stack; use RemovalPolicy.RETAIN",
        )
