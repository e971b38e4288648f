"""The catalogue's settings groups: alert webhooks (``WILDLENS_ALERTS__<FIELD>``) and the
checklist imported names are resolved against (``WILDLENS_GBIF__<FIELD>``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from wildlens.common.settings import SettingsGroup

__all__ = ["AlertSettings", "GbifSettings"]


class AlertSettings(SettingsGroup):
    """Where alert webhooks may be sent."""

    group: ClassVar[str] = "alerts"

    # Webhooks to loopback, private, link-local or reserved addresses are refused unless
    # this is set: the catalogue sends from inside the platform's network. Set, it also
    # lifts the port rule below (a receiver on the operator's own machine, on any port).
    allow_private_targets: bool = False
    # The ports webhooks may be sent to (a JSON list in the environment: ``[80, 443, 8443]``);
    # others could reach services that listen beside a public web server.
    allowed_ports: list[int] = Field(default_factory=lambda: [80, 443])

    @field_validator("allowed_ports")
    @classmethod
    def _ports(cls, ports: list[int]) -> list[int]:
        wrong = [p for p in ports if not 1 <= p <= 65535]
        if wrong:
            raise ValueError(f"ports run from 1 to 65535, not {wrong}")
        return ports


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
