"""stacks.settings: keys derived from dataclasses, context values coerced by type hint (plain dataclasses, no CDK)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from pathlib import Path

import pytest

from stacks.settings import FIXED, Catalog, coerce, representable, show, type_name


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True)
class _Props:
    #: Some number.
    count: int = 1
    #: Rule-owned.
    owned: bool = False
    #: A colour,
    #: over two lines.
    colour: Colour = Colour.RED


@dataclasses.dataclass(frozen=True, kw_only=True)
class _MoreProps(_Props):
    #: Inherited fields keep their comments.
    extra: str = ""


@dataclasses.dataclass(frozen=True)
class _Config:
    #: The name.
    name: str = dataclasses.field(default="x", metadata={FIXED: True})
    #: A flag.
    flag: bool = False
    #: The props.
    part: _MoreProps = dataclasses.field(default_factory=_MoreProps)


def test_a_new_props_field_is_a_key_without_listing_it() -> None:
    catalog = Catalog.of(_Config, {"part": ("owned",)})
    assert list(catalog.settings) == ["name", "flag", "part.count", "part.colour", "part.extra"]
    assert catalog.sections == {"part": _MoreProps} and catalog.rule_owned == {"part": ("owned",)}
    assert catalog.settings["name"].fixed and not catalog.settings["flag"].fixed
    assert catalog.settings["part.count"].description == "Some number."
    assert catalog.settings["part.colour"].description == "A colour, over two lines."
    assert catalog.settings["part.extra"].description == "Inherited fields keep their comments."
    assert catalog.settings["part.count"].read(_Config()) == 1
    with pytest.raises(ValueError, match=r"rule-owned fields \['ownd'\] are not fields of 'part'"):
        Catalog.of(_Config, {"part": ("ownd",)})


def test_a_name_that_is_no_key_points_at_the_one_key() -> None:
    catalog = Catalog.of(_Config, {"part": ("owned",)})
    assert catalog.former("count") == ("part.count", "")
    assert catalog.former("part") is None
    assert catalog.unknown("count", "dev.") == (
        "is not an EnvironmentConfig field: use dev.part.count (a props field's key is <section>.<field>)")
    assert catalog.unknown("part.owned").startswith("is set by the production rules")
    assert catalog.unknown("part.cuont", "dev.").endswith("did you mean dev.part.count?")
    assert "did you mean" not in catalog.unknown("something_else")


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        ("12", int, 12),
        ("0.5", float, 0.5),
        (1, float, 1.0),
        ("yes", bool, True),
        ("FALSE", bool, False),
        ("none", int | None, None),
        ("", tuple[str, ...] | None, None),
        ("7", int | None, 7),
        ("a@example.com, b@example.com", tuple[str, ...], ("a@example.com", "b@example.com")),
        ('["a", "b"]', tuple[str, ...], ("a", "b")),
        ([["id", "string"]], tuple[tuple[str, str], ...], (("id", "string"),)),
        ('[["id", "string"]]', tuple[tuple[str, str], ...], (("id", "string"),)),
        ('{"--x": "1"}', Mapping[str, str], {"--x": "1"}),
        ({"--x": "1"}, Mapping[str, str], {"--x": "1"}),
        ("runtime", Path, Path("runtime")),
        ("BLUE", Colour, Colour.BLUE),
        ("t4g.micro", int | str, "t4g.micro"),
    ],
)
def test_context_values_are_coerced_by_type_hint(value: object, hint: object, expected: object) -> None:
    assert coerce(value, hint, "dev.key") == expected


@pytest.mark.parametrize(
    ("value", "hint", "message"),
    [
        ("many", int, r"context dev\.key='many' must be a number"),
        ("maybe", bool, r"must be true or false"),
        ("GREEN", Colour, r"must be a Colour name: one of \['RED', 'BLUE'\]"),
        ("{", Mapping[str, str], r"must be an object in JSON"),
        ('[["id"]]', tuple[tuple[str, str], ...], r"must have 2 items"),
        ("5", _Props, r"context dev\.key cannot be set from context: a _Props is set in Python"),
    ],
)
def test_context_values_that_fit_no_type_fail_naming_the_key(value: object, hint: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        coerce(value, hint, "dev.key")


def test_types_and_values_as_the_docs_show_them() -> None:
    assert representable(int | None) and representable(tuple[str, ...]) and representable(Colour)
    assert not representable(_Props) and not representable(_Props | None)
    assert type_name(int) == "int" and type_name(tuple[str, ...] | None) == "tuple[str, ...] | None"
    assert type_name(Mapping[str, str]) == "Mapping[str, str]"
    root = Path("/repo")
    assert [show(v, root) for v in (None, True, Colour.RED, Path("/repo/runtime"), ("a", "b"), {}, 3, "x")] == [
        "none", "true", "RED", "runtime", '["a", "b"]', "{}", "3", "x"]
