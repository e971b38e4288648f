"""A service's own settings: a group of the platform's settings named after the service."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import BaseModel

from wildlens.common.settings.base import Settings

__all__ = ["SettingsGroup"]


class SettingsGroup(BaseModel):
    """The settings one service reads, ``WILDLENS_<GROUP>__<FIELD>`` in the environment.

    A service declares its group in its spec; the platform's settings then carry it under
    ``group``, and the service reads it typed with :meth:`of`.
    """

    # The attribute of the platform's settings (and the environment's ``<GROUP>__``) it is.
    group: ClassVar[str]

    @classmethod
    def of(cls, settings: Settings) -> Self:
        """This group of ``settings``.

        Raises:
            LookupError: ``settings`` were composed without this group.
        """
        value = getattr(settings, cls.group, None)
        if not isinstance(value, cls):
            raise LookupError(
                f"the settings have no {cls.group!r} group: compose them with the service "
                f"that declares {cls.__name__}"
            )
        return value
