"""Spark SQL type strings (``string``, ``decimal(10,2)``, ``array<struct<a:string>>``, ...) parsed into
``DataType`` objects without a JVM: the read types and casts of a transform spec."""

from __future__ import annotations

import re

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    ByteType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    ShortType,
    StringType,
    StructField,
    StructType,
)

from runtime.errors import SpecError
from runtime.transforms.names import check_unique

_PRIMITIVES: dict[str, type[DataType]] = {
    "string": StringType,
    "boolean": BooleanType,
    "tinyint": ByteType,
    "byte": ByteType,
    "smallint": ShortType,
    "short": ShortType,
    "int": IntegerType,
    "integer": IntegerType,
    "bigint": LongType,
    "long": LongType,
    "float": FloatType,
    "double": DoubleType,
}
_TYPE_TOKEN = re.compile(r"\s*(?:(`[^`]+`)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")
#: What a spec may write as a type; appended to every type error.
TYPE_HELP = ("use a Spark SQL type: string, boolean, int, bigint, float, double, decimal(p,s), array<T>, "
             "map<string,T> or struct<name:T,...>")


class _TypeParser:
    """A small recursive-descent parser for Spark SQL type strings (no JVM needed)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = _TYPE_TOKEN.match(text, position)
            if match is None:
                raise SpecError(f"unexpected character {text[position:].strip()[0]!r} in type {text!r}")
            self.tokens.append(next(group for group in match.groups() if group is not None))
            position = match.end()
        self.index = 0

    def parse(self) -> DataType:
        """The whole text as one type; raises :class:`SpecError` at the first token that does not fit."""
        result = self._type()
        if self.index != len(self.tokens):
            raise SpecError(f"unexpected {self.tokens[self.index]!r} in type {self.text!r}")
        return result

    def _next(self) -> str:
        if self.index >= len(self.tokens):
            raise SpecError(f"type {self.text!r} ends too early")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect(self, token: str) -> None:
        found = self._next()
        if found != token:
            raise SpecError(f"expected {token!r} but found {found!r} in type {self.text!r}")

    def _number(self) -> int:
        token = self._next()
        if not token.isdigit():
            raise SpecError(f"expected a number but found {token!r} in type {self.text!r}")
        return int(token)

    def _peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _type(self) -> DataType:
        word = self._next().lower()
        if word in _PRIMITIVES:
            return _PRIMITIVES[word]()
        if word == "decimal":
            if self._peek() != "(":
                return DecimalType(10, 0)
            self._expect("(")
            precision = self._number()
            self._expect(",")
            scale = self._number()
            self._expect(")")
            if not 1 <= precision <= 38 or not 0 <= scale <= precision:
                raise SpecError(f"decimal({precision},{scale}) is out of range in type {self.text!r}")
            return DecimalType(precision, scale)
        if word == "array":
            self._expect("<")
            element = self._type()
            self._expect(">")
            return ArrayType(element, True)
        if word == "map":
            self._expect("<")
            key = self._type()
            if not isinstance(key, StringType):
                raise SpecError(f"JSON object keys are strings: use map<string,...> in type {self.text!r}")
            self._expect(",")
            value = self._type()
            self._expect(">")
            return MapType(key, value, True)
        if word == "struct":
            self._expect("<")
            fields: list[StructField] = []
            while True:
                name = self._next().strip("`")
                if name in {">", ",", ":", "<"}:
                    raise SpecError(f"expected a field name in type {self.text!r}")
                self._expect(":")
                fields.append(StructField(name, self._type(), True))
                separator = self._next()
                if separator == ">":
                    break
                if separator != ",":
                    raise SpecError(f"expected ',' or '>' but found {separator!r} in type {self.text!r}")
            check_unique([item.name for item in fields], f"struct fields of type {self.text!r}")
            return StructType(fields)
        raise SpecError(f"unknown or unsupported type {word!r} in {self.text!r}")


def parse_type(text: str) -> DataType:
    """Parse a Spark SQL type string (``string``, ``array<struct<a:string>>``, ...) into a ``DataType``.

    Dates and timestamps are deliberately unsupported inside read types: Spark would parse them with its own
    (policy-dependent) formatter; use a top-level ``date`` column instead. Raises
    :class:`~runtime.errors.SpecError`.
    """
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"empty type; {TYPE_HELP}")
    try:
        return _TypeParser(text).parse()
    except SpecError as error:
        raise SpecError(f"{error}; {TYPE_HELP}") from None
