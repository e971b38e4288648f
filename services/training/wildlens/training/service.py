"""The training service as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from wildlens.common.service import ServiceSpec
from wildlens.training.models import metadata
from wildlens.training.settings import TrainingSettings


def _routers() -> list[APIRouter]:
    from wildlens.training.registry.api import router

    return [router]


def service() -> ServiceSpec:
    return ServiceSpec(
        name="training",
        routers=_routers,
        metadata=metadata,
        settings=TrainingSettings,
        migrations=Path(__file__).parent / "migrations",
        uses_outbox=True,
        order=50,
    )
