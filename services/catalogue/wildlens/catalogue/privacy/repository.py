"""Every query of the privacy domain: a project's settings and sensitive taxa, and where those
taxa were seen."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    Deployment,
    Media,
    Observation,
    ProjectPrivacy,
    SensitiveTaxon,
    Taxon,
)
from wildlens.catalogue.taxa.repository import descendants, existing_ids

__all__ = [
    "deployments_at",
    "existing_taxa",
    "locations_seen",
    "media_showing",
    "media_with_people",
    "replace_sensitive_taxa",
    "scientific_names",
    "sensitive_observation",
    "sensitive_subtree_ids",
    "sensitive_taxa",
    "settings",
    "shows_people",
]

# asyncpg and SQLite both cap bound parameters per statement; IN lists are sent in chunks.
_CHUNK = 500


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def settings(session: AsyncSession, project_id: uuid.UUID) -> ProjectPrivacy | None:
    return await session.get(ProjectPrivacy, project_id)


async def sensitive_taxa(session: AsyncSession, project_id: uuid.UUID) -> list[Taxon]:
    """The taxa the project marked sensitive (not those below them), by scientific name."""
    query = (
        select(Taxon)
        .join(SensitiveTaxon, col(SensitiveTaxon.taxon_id) == col(Taxon.id))
        .where(SensitiveTaxon.project_id == project_id)
        .order_by(col(Taxon.scientific_name))
    )
    return list((await session.exec(query)).all())


async def sensitive_subtree_ids(session: AsyncSession, project_id: uuid.UUID) -> set[uuid.UUID]:
    """The project's sensitive taxa and every taxon below them."""
    query = select(SensitiveTaxon.taxon_id).where(SensitiveTaxon.project_id == project_id)
    ids: set[uuid.UUID] = set()
    for root in (await session.exec(query)).all():
        ids |= await descendants(session, _uuid(root))
    return ids


async def existing_taxa(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``ids`` that are taxa."""
    return set(await existing_ids(session, ids))


async def replace_sensitive_taxa(
    session: AsyncSession, project_id: uuid.UUID, rows: Iterable[SensitiveTaxon]
) -> None:
    await session.exec(delete(SensitiveTaxon).where(col(SensitiveTaxon.project_id) == project_id))
    session.add_all(list(rows))


async def scientific_names(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[str]:
    """The (non-empty) scientific names of the taxa ``ids``."""
    names: set[str] = set()
    wanted = list(ids)
    for start in range(0, len(wanted), _CHUNK):
        query = select(Taxon.scientific_name).where(
            col(Taxon.id).in_(wanted[start : start + _CHUNK])
        )
        names.update(n for n in (await session.exec(query)).all() if n)
    return names


def sensitive_observation(
    taxa: Collection[uuid.UUID], names: Collection[str]
) -> ColumnElement[bool]:
    """SQL: the ``Observation`` row is of one of ``taxa``, or (without a taxon) of ``names``."""
    if not taxa:
        return false()
    return or_(
        col(Observation.taxon_id).in_(list(taxa)),
        and_(
            col(Observation.taxon_id).is_(None),
            col(Observation.scientific_name).in_(list(names)),
        ),
    )


async def locations_seen(
    session: AsyncSession, project_id: uuid.UUID, sensitive: ColumnElement[bool]
) -> set[uuid.UUID]:
    """The project's locations with a deployment where an observation meeting ``sensitive``
    was made (on a medium, or at the event level)."""
    media_seen = (
        select(Media.deployment_id)
        .join(Observation, col(Observation.media_id) == col(Media.id))
        .where(Media.project_id == project_id, sensitive)
    )
    event_seen = select(Observation.deployment_id).where(
        Observation.project_id == project_id,
        col(Observation.deployment_id).is_not(None),
        sensitive,
    )
    query = select(Deployment.location_id).where(
        Deployment.project_id == project_id,
        or_(col(Deployment.id).in_(media_seen), col(Deployment.id).in_(event_seen)),
    )
    return {_uuid(r) for r in (await session.exec(query)).all()}


async def media_showing(
    session: AsyncSession, media_ids: Iterable[uuid.UUID], sensitive: ColumnElement[bool]
) -> set[uuid.UUID]:
    """Those of ``media_ids`` with an observation meeting ``sensitive``."""
    wanted = list(set(media_ids))
    found: set[uuid.UUID] = set()
    for start in range(0, len(wanted), _CHUNK):
        query = select(Observation.media_id).where(
            col(Observation.media_id).in_(wanted[start : start + _CHUNK]), sensitive
        )
        found.update(_uuid(r) for r in (await session.exec(query)).all() if r is not None)
    return found


async def deployments_at(
    session: AsyncSession, deployment_ids: Iterable[uuid.UUID], location_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``deployment_ids`` at one of ``location_ids``."""
    query = select(Deployment.id).where(
        col(Deployment.id).in_(list(deployment_ids)),
        col(Deployment.location_id).in_(list(location_ids)),
    )
    return {_uuid(r) for r in (await session.exec(query)).all()}


def media_with_people(project_id: uuid.UUID) -> Any:
    """SQL: ``SELECT media_id`` of the project's media with a human observation."""
    return select(Observation.media_id).where(
        Observation.project_id == project_id,
        col(Observation.media_id).is_not(None),
        Observation.observation_type == "human",
    )


async def shows_people(session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID) -> bool:
    query = media_with_people(project_id).where(Observation.media_id == media_id).limit(1)
    return (await session.exec(query)).first() is not None
