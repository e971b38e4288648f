"""Removing a medium or a deployment with everything that hangs off it, and remembering it.

What refers to the removed rows is found from the tables' foreign keys, so that tables added
later (events, alert deliveries, ...) are cleaned up without being listed here: a reference
declared ``ON DELETE SET NULL`` is cleared, any other reference's rows are removed in turn,
children before parents, in the request's one transaction. The audit entry keeps the removed
rows as JSON.

The stored files belong to ingest: each removed medium with a file is announced as
``media.deleted`` in the same transaction, saying whether it was the last medium with those
bytes (originals are content-addressed, so two media, in one project or two, may share one).
Ingest then forgets the upload and removes the files nothing else uses.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, select, update
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.media.recording import KIND_NUMBERS
from wildlens.catalogue.models import AuditEntry, Deployment, Media, ModelRun, Observation, metadata
from wildlens.common.errors import NotFound
from wildlens.common.events.v1.media_pb2 import MediaDeleted
from wildlens.common.service.context import ServiceContext

__all__ = ["delete_deployment", "delete_media"]

# References form short chains (history → observation → model run → media → deployment);
# anything deeper is a cycle.
_MAX_DEPTH = 8


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


async def _remove(
    session: AsyncSession, table: Table, where: ColumnElement[bool], depth: int = 0
) -> None:
    if depth > _MAX_DEPTH:
        raise RuntimeError(f"references to {table.name} nest deeper than {_MAX_DEPTH}")
    connection = await session.connection()
    for child in metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is not table or child is table:
                continue
            refers = fk.parent.in_(select(fk.column).where(where))
            if (fk.ondelete or "").upper() == "SET NULL":
                await connection.execute(update(child).where(refers).values({fk.parent.name: None}))
            else:
                await _remove(session, child, refers, depth + 1)
    await connection.execute(delete(table).where(where))


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in rows]


# The columns of a medium that ``media.deleted`` carries.
_ANNOUNCED = ("id", "project_id", "sha256", "object_key", "kind", "parent_media_id")


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


async def _announce(
    ctx: ServiceContext, session: AsyncSession, removed: list[MediaDeleted]
) -> None:
    """Stage ``media.deleted`` for the removed media with a stored file, once their rows are
    gone, each saying whether any medium left (in any project) has the same bytes."""
    stored = [m for m in removed if m.sha256 and m.object_key]
    if not stored:
        return
    hashes = {m.sha256 for m in stored}
    kept = set(
        (await session.exec(sm_select(Media.sha256).where(col(Media.sha256).in_(hashes)))).all()
    )
    for m in stored:
        m.last_copy = m.sha256 not in kept
    await ctx.stage(session, stored)


async def delete_media(
    ctx: ServiceContext,
    session: AsyncSession,
    project_id: uuid.UUID,
    media_id: uuid.UUID,
    actor: str,
) -> AuditEntry:
    """Remove the medium, its frames (for a video), their analyses and observations."""
    media = await session.get(Media, media_id)
    if media is None or media.project_id != project_id:
        raise NotFound(f"media {media_id} not found")
    frames = (await session.exec(sm_select(Media).where(Media.parent_media_id == media_id))).all()
    ids = [media_id, *(f.id for f in frames)]
    observations = (
        await session.exec(sm_select(Observation).where(col(Observation.media_id).in_(ids)))
    ).all()
    runs = (await session.exec(sm_select(ModelRun).where(col(ModelRun.media_id).in_(ids)))).all()
    snapshot = {
        "media": media.model_dump(mode="json"),
        "frames": _rows(frames),
        "model_runs": _rows(runs),
        "observations": _rows(observations),
    }
    removed = [_removal(m) for m in (media, *frames)]
    # The ORM must not write back rows that are about to disappear underneath it.
    session.expunge_all()
    await _remove(session, _table(Media), _table(Media).c.id.in_(ids))
    await _announce(ctx, session, removed)
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
    ctx: ServiceContext,
    session: AsyncSession,
    project_id: uuid.UUID,
    deployment_id: uuid.UUID,
    actor: str,
) -> AuditEntry:
    """Remove the deployment with its media, their observations and its events."""
    deployment = await session.get(Deployment, deployment_id)
    if deployment is None or deployment.project_id != project_id:
        raise NotFound(f"deployment {deployment_id} not found")
    # The columns the log and the announcements need, not whole media with their metadata:
    # a deployment may hold a hundred thousand.
    connection = await session.connection()
    media = (
        await connection.execute(
            select(*(_table(Media).c[name] for name in _ANNOUNCED))
            .where(_table(Media).c.deployment_id == deployment_id)
            .order_by(_table(Media).c.captured_at, _table(Media).c.id)
        )
    ).all()
    media_ids = [str(m.id) for m in media]
    removed = [_removal(m) for m in media]
    media_of = sm_select(Media.id).where(Media.deployment_id == deployment_id)
    observations = (
        await session.exec(
            sm_select(func.count()).where(
                (col(Observation.deployment_id) == deployment_id)
                | col(Observation.media_id).in_(media_of)
            )
        )
    ).one()
    snapshot = {
        "deployment": deployment.model_dump(mode="json"),
        "media_ids": media_ids,
        "media_count": len(media_ids),
        "observation_count": int(observations),
    }
    session.expunge_all()
    # Frames of the deployment's videos carry the deployment too, so they go with it.
    await _remove(session, _table(Deployment), _table(Deployment).c.id == deployment_id)
    await _announce(ctx, session, removed)
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
