"""The ingest service as the platform runs it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from wildlens.common.service import ServiceSpec
from wildlens.ingest.tables import metadata
from wildlens.ingest.uploads import models as _upload_models  # noqa: F401  (registers tables)


def _routers() -> list[APIRouter]:
    from wildlens.ingest.uploads.api import router as uploads

    return [uploads]


def service() -> ServiceSpec:
    return ServiceSpec(
        name="ingest",
        routers=_routers,
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        uses_outbox=True,
        order=20,
    )
