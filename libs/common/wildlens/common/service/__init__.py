"""How a service is declared and run: its spec, its consumers, its running context, the
platform."""

from wildlens.common.service.consumers import Consumer
from wildlens.common.service.context import ServiceContext, ServiceNotRunning
from wildlens.common.service.service_bus import ServiceBus
from wildlens.common.service.spec import (
    ServiceSpec,
    SettingOption,
    discover_services,
    platform_settings,
)

__all__ = [
    "Consumer",
    "ServiceBus",
    "ServiceContext",
    "ServiceNotRunning",
    "ServiceSpec",
    "SettingOption",
    "discover_services",
    "platform_settings",
]
