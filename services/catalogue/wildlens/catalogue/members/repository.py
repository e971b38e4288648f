"""Queries on a project's memberships."""

from __future__ import annotations

import uuid

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Membership
from wildlens.common.db.pagination import page_by_id
from wildlens.common.http.pagination import PageParams

__all__ = ["add", "add_if_absent", "admins_for_update", "delete", "find", "members_page"]


async def members_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Membership], str | None]:
    query = select(Membership).where(Membership.project_id == project_id)
    return await page_by_id(session, query, col(Membership.id), page)


async def find(session: AsyncSession, project_id: uuid.UUID, subject: str) -> Membership | None:
    query = select(Membership).where(
        Membership.project_id == project_id, Membership.subject == subject
    )
    return (await session.exec(query)).first()


async def admins_for_update(session: AsyncSession, project_id: uuid.UUID) -> list[Membership]:
    """The project's admins, locked (PostgreSQL) until the transaction ends, so that two admins
    demoting each other at once cannot both see the other still there."""
    query = (
        select(Membership)
        .where(Membership.project_id == project_id, Membership.role == "admin")
        .with_for_update()
    )
    return list((await session.exec(query)).all())


async def delete(session: AsyncSession, member: Membership) -> None:
    await session.delete(member)
    await session.flush()


async def add(session: AsyncSession, member: Membership) -> None:
    session.add(member)
    await session.flush()


_MEMBERSHIPS: Table = Membership.__table__  # type: ignore[attr-defined]


async def add_if_absent(session: AsyncSession, member: Membership) -> None:
    """Add the membership unless the subject has one in the project already (two joins at
    once add it once)."""
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(_MEMBERSHIPS).values(member.model_dump()).on_conflict_do_nothing()
    await connection.execute(statement)
