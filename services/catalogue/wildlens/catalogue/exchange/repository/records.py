"""The media and observations exports read, and the media a results file may name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange.repository.external_ids import CHUNK
from wildlens.catalogue.models import Media, Observation
from wildlens.catalogue.models import Sequence as Event

__all__ = [
    "deployed_media",
    "event_names",
    "media_by_capture_time",
    "media_ids",
    "media_named_in",
    "media_with_hashes",
    "media_with_paths_or_names",
    "observations_by_event_start",
]


async def deployed_media(session: AsyncSession, project_id: uuid.UUID) -> list[Media]:
    """The project's media tied to a deployment, by capture time."""
    return list(
        await session.exec(
            select(Media)
            .where(Media.project_id == project_id, col(Media.deployment_id).is_not(None))
            .order_by(col(Media.captured_at), col(Media.id))
        )
    )


async def event_names(session: AsyncSession, project_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The id each of the project's events goes out under: the one its package gave it, else
    its own."""
    rows = await session.exec(
        select(Event.id, Event.external_id).where(Event.project_id == project_id)
    )
    return {event_id: external or str(event_id) for event_id, external in rows}


async def media_by_capture_time(session: AsyncSession, project_id: uuid.UUID) -> list[Media]:
    return list(
        await session.exec(
            select(Media).where(Media.project_id == project_id).order_by(col(Media.captured_at))
        )
    )


async def media_with_paths_or_names(
    session: AsyncSession, project_id: uuid.UUID, paths: list[str], names: list[str]
) -> list[Media]:
    """The project's media recorded under one of ``paths`` or with one of the file ``names``."""
    found: dict[object, Media] = {}
    for start in range(0, max(len(paths), len(names)), CHUNK):
        query = select(Media).where(
            Media.project_id == project_id,
            or_(
                col(Media.file_path).in_(paths[start : start + CHUNK]),
                col(Media.filename).in_(names[start : start + CHUNK]),
            ),
        )
        found.update((m.id, m) for m in await session.exec(query))
    return list(found.values())


async def media_ids(session: AsyncSession, query: Any) -> Sequence[Any]:
    """What a ``SELECT media_id`` query (privacy's) gives."""
    rows: Sequence[Any] = (await session.exec(query)).all()
    return rows


async def observations_by_event_start(
    session: AsyncSession, project_id: uuid.UUID
) -> list[Observation]:
    return list(
        await session.exec(
            select(Observation)
            .where(Observation.project_id == project_id)
            .order_by(col(Observation.event_start), col(Observation.id))
        )
    )


async def media_with_hashes(
    session: AsyncSession, project_id: uuid.UUID, hashes: Iterable[str]
) -> dict[str, list[Media]]:
    """The project's media whose content hash is one of ``hashes``, by hash, oldest first."""
    wanted = sorted(set(hashes))
    found: dict[str, list[Media]] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = await session.exec(
            select(Media)
            .where(
                Media.project_id == project_id, col(Media.sha256).in_(wanted[start : start + CHUNK])
            )
            .order_by(col(Media.recorded_at), col(Media.id))
        )
        for medium in rows:
            found.setdefault(medium.sha256, []).append(medium)
    return found


async def media_named_in(
    session: AsyncSession, deployment_ids: Iterable[uuid.UUID], names: Iterable[str]
) -> list[Media]:
    """The media of ``deployment_ids`` whose file name is one of ``names``."""
    deployments, wanted = sorted(set(deployment_ids)), sorted(set(names))
    if not deployments:
        return []
    found: list[Media] = []
    for start in range(0, len(wanted), CHUNK):
        found += await session.exec(
            select(Media).where(
                col(Media.deployment_id).in_(deployments),
                col(Media.filename).in_(wanted[start : start + CHUNK]),
            )
        )
    return found
