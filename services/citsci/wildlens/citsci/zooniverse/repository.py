"""Queries on media sent to Zooniverse, the subject sets they were sent for, and the
classifications pulled back for them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, String, cast, or_
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import (
    SentState,
    SubjectSet,
    ZooniverseClassification,
    ZooniverseSubject,
)
from wildlens.common.db import utcnow

__all__ = [
    "add_classifications",
    "add_sent",
    "classifications_of",
    "forget_sent",
    "linked_showing",
    "media_of_subjects",
    "pending_retirements",
    "sent_in_set",
    "sent_of_medium",
    "set_state",
    "stored_classification_ids",
    "subject_set",
    "subject_set_for_update",
    "zooniverse_sets",
]


async def subject_set(session: AsyncSession, subject_set_id: uuid.UUID) -> SubjectSet | None:
    return await session.get(SubjectSet, subject_set_id)


async def sent_in_set(
    session: AsyncSession, subject_set_id: uuid.UUID
) -> dict[uuid.UUID, ZooniverseSubject]:
    """The set's subjects sent so far, by the medium naming each (its first), whatever state
    their sending reached."""
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
    """The medium each of the set's Zooniverse subjects is named by (its first), by subject
    id."""
    rows = await session.exec(
        select(ZooniverseSubject.zooniverse_subject_id, ZooniverseSubject.media_id).where(
            ZooniverseSubject.subject_set_id == subject_set_id,
            col(ZooniverseSubject.zooniverse_subject_id).in_(list(subject_ids)),
        )
    )
    return dict(rows.all())


async def subject_set_for_update(
    session: AsyncSession, subject_set_id: uuid.UUID
) -> SubjectSet | None:
    """The set, locked until the transaction ends: two pulls of one set store each
    classification once."""
    query = select(SubjectSet).where(SubjectSet.id == subject_set_id).with_for_update()
    return (await session.exec(query)).first()


async def stored_classification_ids(session: AsyncSession, subject_set_id: uuid.UUID) -> set[int]:
    rows = await session.exec(
        select(ZooniverseClassification.zooniverse_classification_id).where(
            ZooniverseClassification.subject_set_id == subject_set_id
        )
    )
    return set(rows.all())


async def add_classifications(session: AsyncSession, rows: list[ZooniverseClassification]) -> None:
    session.add_all(rows)
    await session.flush()


async def classifications_of(
    session: AsyncSession, subject_id: uuid.UUID
) -> list[ZooniverseClassification]:
    """The subject's classifications in the order volunteers gave them."""
    query = (
        select(ZooniverseClassification)
        .where(ZooniverseClassification.subject_id == subject_id)
        .order_by(
            col(ZooniverseClassification.created_at),
            col(ZooniverseClassification.zooniverse_classification_id),
        )
    )
    return list((await session.exec(query)).all())


async def linked_showing(
    session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID
) -> list[ZooniverseSubject]:
    """The project's subjects showing the medium (as any of their frames) that volunteers
    still classify."""
    query = select(ZooniverseSubject).where(
        ZooniverseSubject.project_id == project_id,
        _showing(media_id),
        ZooniverseSubject.state == "linked",
        col(ZooniverseSubject.retired_at).is_(None),
    )
    return [z for z in (await session.exec(query)).all() if media_id in z.frames()]


def _showing(media_id: uuid.UUID) -> ColumnElement[bool]:
    """Subjects named by the medium or listing it among their frames: the JSON's text holds
    the id as written (a uuid has nothing LIKE reads as a pattern), narrowed in Python."""
    return or_(
        col(ZooniverseSubject.media_id) == media_id,
        cast(col(ZooniverseSubject.media_ids), String).like(f"%{media_id}%"),
    )


async def pending_retirements(
    session: AsyncSession, subject_set_ids: Iterable[uuid.UUID] | None = None
) -> list[tuple[ZooniverseSubject, SubjectSet]]:
    """Subjects Wildlens retired whose retirement has yet to reach Zooniverse, each with its
    set (all sets' without ``subject_set_ids``)."""
    query = (
        select(ZooniverseSubject, SubjectSet)
        .join(SubjectSet, col(SubjectSet.id) == col(ZooniverseSubject.subject_set_id))
        .where(
            ZooniverseSubject.state == "linked",
            col(ZooniverseSubject.retired_at).is_not(None),
        )
    )
    if subject_set_ids is not None:
        query = query.where(col(ZooniverseSubject.subject_set_id).in_(list(subject_set_ids)))
    return [(z, s) for z, s in (await session.exec(query)).all()]


async def zooniverse_sets(session: AsyncSession) -> list[SubjectSet]:
    """Every set classified on a Zooniverse workflow that has been sent subjects."""
    query = select(SubjectSet).where(
        SubjectSet.destination == "zooniverse",
        col(SubjectSet.zooniverse_workflow_id).is_not(None),
        col(SubjectSet.zooniverse_subject_set_id).is_not(None),
    )
    return list((await session.exec(query)).all())


async def sent_of_medium(
    session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID
) -> list[tuple[ZooniverseSubject, str | None]]:
    """The medium's Zooniverse subjects in the project, each with its set's workflow."""
    rows = await session.exec(
        select(ZooniverseSubject, SubjectSet.zooniverse_workflow_id)
        .join(SubjectSet, col(SubjectSet.id) == col(ZooniverseSubject.subject_set_id))
        .where(ZooniverseSubject.project_id == project_id, _showing(media_id))
    )
    return [(r, w) for r, w in rows.all() if media_id in r.frames()]
