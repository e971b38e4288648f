"""Queries on media sent to Zooniverse and the subject sets they were sent for."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SentState, SubjectSet, ZooniverseSubject
from wildlens.common.db import utcnow

__all__ = [
    "add_sent",
    "forget_sent",
    "media_of_subjects",
    "sent_in_set",
    "sent_of_medium",
    "set_state",
    "subject_set",
]


async def subject_set(session: AsyncSession, subject_set_id: uuid.UUID) -> SubjectSet | None:
    return await session.get(SubjectSet, subject_set_id)


async def sent_in_set(
    session: AsyncSession, subject_set_id: uuid.UUID
) -> dict[uuid.UUID, ZooniverseSubject]:
    """The set's media sent so far, by medium, whatever state their sending reached."""
    rows = await session.exec(
        select(ZooniverseSubject).where(ZooniverseSubject.subject_set_id == subject_set_id)
    )
    return {r.media_id: r for r in rows.all()}


async def add_sent(session: AsyncSession, sent: ZooniverseSubject) -> None:
    session.add(sent)
    await session.flush()


async def forget_sent(session: AsyncSession, sent_id: uuid.UUID) -> None:
    await session.exec(delete(ZooniverseSubject).where(col(ZooniverseSubject.id) == sent_id))


async def set_state(
    session: AsyncSession, subject_set_id: uuid.UUID, subject_ids: Iterable[str], state: SentState
) -> None:
    rows = await session.exec(
        select(ZooniverseSubject).where(
            ZooniverseSubject.subject_set_id == subject_set_id,
            col(ZooniverseSubject.zooniverse_subject_id).in_(list(subject_ids)),
        )
    )
    for row in rows.all():
        row.state = state
        row.updated_at = utcnow()
        session.add(row)
    await session.flush()


async def media_of_subjects(
    session: AsyncSession, subject_set_id: uuid.UUID, subject_ids: Iterable[str]
) -> dict[str, uuid.UUID]:
    """The media the set's Zooniverse subjects stand for, by subject id."""
    rows = await session.exec(
        select(ZooniverseSubject.zooniverse_subject_id, ZooniverseSubject.media_id).where(
            ZooniverseSubject.subject_set_id == subject_set_id,
            col(ZooniverseSubject.zooniverse_subject_id).in_(list(subject_ids)),
        )
    )
    return dict(rows.all())


async def sent_of_medium(
    session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID
) -> list[tuple[ZooniverseSubject, str | None]]:
    """The medium's Zooniverse subjects in the project, each with its set's workflow."""
    rows = await session.exec(
        select(ZooniverseSubject, SubjectSet.zooniverse_workflow_id)
        .join(SubjectSet, col(SubjectSet.id) == col(ZooniverseSubject.subject_set_id))
        .where(ZooniverseSubject.project_id == project_id, ZooniverseSubject.media_id == media_id)
    )
    return [(r, w) for r, w in rows.all()]
