"""Platform settings, read from the environment (prefix ``WILDLENS_``, groups nested with ``__``).

``Settings`` holds what every service reads; each service adds its own group (``ingest``,
``inference``, ``alerts``: ``wildlens/<service>/settings.py``), declared in its spec, and the
platform reads the composed model (:func:`compose_settings`).
"""

from wildlens.common.settings.base import (
    AuthSettings,
    BrokerSettings,
    DatabaseSettings,
    ExternalIssuerSettings,
    LimitSettings,
    ServicesSettings,
    Settings,
    StorageSettings,
)
from wildlens.common.settings.compose import compose_settings, with_groups
from wildlens.common.settings.group import SettingsGroup

__all__ = [
    "AuthSettings",
    "BrokerSettings",
    "DatabaseSettings",
    "ExternalIssuerSettings",
    "LimitSettings",
    "ServicesSettings",
    "Settings",
    "SettingsGroup",
    "StorageSettings",
    "compose_settings",
    "with_groups",
]
