"""The citsci service as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from wildlens.citsci.models import metadata
from wildlens.common.service import ServiceSpec


def _routers() -> list[APIRouter]:
    from wildlens.citsci.subjects.api import router

    return [router]


def service() -> ServiceSpec:
    return ServiceSpec(
        name="citsci",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        uses_outbox=True,
        order=40,
    )
