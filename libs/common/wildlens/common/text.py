"""Text the platform stores: names carry no control characters, free text only tabs and line
breaks, and neither carries lone surrogates.

PostgreSQL refuses NUL in text (so a NUL that got this far would be a 500 on one backend and
stored on the other), control characters in names break the CSV files, terminals and logs they
end up in, and a lone surrogate cannot be written as UTF-8 at all. Request bodies say so with
:class:`NameRule` and :class:`TextRule`, whose JSON schema carries the rule as a
``pattern``; importers
ask :func:`text_problem` and report the answer as a problem of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = [
    "FREE_TEXT_PATTERN",
    "NAME_PATTERN",
    "Name",
    "NameRule",
    "Text",
    "TextRule",
    "text_problem",
]

# C0 controls, DEL and C1 controls; free text keeps tab, line feed and carriage return.
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
_NAME_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FREE_TEXT_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: str, *, free_text: bool = False) -> str | None:
    """What makes ``value`` unfit to store, for a person; None when it is fine."""
    found = (_FREE_TEXT_BAD if free_text else _NAME_BAD).search(value)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"contains a lone surrogate (U+{code:04X}), which is not text"
    kind = "text" if free_text else "a name"
    return f"contains the control character U+{code:04X} at {found.start()}, not allowed in {kind}"


@dataclass(frozen=True)
class _Rule:
    max_length: int | None = None
    min_length: int = 0
    free_text: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # The lengths go into the string schema itself, so that a long value is refused as
        # "at most N characters" (set on the field instead, pydantic would count "items").
        inner = handler(source)
        if inner["type"] == "str":
            inner = core_schema.str_schema(
                min_length=self.min_length or inner.get("min_length"),
                max_length=self.max_length or inner.get("max_length"),
                strict=inner.get("strict"),
            )
        return core_schema.no_info_after_validator_function(self._check, inner)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = FREE_TEXT_PATTERN if self.free_text else NAME_PATTERN
        return json_schema

    def _check(self, value: str) -> str:
        problem = text_problem(value, free_text=self.free_text)
        if problem is not None:
            raise ValueError(problem)
        return value


class NameRule(_Rule):
    """A name, label, identifier or other one-line text of at most ``max_length`` characters:
    ``Annotated[str, NameRule(200, min_length=1)]``."""

    def __init__(self, max_length: int | None = None, *, min_length: int = 0) -> None:
        super().__init__(max_length, min_length, free_text=False)


class TextRule(_Rule):
    """Free text (descriptions, comments), which may run over several lines."""

    def __init__(self, max_length: int | None = None, *, min_length: int = 0) -> None:
        super().__init__(max_length, min_length, free_text=True)


# Without a length of their own.
Name = Annotated[str, NameRule()]
Text = Annotated[str, TextRule()]
