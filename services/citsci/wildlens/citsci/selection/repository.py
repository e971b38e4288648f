"""Queries on selection policies and on the media a subject set holds already."""

from __future__ import annotations

import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SelectionPolicy, SubjectSet, VolunteerSubject, ZooniverseSubject

__all__ = ["media_in_set", "policy", "put_policy", "subject_set"]


async def subject_set(session: AsyncSession, subject_set_id: uuid.UUID) -> SubjectSet | None:
    return await session.get(SubjectSet, subject_set_id)


async def policy(session: AsyncSession, project_id: uuid.UUID) -> SelectionPolicy | None:
    return await session.get(SelectionPolicy, project_id)


async def put_policy(session: AsyncSession, row: SelectionPolicy) -> SelectionPolicy:
    """Insert or replace the project's policy; flushed."""
    merged = await session.merge(row)
    await session.flush()
    return merged


async def media_in_set(session: AsyncSession, subject_set_id: uuid.UUID) -> set[uuid.UUID]:
    """Every medium the set holds: in its built-in subjects (whatever their state) and sent
    to Zooniverse for it."""
    built_in = await session.exec(
        select(VolunteerSubject.media_ids).where(VolunteerSubject.subject_set_id == subject_set_id)
    )
    sent = await session.exec(
        select(ZooniverseSubject).where(ZooniverseSubject.subject_set_id == subject_set_id)
    )
    held = {uuid.UUID(m) for media in built_in.all() for m in media}
    return held | {m for z in sent.all() for m in z.frames()}
