"""The catalogue's settings of alert webhooks: ``WILDLENS_ALERTS__<FIELD>`` in the environment."""

from __future__ import annotations

from typing import ClassVar

from wildlens.common.settings import SettingsGroup

__all__ = ["AlertSettings"]


class AlertSettings(SettingsGroup):
    """Where alert webhooks may be sent."""

    group: ClassVar[str] = "alerts"

    # Webhooks to loopback, private, link-local or reserved addresses are refused unless
    # this is set: the catalogue sends from inside the platform's network.
    allow_private_targets: bool = False
