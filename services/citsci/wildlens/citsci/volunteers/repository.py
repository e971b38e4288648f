"""Queries on built-in subjects and their volunteers' classifications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SubjectSet, VolunteerClassification, VolunteerSubject

__all__ = [
    "add",
    "classification_of",
    "classifications_of",
    "classifications_of_subjects",
    "classified_by",
    "next_subject",
    "progress",
    "project_classifications",
    "project_subjects",
    "project_votes",
    "subject",
    "subject_for_update",
    "subject_set",
    "subjects_in_set",
    "subjects_page",
    "subjects_showing",
]


async def subject_set(session: AsyncSession, subject_set_id: uuid.UUID) -> SubjectSet | None:
    return await session.get(SubjectSet, subject_set_id)


async def subject(session: AsyncSession, subject_id: uuid.UUID) -> VolunteerSubject | None:
    return await session.get(VolunteerSubject, subject_id)


async def subject_for_update(
    session: AsyncSession, subject_id: uuid.UUID
) -> VolunteerSubject | None:
    """The subject, locked until the transaction ends: two volunteers' classifications that
    arrive together retire it once."""
    query = select(VolunteerSubject).where(VolunteerSubject.id == subject_id).with_for_update()
    return (await session.exec(query)).first()


async def add(
    session: AsyncSession, rows: Sequence[VolunteerSubject | VolunteerClassification]
) -> None:
    session.add_all(rows)
    await session.flush()


async def subjects_in_set(
    session: AsyncSession, subject_set_id: uuid.UUID
) -> list[VolunteerSubject]:
    query = select(VolunteerSubject).where(VolunteerSubject.subject_set_id == subject_set_id)
    return list((await session.exec(query)).all())


async def subjects_showing(
    session: AsyncSession,
    project_id: uuid.UUID,
    media_id: uuid.UUID,
    states: Sequence[str] = ("active",),
) -> list[VolunteerSubject]:
    """The project's subjects in ``states`` (still waiting for volunteers, by default) that
    show the medium."""
    query = select(VolunteerSubject).where(
        VolunteerSubject.project_id == project_id, col(VolunteerSubject.state).in_(list(states))
    )
    rows = (await session.exec(query)).all()
    return [s for s in rows if str(media_id) in s.media_ids]


async def next_subject(
    session: AsyncSession, project_id: uuid.UUID, volunteer: str, state: str
) -> VolunteerSubject | None:
    """The oldest of the project's built-in subjects in ``state`` the volunteer has not
    classified (the oldest first, so that subjects retire rather than all linger)."""
    done = select(VolunteerClassification.subject_id).where(
        VolunteerClassification.project_id == project_id,
        VolunteerClassification.volunteer == volunteer,
    )
    query = (
        select(VolunteerSubject)
        .join(SubjectSet, col(SubjectSet.id) == col(VolunteerSubject.subject_set_id))
        .where(
            VolunteerSubject.project_id == project_id,
            VolunteerSubject.state == state,
            SubjectSet.destination == "builtin",
            col(VolunteerSubject.id).not_in(done),
        )
        .order_by(col(VolunteerSubject.created_at), col(VolunteerSubject.id))
        .limit(1)
    )
    return (await session.exec(query)).first()


async def classification_of(
    session: AsyncSession, subject_id: uuid.UUID, volunteer: str
) -> VolunteerClassification | None:
    query = select(VolunteerClassification).where(
        VolunteerClassification.subject_id == subject_id,
        VolunteerClassification.volunteer == volunteer,
    )
    return (await session.exec(query)).first()


async def classifications_of(
    session: AsyncSession, subject_id: uuid.UUID
) -> list[VolunteerClassification]:
    """The subject's classifications in the order they came."""
    query = (
        select(VolunteerClassification)
        .where(VolunteerClassification.subject_id == subject_id)
        .order_by(col(VolunteerClassification.created_at), col(VolunteerClassification.id))
    )
    return list((await session.exec(query)).all())


async def classified_by(
    session: AsyncSession, project_id: uuid.UUID, volunteer: str
) -> list[tuple[VolunteerClassification, VolunteerSubject]]:
    """The volunteer's classifications in the project, each with its subject."""
    query = (
        select(VolunteerClassification, VolunteerSubject)
        .join(VolunteerSubject, col(VolunteerSubject.id) == col(VolunteerClassification.subject_id))
        .where(
            VolunteerClassification.project_id == project_id,
            VolunteerClassification.volunteer == volunteer,
        )
    )
    return [(c, s) for c, s in (await session.exec(query)).all()]


async def project_classifications(
    session: AsyncSession, project_id: uuid.UUID
) -> list[tuple[VolunteerClassification, VolunteerSubject]]:
    """Every classification of the project's built-in subjects, each with its subject."""
    query = (
        select(VolunteerClassification, VolunteerSubject)
        .join(VolunteerSubject, col(VolunteerSubject.id) == col(VolunteerClassification.subject_id))
        .where(VolunteerClassification.project_id == project_id)
        .order_by(col(VolunteerClassification.subject_id), col(VolunteerClassification.volunteer))
    )
    return [(c, s) for c, s in (await session.exec(query)).all()]


async def project_votes(
    session: AsyncSession,
    project_id: uuid.UUID,
    *,
    recent: int | None = None,
    subject_id: uuid.UUID | None = None,
) -> list[tuple[Any, ...]]:
    """What Dawid-Skene needs of the classifications of the project's built-in subjects, as
    plain rows (no objects: a project holds many): subject id, volunteer, nothing here,
    taxa, and the subject's state and expert names. Every classification without
    ``recent``; with it, the ``recent`` newest (by time, then id), every one of a
    gold-standard subject, and every one of ``subject_id``: a retirement's cost does not
    grow with the project."""
    columns = (
        col(VolunteerClassification.id),
        col(VolunteerClassification.subject_id),
        col(VolunteerClassification.volunteer),
        col(VolunteerClassification.nothing_here),
        col(VolunteerClassification.taxa),
        col(VolunteerSubject.state),
        col(VolunteerSubject.expert_names),
    )
    base = (
        select_columns(*columns)
        .join(VolunteerSubject, col(VolunteerSubject.id) == col(VolunteerClassification.subject_id))
        .where(col(VolunteerClassification.project_id) == project_id)
    )
    connection = await session.connection()
    if recent is None:
        return [tuple(r)[1:] for r in (await connection.execute(base)).all()]
    newest = base.order_by(
        col(VolunteerClassification.created_at).desc(), col(VolunteerClassification.id).desc()
    ).limit(recent)
    anchored = col(VolunteerSubject.state) == "gold"
    if subject_id is not None:
        anchored = or_(anchored, col(VolunteerClassification.subject_id) == subject_id)
    rows: dict[uuid.UUID, tuple[Any, ...]] = {}
    for query in (newest, base.where(anchored)):
        for r in (await connection.execute(query)).all():
            rows[r[0]] = tuple(r)[1:]
    return list(rows.values())


async def subjects_page(
    session: AsyncSession,
    project_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[VolunteerSubject]:
    """Up to ``limit`` of the project's built-in subjects, oldest first, after the one made
    at ``after`` (its time and id)."""
    query = select(VolunteerSubject).where(VolunteerSubject.project_id == project_id)
    if after is not None:
        made, subject_id = after
        query = query.where(
            or_(
                col(VolunteerSubject.created_at) > made,
                and_(
                    col(VolunteerSubject.created_at) == made, col(VolunteerSubject.id) > subject_id
                ),
            )
        )
    query = query.order_by(col(VolunteerSubject.created_at), col(VolunteerSubject.id)).limit(limit)
    return list((await session.exec(query)).all())


async def classifications_of_subjects(
    session: AsyncSession, subject_ids: Sequence[uuid.UUID]
) -> list[VolunteerClassification]:
    """The classifications of these subjects."""
    if not subject_ids:
        return []
    query = select(VolunteerClassification).where(
        col(VolunteerClassification.subject_id).in_(list(subject_ids))
    )
    return list((await session.exec(query)).all())


async def project_subjects(session: AsyncSession, project_id: uuid.UUID) -> list[VolunteerSubject]:
    """The project's built-in subjects, oldest first."""
    query = (
        select(VolunteerSubject)
        .where(VolunteerSubject.project_id == project_id)
        .order_by(col(VolunteerSubject.created_at), col(VolunteerSubject.id))
    )
    return list((await session.exec(query)).all())


async def progress(session: AsyncSession, project_id: uuid.UUID) -> tuple[dict[str, int], int, int]:
    """The project's subjects by state, its classifications, and how many volunteers gave
    them."""
    states = await session.exec(
        select(VolunteerSubject.state, func.count())
        .where(VolunteerSubject.project_id == project_id)
        .group_by(col(VolunteerSubject.state))
    )
    counted = (
        await session.exec(
            select(
                func.count(), func.count(func.distinct(VolunteerClassification.volunteer))
            ).where(VolunteerClassification.project_id == project_id)
        )
    ).one()
    return {str(s): int(n) for s, n in states.all()}, int(counted[0]), int(counted[1])
