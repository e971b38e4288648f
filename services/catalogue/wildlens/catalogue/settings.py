"""The catalogue's settings groups: alert webhooks (``WILDLENS_ALERTS__<FIELD>``) and the
checklist imported names are resolved against (``WILDLENS_GBIF__<FIELD>``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from wildlens.common.settings import SettingsGroup

__all__ = ["AlertSettings", "GbifSettings"]


class AlertSettings(SettingsGroup):
    """Where alert webhooks may be sent."""

    group: ClassVar[str] = "alerts"

    # Webhooks to loopback, private, link-local or reserved addresses are refused unless
    # this is set: the catalogue sends from inside the platform's network.
    allow_private_targets: bool = False


class GbifSettings(SettingsGroup):
    """GBIF's backbone taxonomy, asked for the imported names nothing else knows."""

    group: ClassVar[str] = "gbif"

    # The API's root, e.g. https://api.gbif.org/v1; empty (the default) keeps the platform
    # offline: many field stations have no way out, and nothing is sent anywhere unasked.
    base_url: str = ""
    # Each request's limit: an import waits on it, so an unreachable GBIF must cost little.
    timeout_s: float = Field(default=5.0, gt=0)
    # GBIF's own confidence in an exact match (0-100) below which the name stays unresolved
    # (an exact name that GBIF doubts is usually a homonym across kingdoms).
    min_confidence: int = Field(default=90, ge=0, le=100)
