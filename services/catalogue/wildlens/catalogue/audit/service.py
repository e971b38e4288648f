"""Removing a medium or a deployment with everything that hangs off it, and remembering it.

What refers to the removed rows is found from the tables' foreign keys (see ``repository``),
so that tables added later (events, alert deliveries, ...) are cleaned up without being listed
here, in the request's one transaction. The audit entry keeps the removed rows as JSON.

The stored files belong to ingest: each removed medium with a file is announced as
``media.deleted`` in the same transaction, saying whether it was the last medium with those
bytes (originals are content-addressed, so two media, in one project or two, may share one).
Ingest then forgets the upload and removes the files nothing else uses.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.audit import repository
from wildlens.catalogue.media.recording import KIND_NUMBERS
from wildlens.catalogue.models import AuditEntry
from wildlens.catalogue.sequences.sequencing import settle_after_removal
from wildlens.common.errors import NotFound
from wildlens.common.events.v1.media_pb2 import MediaDeleted
from wildlens.common.http.pagination import PageParams
from wildlens.common.service import ServiceBus

__all__ = ["audit_entries", "delete_deployment", "delete_media"]

# The columns of a medium that ``media.deleted`` carries.
_ANNOUNCED = ("id", "project_id", "sha256", "object_key", "kind", "parent_media_id")


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in rows]


def _removal(media: Any) -> MediaDeleted:
    """A removed medium (a ``Media`` or a row of its ``_ANNOUNCED`` columns) as
    ``media.deleted`` says it (``last_copy`` is settled later)."""
    return MediaDeleted(
        media_id=str(media.id),
        project_id=str(media.project_id),
        sha256=media.sha256,
        object_key=media.object_key,
        kind=KIND_NUMBERS[media.kind],
        parent_media_id=str(media.parent_media_id) if media.parent_media_id else "",
    )


async def _announce(bus: ServiceBus, session: AsyncSession, removed: list[MediaDeleted]) -> None:
    """Stage ``media.deleted`` for the removed media with a stored file, once their rows are
    gone, each saying whether any medium left (in any project) has the same bytes."""
    stored = [m for m in removed if m.sha256 and m.object_key]
    if not stored:
        return
    kept = await repository.hashes_in_use(session, {m.sha256 for m in stored})
    for m in stored:
        m.last_copy = m.sha256 not in kept
    await bus.stage(session, stored)


async def _announce_views(
    bus: ServiceBus, session: AsyncSession, media: Any, views: list[dict[str, Any]]
) -> None:
    """An object's further images (EcoTaxa's higher ``img_rank``) go as its medium does: each
    announced removed, its file the last copy where no medium and no other object has it."""
    if not views:
        return
    hashes = {str(v["sha256"]) for v in views}
    kept = await repository.hashes_in_use(session, hashes) | await repository.views_in_use(
        session, hashes
    )
    await bus.stage(
        session,
        [
            MediaDeleted(
                media_id=str(media.id),
                project_id=str(media.project_id),
                sha256=str(v["sha256"]),
                object_key=str(v["object_key"]),
                kind=KIND_NUMBERS["image"],
                last_copy=str(v["sha256"]) not in kept,
            )
            for v in views
        ],
    )


async def delete_media(
    bus: ServiceBus,
    session: AsyncSession,
    project_id: uuid.UUID,
    media_id: uuid.UUID,
    actor: str,
) -> AuditEntry:
    """Remove the medium, its frames (for a video), their analyses and observations; the
    events they were in are regrouped over the media left."""
    media = await repository.media(session, media_id)
    if media is None or media.project_id != project_id:
        raise NotFound(f"media {media_id} not found")
    frames = await repository.frames_of(session, media_id)
    ids = [media_id, *(f.id for f in frames)]
    observations = await repository.observations_of(session, ids)
    runs = await repository.model_runs_of(session, ids)
    snapshot = {
        "media": media.model_dump(mode="json"),
        "frames": _rows(frames),
        "model_runs": _rows(runs),
        "observations": _rows(observations),
    }
    removed = [_removal(m) for m in (media, *frames)]
    events = {m.event_id for m in (media, *frames) if m.event_id is not None}
    views = await repository.object_views(session, media_id)
    # The ORM must not write back rows that are about to disappear underneath it.
    session.expunge_all()
    await repository.remove_media(session, ids)
    # The events they were in hold less now: narrower, split or gone, and voted again.
    await settle_after_removal(session, events)
    await _announce(bus, session, removed)
    await _announce_views(bus, session, media, views)
    entry = AuditEntry(
        project_id=project_id,
        action="media.deleted",
        object_type="media",
        object_id=media_id,
        actor=actor,
        snapshot=snapshot,
    )
    session.add(entry)
    await session.flush()
    return entry


async def delete_deployment(
    bus: ServiceBus,
    session: AsyncSession,
    project_id: uuid.UUID,
    deployment_id: uuid.UUID,
    actor: str,
) -> AuditEntry:
    """Remove the deployment with its media, their observations and its events."""
    deployment = await repository.deployment(session, deployment_id)
    if deployment is None or deployment.project_id != project_id:
        raise NotFound(f"deployment {deployment_id} not found")
    # The columns the log and the announcements need, not whole media with their metadata:
    # a deployment may hold a hundred thousand.
    media = await repository.deployment_media(session, deployment_id, _ANNOUNCED)
    media_ids = [str(m.id) for m in media]
    removed = [_removal(m) for m in media]
    observations = await repository.deployment_observation_count(session, deployment_id)
    snapshot = {
        "deployment": deployment.model_dump(mode="json"),
        "media_ids": media_ids,
        "media_count": len(media_ids),
        "observation_count": observations,
    }
    session.expunge_all()
    # Frames of the deployment's videos carry the deployment too, so they go with it.
    await repository.remove_deployment(session, deployment_id)
    await _announce(bus, session, removed)
    entry = AuditEntry(
        project_id=project_id,
        action="deployment.deleted",
        object_type="deployment",
        object_id=deployment_id,
        actor=actor,
        snapshot=snapshot,
    )
    session.add(entry)
    await session.flush()
    return entry


async def audit_entries(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[AuditEntry], str | None]:
    """One page of the project's log, newest first, and the cursor of the next page."""
    return await repository.audit_page(session, project_id, page)
