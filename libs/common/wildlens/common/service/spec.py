"""What a service declares about itself, so the platform can run it alone or beside others."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from sqlalchemy import MetaData

if TYPE_CHECKING:
    from wildlens.common.service.context import ServiceContext

__all__ = ["ENTRY_POINT_GROUP", "ServiceSpec", "discover_services"]

ENTRY_POINT_GROUP = "wildlens.services"

Hook = Callable[["ServiceContext"], Awaitable[None]]
Readiness = Callable[["ServiceContext"], Awaitable[dict[str, Any]]]


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
    extra: dict[str, Any] = field(default_factory=dict)


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
