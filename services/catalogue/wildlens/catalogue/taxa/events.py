"""``taxonomy.changed``: staged in the outbox with the change, so it goes out only if the
change commits; inference replicas re-read what it names."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db import utcnow
from wildlens.common.events.v1.taxonomy_pb2 import TaxonomyChanged
from wildlens.common.service import ServiceBus

__all__ = ["stage_taxonomy_changed"]


async def stage_taxonomy_changed(
    bus: ServiceBus,
    session: AsyncSession,
    reason: str,
    *,
    project_id: uuid.UUID | None = None,
    model_name: str = "",
) -> None:
    event = TaxonomyChanged(
        project_id=str(project_id) if project_id else "", reason=reason, model_name=model_name
    )
    event.changed_at.FromDatetime(utcnow())
    await bus.stage(session, [event])
