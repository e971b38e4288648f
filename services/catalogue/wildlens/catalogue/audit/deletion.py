"""Removing a medium or a deployment with everything that hangs off it, and remembering it.

What refers to the removed rows is found from the tables' foreign keys, so that tables added
later (events, alert deliveries, ...) are cleaned up without being listed here: a reference
declared ``ON DELETE SET NULL`` is cleared, any other reference's rows are removed in turn,
children before parents, in the request's one transaction. The audit entry keeps the removed
rows as JSON. Stored files stay: originals are content-addressed and may be shared by other
media, and they belong to ingest.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, select, update
from sqlmodel import col
from sqlmodel import select as sm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.audit.models import AuditEntry
from wildlens.catalogue.media.models import Media, ModelRun, Observation
from wildlens.catalogue.sites.models import Deployment
from wildlens.catalogue.tables import metadata
from wildlens.common.errors import NotFound

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


async def delete_media(
    session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID, actor: str
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
    # The ORM must not write back rows that are about to disappear underneath it.
    session.expunge_all()
    await _remove(session, _table(Media), _table(Media).c.id.in_(ids))
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
    session: AsyncSession, project_id: uuid.UUID, deployment_id: uuid.UUID, actor: str
) -> AuditEntry:
    """Remove the deployment with its media, their observations and its events."""
    deployment = await session.get(Deployment, deployment_id)
    if deployment is None or deployment.project_id != project_id:
        raise NotFound(f"deployment {deployment_id} not found")
    media_ids = [
        str(i)
        for i in (
            await session.exec(
                sm_select(Media.id)
                .where(Media.deployment_id == deployment_id)
                .order_by(col(Media.captured_at), col(Media.id))
            )
        ).all()
    ]
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
