"""The media and observation queries, one keyset page at a time, in capture order.

A project's lists run to millions of rows, so a page must come from an index walk that stops
after ``limit`` rows, never from sorting the whole project. Each list is therefore read in
phases (see ``phases``): the media with a capture time along ``ix_media_project_captured_at_id``,
then the media without one, then (observations only) the event-level observations, which have
no medium at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, cast, exists, func, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    Deployment,
    Location,
    Media,
    ObjectCategory,
    ObjectFeature,
    Observation,
    Taxon,
)
from wildlens.catalogue.queries.filters import (
    Filters,
    media_conditions,
    observation_conditions,
)
from wildlens.catalogue.queries.phases import Phase, page_by_phases
from wildlens.common.db.pagination import SortKey, parse_datetime, parse_float
from wildlens.common.http.pagination import PageParams

__all__ = [
    "find_media",
    "find_observations",
    "get_deployment",
    "get_location",
    "get_taxon",
    "media_score",
    "morphological_names",
    "observation_score",
    "selected_observation_ids",
    "taxon_exists",
]

CAPTURED_AT = SortKey(col(Media.captured_at), parse_datetime)
MEDIA_ID = SortKey(col(Media.id))
OBSERVATION_ID = SortKey(col(Observation.id))


def _feature_join(name: str) -> Any:
    return and_(col(ObjectFeature.media_id) == col(Media.id), col(ObjectFeature.name) == name)


def _without_feature(name: str) -> ColumnElement[bool]:
    feature = aliased(ObjectFeature)
    return ~exists().where(col(feature.media_id) == col(Media.id), col(feature.name) == name)


def _feature_key(descending: bool) -> SortKey:
    return SortKey(col(ObjectFeature.value), parse_float, descending)


def _probability(labels: Any, name: str, dialect: str) -> tuple[Any, Any, ColumnElement[bool]]:
    """The entries of the JSON list ``labels`` (a table-valued function, a FROM item), an
    entry's probability, and the condition that it names ``name``."""
    if dialect == "postgresql":
        entry = func.json_array_elements(labels).table_valued("value").alias("top_label")
        value = entry.c.value
        probability = cast(value.op("->>")("probability"), Float)
        named = or_(value.op("->>")("scientific_name") == name, value.op("->>")("label") == name)
    else:
        entry = func.json_each(labels).table_valued("value").alias("top_label")
        value = entry.c.value
        probability = cast(func.json_extract(value, "$.probability"), Float)
        named = or_(
            func.json_extract(value, "$.scientific_name") == name,
            func.json_extract(value, "$.label") == name,
        )
    return entry, probability, named


def observation_score(name: str, dialect: str) -> Any:
    """SQL: the probability the observation's classifier gave ``name`` (NULL without one)."""
    _, probability, named = _probability(col(Observation.top_labels), name, dialect)
    return select(func.max(probability)).where(named).scalar_subquery()


def media_score(name: str, dialect: str) -> Any:
    """SQL: the highest probability any live observation of the medium gave ``name``."""
    other = aliased(Observation)
    entry, probability, named = _probability(col(other.top_labels), name, dialect)
    return (
        select(func.max(probability))
        .select_from(other)
        .join(entry, true())
        .where(
            col(other.media_id) == col(Media.id),
            col(other.verification_state) != "discarded",
            named,
        )
        .scalar_subquery()
    )


async def _dialect(session: AsyncSession) -> str:
    return (await session.connection()).dialect.name


async def find_media(
    session: AsyncSession,
    project_id: uuid.UUID,
    f: Filters,
    page: PageParams,
    *,
    visible: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[tuple[Media, uuid.UUID | None]], str | None]:
    """(media, its location id) in capture order (unknown times last), then by id."""
    query = (
        select(Media, Deployment.location_id)
        .join(Deployment, col(Media.deployment_id) == col(Deployment.id), isouter=True)
        .where(Media.project_id == project_id, *media_conditions(f), *visible)
    )
    if f.on_observations:
        # Media with at least one observation meeting every observation filter at once.
        matching = select(Observation.media_id).where(
            Observation.project_id == project_id, *observation_conditions(f)
        )
        query = query.where(col(Media.id).in_(matching))
    if f.order.feature is not None:
        # By one feature's value: the media that have it, then those that do not.
        name = f.order.feature
        rows, next_cursor = await page_by_phases(
            session,
            [
                Phase(
                    "featured",
                    query.add_columns(col(ObjectFeature.value)).join(
                        ObjectFeature, _feature_join(name)
                    ),
                    [_feature_key(f.order.descending), MEDIA_ID],
                    lambda row: [row[2], row[0].id],
                ),
                Phase(
                    "unfeatured",
                    query.where(_without_feature(name)),
                    [MEDIA_ID],
                    lambda row: [row[0].id],
                ),
            ],
            page,
        )
        return [(row[0], row[1]) for row in rows], next_cursor
    if f.order.score is not None:
        score = media_score(f.order.score, await _dialect(session))
        rows, next_cursor = await page_by_phases(
            session,
            [
                Phase(
                    "scored",
                    query.add_columns(score).where(score.is_not(None)),
                    [SortKey(score, parse_float, f.order.descending), MEDIA_ID],
                    lambda row: [row[2], row[0].id],
                ),
                Phase(
                    "unscored",
                    query.where(score.is_(None)),
                    [MEDIA_ID],
                    lambda row: [row[0].id],
                ),
            ],
            page,
        )
        return [(row[0], row[1]) for row in rows], next_cursor
    rows, next_cursor = await page_by_phases(
        session,
        [
            Phase(
                "captured",
                query.where(col(Media.captured_at).is_not(None)),
                [CAPTURED_AT, MEDIA_ID],
                lambda row: [row[0].captured_at, row[0].id],
            ),
            Phase(
                "undated",
                query.where(col(Media.captured_at).is_(None)),
                [MEDIA_ID],
                lambda row: [row[0].id],
                constant=[CAPTURED_AT.column],
            ),
        ],
        page,
    )
    return [(m, location_id) for m, location_id in rows], next_cursor


async def find_observations(
    session: AsyncSession,
    project_id: uuid.UUID,
    f: Filters,
    page: PageParams,
    *,
    visible: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[tuple[Observation, Any, Any, Any]], str | None]:
    """(observation, capture time, deployment id, location id) in the capture order of their
    media (unknown times last), then by medium and by id; event-level observations, which
    have no medium, come last. ``visible`` are the caller's privacy conditions on ``Media``."""
    conditions = [
        col(Observation.project_id) == project_id,
        *observation_conditions(f),
        *media_conditions(f),
        *visible,
    ]
    # Driven from the project's media in index order, each medium's observations found by
    # ``media_id``: the walk stops as soon as the page is full.
    of_media = (
        _observation_rows()
        .select_from(Media)
        .join(Observation, col(Observation.media_id) == col(Media.id))
        .join(Deployment, col(Media.deployment_id) == col(Deployment.id), isouter=True)
        .where(Media.project_id == project_id, *conditions)
    )
    # The outer join is kept for its NULL media row: the media filters and the privacy
    # conditions judge an event-level observation by it, as they always have.
    of_events = (
        _observation_rows()
        .select_from(Observation)
        .join(Media, col(Observation.media_id) == col(Media.id), isouter=True)
        .join(Deployment, col(Media.deployment_id) == col(Deployment.id), isouter=True)
        .where(col(Observation.media_id).is_(None), *conditions)
    )
    if f.order.feature is not None:
        name = f.order.feature
        rows, next_cursor = await page_by_phases(
            session,
            [
                Phase(
                    "featured",
                    of_media.add_columns(col(ObjectFeature.value)).join(
                        ObjectFeature, _feature_join(name)
                    ),
                    [_feature_key(f.order.descending), MEDIA_ID, OBSERVATION_ID],
                    lambda row: [row[4], row[0].media_id, row[0].id],
                ),
                Phase(
                    "unfeatured",
                    of_media.where(_without_feature(name)),
                    [MEDIA_ID, OBSERVATION_ID],
                    lambda row: [row[0].media_id, row[0].id],
                ),
                Phase("event", of_events, [OBSERVATION_ID], lambda row: [row[0].id]),
            ],
            page,
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows], next_cursor
    if f.order.score is not None:
        score = observation_score(f.order.score, await _dialect(session))
        rows, next_cursor = await page_by_phases(
            session,
            [
                Phase(
                    "scored",
                    of_media.add_columns(score).where(score.is_not(None)),
                    [SortKey(score, parse_float, f.order.descending), OBSERVATION_ID],
                    lambda row: [row[4], row[0].id],
                ),
                Phase(
                    "unscored",
                    of_media.where(score.is_(None)),
                    [MEDIA_ID, OBSERVATION_ID],
                    lambda row: [row[0].media_id, row[0].id],
                ),
                Phase("event", of_events, [OBSERVATION_ID], lambda row: [row[0].id]),
            ],
            page,
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows], next_cursor
    rows, next_cursor = await page_by_phases(
        session,
        [
            Phase(
                "captured",
                of_media.where(col(Media.captured_at).is_not(None)),
                [CAPTURED_AT, MEDIA_ID, OBSERVATION_ID],
                lambda row: [row[1], row[0].media_id, row[0].id],
                indexed=2,
            ),
            Phase(
                "undated",
                of_media.where(col(Media.captured_at).is_(None)),
                [MEDIA_ID, OBSERVATION_ID],
                lambda row: [row[0].media_id, row[0].id],
                indexed=1,
                constant=[CAPTURED_AT.column],
            ),
            Phase("event", of_events, [OBSERVATION_ID], lambda row: [row[0].id]),
        ],
        page,
    )
    return [(o, captured_at, d, loc) for o, captured_at, d, loc in rows], next_cursor


def _observation_rows() -> Any:
    """What an observation list row is made of, before any join."""
    return select(Observation, Media.captured_at, Media.deployment_id, Deployment.location_id)


async def get_location(session: AsyncSession, location_id: uuid.UUID) -> Location | None:
    return await session.get(Location, location_id)


async def get_deployment(session: AsyncSession, deployment_id: uuid.UUID) -> Deployment | None:
    return await session.get(Deployment, deployment_id)


async def get_taxon(session: AsyncSession, taxon_id: uuid.UUID) -> Taxon | None:
    return await session.get(Taxon, taxon_id)


async def taxon_exists(session: AsyncSession, taxon_id: uuid.UUID) -> bool:
    return await session.get(Taxon, taxon_id) is not None


async def selected_observation_ids(
    session: AsyncSession,
    project_id: uuid.UUID,
    f: Filters,
    most: int,
    *,
    visible: Sequence[ColumnElement[bool]] = (),
) -> list[uuid.UUID]:
    """The ids of the observations the list with these filters holds, at most ``most``."""
    rows = await session.exec(
        select(Observation.id)
        .join(Media, col(Observation.media_id) == col(Media.id), isouter=True)
        .join(Deployment, col(Media.deployment_id) == col(Deployment.id), isouter=True)
        .where(
            col(Observation.project_id) == project_id,
            *observation_conditions(f),
            *media_conditions(f),
            *visible,
        )
        .order_by(col(Observation.id))
        .limit(most)
    )
    return list(rows.all())


async def morphological_names(session: AsyncSession, project_id: uuid.UUID) -> set[str]:
    """The names (before any ``<parent``) of the project's non-taxonomic object categories."""
    rows = await session.exec(
        select(ObjectCategory.name).where(
            col(ObjectCategory.project_id) == project_id, col(ObjectCategory.morphological)
        )
    )
    return {name.partition("<")[0].strip() for name in rows.all()}
