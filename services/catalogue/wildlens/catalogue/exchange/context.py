"""What an exporter is given: the job's read session, the store, the project, a folder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange.coordinates import ExportCoordinates
from wildlens.catalogue.models import Project
from wildlens.common.storage import ObjectStore

__all__ = ["ExportContext", "Progress"]

Progress = Callable[[float], Awaitable[None]]


@dataclass
class ExportContext:
    session: AsyncSession
    store: ObjectStore
    project: Project
    # Everything written here goes into the export's zip.
    folder: Path
    # Called with the fraction done (0 to 1) now and then; it also keeps the job's lease.
    progress: Progress
    coordinates: ExportCoordinates
