"""The environment variables a settings model recognises, as a deployment would set them.

Groups (nested models) are walked and joined with ``__`` under the ``WILDLENS_`` prefix; any
other field, lists and mappings included, is one variable (its value JSON when structured).
Each line names the variable and its type, so that a field that moves keeps both.
"""

from __future__ import annotations

import types
import typing
from typing import Any, TypeGuard, get_args, get_origin

from pydantic import BaseModel

PREFIX = "WILDLENS_"


def type_name(annotation: Any) -> str:
    """A stable spelling of a field's type: ``int``, ``Path | None``, ``list[X]``."""
    origin = get_origin(annotation)
    if origin is None:
        if annotation is None or annotation is type(None):
            return "None"
        return getattr(annotation, "__name__", repr(annotation))
    args = get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in args)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(arg) for arg in args) + "]"
    return f"{type_name(origin)}[{', '.join(type_name(arg) for arg in args)}]"


def is_group(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def environment_lines(model: type[BaseModel], prefix: str = PREFIX) -> list[str]:
    """``NAME type`` for every variable ``model`` reads, sorted."""
    lines: list[str] = []
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        annotation = field.annotation
        if is_group(annotation):
            lines.extend(environment_lines(annotation, variable + "__"))
        else:
            lines.append(f"{variable} {type_name(field.annotation)}")
    return sorted(lines)
