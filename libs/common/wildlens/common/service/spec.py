"""What a service declares about itself, so the platform can run it alone or beside others."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from sqlalchemy import MetaData

from wildlens.common.settings import Settings, SettingsGroup, compose_settings

if TYPE_CHECKING:
    from wildlens.common.service.context import ServiceContext

__all__ = [
    "ENTRY_POINT_GROUP",
    "ServiceSpec",
    "SettingOption",
    "discover_services",
    "platform_settings",
]

ENTRY_POINT_GROUP = "wildlens.services"

Hook = Callable[["ServiceContext"], Awaitable[None]]
Readiness = Callable[["ServiceContext"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class SettingOption:
    """An option of ``wildlens up`` that sets one field of one of the service's settings groups.

    The option is ``--<field>`` (underscores as dashes) and takes the field's type; when it is
    not given, the setting keeps what the environment says.
    """

    field: str
    help: str


@dataclass(frozen=True)
class ServiceSpec:
    """A service: its routes, its tables and migrations, and what it does at start and stop.

    ``start`` subscribes consumers and starts background work; it runs before the bus starts
    consuming. ``readiness`` adds service facts to ``/readyz`` (for example that no model is
    configured) without making the pod unready.
    """

    name: str
    routers: Callable[[], list[APIRouter]]
    metadata: MetaData | None = None
    migrations: Path | None = None
    start: Hook | None = None
    stop: Hook | None = None
    readiness: Readiness | None = None
    # Services with an outbox publish through it; others publish directly.
    uses_outbox: bool = False
    order: int = 100
    # Its settings group, or several where its settings concern different things (each group
    # is its own ``WILDLENS_<GROUP>__`` prefix).
    settings: type[SettingsGroup] | tuple[type[SettingsGroup], ...] | None = None
    up_options: tuple[SettingOption, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.up_options and not self.setting_groups:
            raise ValueError(f"{self.name}: options set settings, and it declares none")
        for option in self.up_options:
            if self.group_of(option.field) is None:
                raise ValueError(f"{self.name}: no setting {option.field!r} for its option")

    @property
    def setting_groups(self) -> tuple[type[SettingsGroup], ...]:
        """The settings groups the service declares (none, one or several)."""
        if self.settings is None:
            return ()
        return self.settings if isinstance(self.settings, tuple) else (self.settings,)

    def group_of(self, name: str) -> type[SettingsGroup] | None:
        """The first of the service's groups with a setting ``name``, or None."""
        return next((g for g in self.setting_groups if name in g.model_fields), None)


def discover_services(names: list[str] | None = None) -> list[ServiceSpec]:
    """The installed services (entry point group ``wildlens.services``), optionally filtered."""
    found: dict[str, ServiceSpec] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        factory = ep.load()
        spec = factory()
        if not isinstance(spec, ServiceSpec):
            raise TypeError(f"entry point {ep.name} did not return a ServiceSpec")
        found[spec.name] = spec
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            installed = ", ".join(sorted(found)) or "none"
            raise LookupError(
                f"service(s) not installed: {', '.join(missing)} (installed: {installed})"
            )
        return [found[n] for n in names]
    return sorted(found.values(), key=lambda s: (s.order, s.name))


def platform_settings(specs: Iterable[ServiceSpec] | None = None) -> type[Settings]:
    """The settings model of a platform running ``specs`` (every installed service when
    omitted): the common settings and each service's group."""
    chosen = discover_services() if specs is None else specs
    return compose_settings(group for spec in chosen for group in spec.setting_groups)
