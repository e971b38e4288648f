"""How a service is declared and run: its spec, its running context, the platform."""

from wildlens.common.service.context import ServiceContext
from wildlens.common.service.spec import (
    ServiceSpec,
    SettingOption,
    discover_services,
    platform_settings,
)

__all__ = [
    "ServiceContext",
    "ServiceSpec",
    "SettingOption",
    "discover_services",
    "platform_settings",
]
