"""The platform's settings model: the common settings plus the groups of the services it runs."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from pydantic import Field, create_model

from wildlens.common.settings.base import Settings
from wildlens.common.settings.group import SettingsGroup

__all__ = ["compose_settings", "with_groups"]


def compose_settings(groups: Iterable[type[SettingsGroup]] = ()) -> type[Settings]:
    """A settings model with ``groups`` as fields, read from the environment like the rest.

    The same groups always give the same class, which is named ``Settings`` like its base so
    that validation errors read as they always have.

    Raises:
        ValueError: two groups have the same name or take a name the common settings use.
    """
    ordered = tuple(sorted(set(groups), key=lambda g: (g.group, g.__qualname__)))
    return _composed(ordered)


@cache
def _composed(groups: tuple[type[SettingsGroup], ...]) -> type[Settings]:
    if not groups:
        return Settings
    names = [g.group for g in groups]
    clashes = {n for n in names if names.count(n) > 1 or n in Settings.model_fields}
    if clashes:
        raise ValueError(f"settings groups clash: {', '.join(sorted(clashes))}")
    fields: dict[str, Any] = {g.group: (g, Field(default_factory=g)) for g in groups}
    model = create_model(
        "Settings",
        __base__=Settings,
        __module__=Settings.__module__,
        __doc__=Settings.__doc__,
        **fields,
    )
    model.groups = groups
    return model


def with_groups(settings: Settings, groups: Iterable[type[SettingsGroup]]) -> Settings:
    """``settings`` with ``groups`` too: as they are when they already have them; otherwise
    the same values in the composed model, the missing groups read from the environment."""
    wanted = set(groups)
    if all(isinstance(getattr(settings, g.group, None), g) for g in wanted):
        return settings
    model = compose_settings(wanted | set(type(settings).groups))
    values = {name: getattr(settings, name) for name in type(settings).model_fields}
    return model(**values)
