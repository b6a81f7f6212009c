"""JSON read and written with its numbers exact, for the rescued data (:mod:`runtime.transforms.rescue`).

Python's ``json`` reads a number with a fraction or an exponent as a ``float``: ``1.2345678901234567890123`` loses
the digits past the 17th, ``1e400`` becomes ``inf`` (written back as ``Infinity``, no JSON number at all). Here such
a number is a :class:`JsonNumber`, a :class:`decimal.Decimal` (so it compares by value) that keeps its token text, and
:func:`dumps` writes it back as that text: the text the record held, which is what the one parse
(``mldp.spark.FlaggedJson``) copies too, so both rescues write the same JSON. An integer is a Python ``int``
(exact at any size; written back in its one JSON form, ``-0`` as ``0``, as the one parse does). ``NaN`` and the
infinities (a spec may allow them) stay floats, written ``NaN``, ``Infinity``, ``-Infinity``.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable
from typing import Any

__all__ = ["JsonNumber", "decoder", "dumps", "loads"]


class JsonNumber(decimal.Decimal):
    """A JSON number with a fraction or an exponent, exact, with its token text (:attr:`text`)."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> JsonNumber:
        """The number a JSON token ``text`` writes."""
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        """``JsonNumber('1e400')``."""
        return f"JsonNumber({self.text!r})"


def decoder(**options: Any) -> json.JSONDecoder:
    """A :class:`json.JSONDecoder` (with ``options``) that reads a non-integer number as a :class:`JsonNumber`."""
    return json.JSONDecoder(parse_float=JsonNumber, **options)


_DECODER = decoder()


def loads(text: str) -> Any:
    """``json.loads(text)`` with exact numbers (``NaN`` and the infinities read as floats, as ``json`` does)."""
    return _DECODER.decode(text)


class _HoldsNumber(Exception):
    """A value holds a :class:`JsonNumber`, which ``json`` cannot write: an internal signal, raised by ``json``'s
    ``default`` hook and caught in :func:`dumps` (never outside this module)."""


def dumps(value: Any, separators: tuple[str, str] = (",", ":"), ensure_ascii: bool = False,
          default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, default=default)``, a
    :class:`JsonNumber` written as its text. ``json`` writes each value it can whole (its C encoder); only the
    objects and lists that hold a :class:`JsonNumber` are laid out here."""
    def refuse(item: Any) -> Any:
        if isinstance(item, JsonNumber):
            raise _HoldsNumber
        if default is not None:
            return default(item)
        raise TypeError(f"Object of type {type(item).__name__} is not JSON serializable")

    try:
        return json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, default=refuse)
    except _HoldsNumber:
        pass
    if isinstance(value, JsonNumber):
        return value.text
    item, key = separators
    if isinstance(value, dict):
        # a key as json writes it: a string as it is, a number, true, false or null as its JSON text
        return "{" + item.join(json.dumps(name if isinstance(name, str) else json.dumps(name),
                                          ensure_ascii=ensure_ascii) + key
                               + dumps(member, separators, ensure_ascii, default)
                               for name, member in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + item.join(dumps(member, separators, ensure_ascii, default) for member in value) + "]"
    return dumps(default(value), separators, ensure_ascii, default)  # a value ``default`` turned into one
