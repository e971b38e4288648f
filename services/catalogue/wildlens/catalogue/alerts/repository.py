"""Every query of the alerts domain: rules, their deliveries and attempts, and what a rule is
matched against (a medium's observations, its deployment and location)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    AlertDelivery,
    AlertRule,
    DeliveryAttempt,
    Deployment,
    Location,
    Media,
    Observation,
    Taxon,
)
from wildlens.catalogue.taxa.repository import descendants
from wildlens.common.db.pagination import SortKey, page_by_id, page_by_keys, parse_datetime
from wildlens.common.http.pagination import PageParams

__all__ = [
    "already_queued",
    "attempts_of",
    "deliveries_page",
    "delivery",
    "deployment",
    "due_deliveries",
    "enabled_rules",
    "location",
    "media",
    "next_due",
    "observations_of",
    "rule",
    "rules_page",
    "subtree",
    "taxon_exists",
]


async def taxon_exists(session: AsyncSession, taxon_id: uuid.UUID) -> bool:
    return await session.get(Taxon, taxon_id) is not None


async def location(session: AsyncSession, location_id: uuid.UUID) -> Location | None:
    return await session.get(Location, location_id)


async def deployment(session: AsyncSession, deployment_id: uuid.UUID) -> Deployment | None:
    return await session.get(Deployment, deployment_id)


async def rule(session: AsyncSession, rule_id: uuid.UUID) -> AlertRule | None:
    return await session.get(AlertRule, rule_id)


async def rules_page(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[AlertRule], str | None]:
    query = select(AlertRule).where(AlertRule.project_id == project_id)
    return await page_by_id(session, query, col(AlertRule.id), page)


async def deliveries_page(
    session: AsyncSession, rule_id: uuid.UUID, page: PageParams
) -> tuple[list[AlertDelivery], str | None]:
    """The rule's deliveries, oldest first."""
    query = select(AlertDelivery).where(AlertDelivery.rule_id == rule_id)
    rows, next_cursor = await page_by_keys(
        session,
        query,
        [
            SortKey(col(AlertDelivery.created_at), parse_datetime),
            SortKey(col(AlertDelivery.id)),
        ],
        lambda row: [row.created_at, row.id],
        page,
    )
    return list(rows), next_cursor


async def attempts_of(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> list[DeliveryAttempt]:
    """The attempts at these deliveries, in the order they were made."""
    if not delivery_ids:
        return []
    query = (
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id).in_(delivery_ids))
        .order_by(col(DeliveryAttempt.number))
    )
    return list((await session.exec(query)).all())


async def enabled_rules(session: AsyncSession, project_ids: Iterable[uuid.UUID]) -> list[AlertRule]:
    query = select(AlertRule).where(
        col(AlertRule.project_id).in_(set(project_ids)), col(AlertRule.enabled)
    )
    return list((await session.exec(query)).all())


async def media(session: AsyncSession, media_ids: list[uuid.UUID]) -> list[Media]:
    return list((await session.exec(select(Media).where(col(Media.id).in_(media_ids)))).all())


async def observations_of(session: AsyncSession, media_ids: list[uuid.UUID]) -> list[Observation]:
    query = select(Observation).where(col(Observation.media_id).in_(media_ids))
    return list((await session.exec(query)).all())


async def subtree(session: AsyncSession, taxon_id: uuid.UUID) -> tuple[set[uuid.UUID], set[str]]:
    """The ids of the taxon and every taxon below it, and their scientific names."""
    ids = await descendants(session, taxon_id)
    query = select(Taxon.scientific_name).where(col(Taxon.id).in_(ids))
    return ids, set((await session.exec(query)).all())


async def already_queued(session: AsyncSession, rule_id: uuid.UUID, media_id: uuid.UUID) -> bool:
    query = select(AlertDelivery.id).where(
        AlertDelivery.rule_id == rule_id, AlertDelivery.media_id == media_id
    )
    return (await session.exec(query)).first() is not None


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest pending delivery is due."""
    query = select(func.min(AlertDelivery.next_attempt_at)).where(AlertDelivery.status == "pending")
    return (await session.exec(query)).first()


async def due_deliveries(
    session: AsyncSession, now: datetime, *, limit: int, skip_locked: bool
) -> list[tuple[AlertDelivery, AlertRule]]:
    """Pending deliveries due by ``now``, earliest first, each with its rule; with
    ``skip_locked`` (PostgreSQL) the rows are locked and those another transaction holds are
    passed over."""
    query = (
        select(AlertDelivery, AlertRule)
        .join(AlertRule, col(AlertRule.id) == col(AlertDelivery.rule_id))
        .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
        .order_by(col(AlertDelivery.next_attempt_at))
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=AlertDelivery)
    return [(d, r) for d, r in (await session.exec(query)).all()]


async def delivery(session: AsyncSession, delivery_id: uuid.UUID) -> AlertDelivery | None:
    return await session.get(AlertDelivery, delivery_id)
