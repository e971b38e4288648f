"""The statements that bring a project's per-minute media summaries up to date.

A refresh takes the project's notes of changed (deployment, minute) from ``summary_changes``,
deletes the summaries of those minutes and recomputes them from the media and their labels
(or the whole project's at once); ``summaries`` decides which, and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    text,
    union_all,
)
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from wildlens.catalogue.models import (
    SECONDS_PER_MINUTE,
    Media,
    MediaMinute,
    Observation,
    SummaryChange,
)
from wildlens.catalogue.statistics.repository.records import epoch_seconds
from wildlens.common.db import UtcDateTime, transaction_lock

__all__ = [
    "MinuteRange",
    "analyze",
    "changed_projects",
    "has_changes",
    "lock_refreshes",
    "plan_each_refresh",
    "recompute_project",
    "recompute_ranges",
    "summarised",
    "take_changes",
    "vacuum",
]

# Ranges of minutes per statement: enough to take a consumer's batches at once, few enough
# for the planner to join them to the indexes range by range. SQLite, where each range is a
# condition of its own, takes fewer.
RANGES_PER_STATEMENT = 1000
RANGES_IN_OR = 200


@dataclass(frozen=True)
class MinuteRange:
    """Minutes ``first``..``last`` (inclusive) of one deployment; both None: its media
    without a capture time."""

    deployment_id: uuid.UUID
    first: int | None
    last: int | None

    def covers(self, deployment: Any, minute: Any) -> ColumnElement[bool]:
        """The summary rows of this range."""
        if self.first is None:
            return and_(deployment == self.deployment_id, minute.is_(None))
        return and_(deployment == self.deployment_id, minute.between(self.first, self.last))

    def times(self, deployment: Any, at: Any) -> ColumnElement[bool]:
        """The rows whose time ``at`` (a timestamp column) falls in this range."""
        if self.first is None:
            return and_(deployment == self.deployment_id, at.is_(None))
        return and_(deployment == self.deployment_id, at >= self.start, at < self.end)

    @property
    def start(self) -> datetime:
        """The instant the range begins (a timed range only)."""
        assert self.first is not None
        return datetime.fromtimestamp(self.first * SECONDS_PER_MINUTE, UTC)

    @property
    def end(self) -> datetime:
        """The instant after the range's last minute (a timed range only)."""
        assert self.last is not None
        return datetime.fromtimestamp((self.last + 1) * SECONDS_PER_MINUTE, UTC)


def _either(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*conditions) if conditions else false()


@dataclass(frozen=True)
class Within:
    """What a recompute covers: its ranges of minutes, and then the ids of the media in them.

    The media are looked up first, by the ranges alone; the recompute then names them by
    id, which the planner sees the true size of.

    On PostgreSQL the ranges travel as one array per column, unnested into rows that the
    statements join (``rows``): the statements' text is then the same whatever the ranges,
    planned once and built once. Built as one condition per range instead, a statement of a
    few hundred ranges took longer to construct and compile than to run. SQLite has no
    arrays; there the ranges are a condition each (``condition``), as embedded projects are
    small.
    """

    ranges: Sequence[MinuteRange]
    media_ids: Sequence[uuid.UUID]
    arrays: bool

    @property
    def timed(self) -> list[MinuteRange]:
        return [r for r in self.ranges if r.first is not None]

    @property
    def untimed(self) -> list[uuid.UUID]:
        """Deployments whose media without a capture time are covered."""
        return [r.deployment_id for r in self.ranges if r.first is None]

    def rows(self) -> Any:
        """The timed ranges as rows: deployment_id, first and last minute, and start and end
        (the instants that bound them, end excluded). PostgreSQL only."""
        timed = self.timed
        return (
            func.unnest(
                _array("range_deployments", [r.deployment_id for r in timed], Uuid()),
                _array("range_firsts", [r.first for r in timed], BigInteger()),
                _array("range_lasts", [r.last for r in timed], BigInteger()),
                _array("range_starts", [r.start for r in timed], UtcDateTime()),
                _array("range_ends", [r.end for r in timed], UtcDateTime()),
            )
            .table_valued("deployment_id", "first", "last", "start", "end")
            .render_derived(name="ranges")
        )

    def condition(self, deployment: Any, at: Any) -> ColumnElement[bool]:
        """The rows of ``deployment`` whose time ``at`` falls in a range. SQLite only."""
        return _either([r.times(deployment, at) for r in self.ranges])

    def media(self, column: Any) -> ColumnElement[bool]:
        """``column`` names one of the media."""
        named: ColumnElement[bool] = (
            column == any_(_array("media_ids", list(self.media_ids), Uuid()))
            if self.arrays
            else column.in_(self.media_ids)
        )
        return named


def _array(name: str, values: list[Any], item: Any) -> Any:
    return bindparam(name, values, type_=ARRAY(item))


def _media_rows(project_id: uuid.UUID, within: Within | None) -> Any:
    """(project, deployment, minute, media, with an animal, with a verified animal) of the
    media in ``within``'s ranges (None: the whole project).

    One pass: each medium joined to its labels and grouped, rather than a probe per medium.
    A medium shows an animal when a person labelled one, or, where no person labelled the
    medium at all, when the machine did (the records' rule).
    """
    method, state = col(Observation.classification_method), col(Observation.verification_state)
    kept = and_(col(Observation.id).is_not(None), state != "discarded")
    animal = and_(kept, col(Observation.observation_type) == "animal")

    def flag(condition: ColumnElement[bool]) -> Any:
        return func.max(case((condition, 1), else_=0))

    where: list[ColumnElement[bool]] = [
        col(Media.project_id) == project_id,
        col(Media.deployment_id).is_not(None),
    ]
    query: Any = (
        select_columns(
            col(Media.deployment_id).label("deployment_id"),
            (epoch_seconds(col(Media.captured_at)) // SECONDS_PER_MINUTE).label("minute"),
            flag(and_(kept, method == "human")).label("human"),
            flag(and_(animal, method == "human")).label("human_animal"),
            flag(and_(animal, method == "machine")).label("machine_animal"),
            flag(and_(animal, method == "human", state != "dubious")).label("verified"),
        )
        .select_from(Media)
        .join(Observation, col(Observation.media_id) == col(Media.id), isouter=True)
        .where(*where)
        .group_by(col(Media.id), col(Media.deployment_id), col(Media.captured_at))
    )
    if within is not None:
        query = query.where(within.media(col(Media.id)))
    per_medium = query.subquery("per_medium")
    m = per_medium.c
    with_animal = case(
        (m.human_animal == 1, 1), (and_(m.human == 0, m.machine_animal == 1), 1), else_=0
    )
    return select_columns(
        literal(project_id, Uuid()).label("project_id"),
        m.deployment_id,
        m.minute,
        func.count().label("media"),
        func.sum(with_animal).label("with_animal"),
        func.sum(m.verified).label("with_verified_animal"),
    ).group_by(m.deployment_id, m.minute)


MEDIA_COLUMNS = [
    "project_id",
    "deployment_id",
    "minute",
    "media",
    "with_animal",
    "with_verified_animal",
]


async def analyze(connection: AsyncConnection) -> None:
    """Fresh planner statistics for what a whole project's recompute reads (PostgreSQL).

    A whole project often follows a bulk load that autovacuum has not seen yet; planned on
    the row counts of before, the join of every observation to its medium runs for minutes
    instead of seconds.
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(text("ANALYZE media, observations, events"))


async def recompute_project(connection: AsyncConnection, project_id: uuid.UUID) -> None:
    """Replace all of the project's media summaries with fresh ones."""
    mm = MediaMinute.__table__  # type: ignore[attr-defined]
    await connection.execute(delete(mm).where(mm.c.project_id == project_id))
    await connection.execute(insert(mm).from_select(MEDIA_COLUMNS, _media_rows(project_id, None)))


async def _recompute_ranges(
    connection: AsyncConnection, project_id: uuid.UUID, ranges: Sequence[MinuteRange]
) -> None:
    """Replace the summaries of ``ranges`` with fresh ones."""
    arrays = connection.dialect.name == "postgresql"
    everything = Within(ranges, [], arrays)
    await _delete_summaries(connection, project_id, everything)
    found = await connection.execute(_media_in(project_id, everything))
    within = Within(ranges, [m for (m,) in found.all()], arrays)
    mm = MediaMinute.__table__  # type: ignore[attr-defined]
    await connection.execute(insert(mm).from_select(MEDIA_COLUMNS, _media_rows(project_id, within)))


async def recompute_ranges(
    connection: AsyncConnection, project_id: uuid.UUID, ranges: Sequence[MinuteRange]
) -> None:
    """Replace the summaries of ``ranges`` with fresh ones, so many ranges per statement."""
    per = RANGES_PER_STATEMENT if connection.dialect.name == "postgresql" else RANGES_IN_OR
    for i in range(0, len(ranges), per):
        await _recompute_ranges(connection, project_id, ranges[i : i + per])


async def _delete_summaries(
    connection: AsyncConnection, project_id: uuid.UUID, within: Within
) -> None:
    mm = MediaMinute.__table__  # type: ignore[attr-defined]
    statement = delete(mm).where(mm.c.project_id == project_id)
    if not within.arrays:
        covered = [r.covers(mm.c.deployment_id, mm.c.minute) for r in within.ranges]
        await connection.execute(statement.where(_either(covered)))
        return
    if within.timed:
        ranges = within.rows()
        await connection.execute(
            statement.where(
                mm.c.deployment_id == ranges.c.deployment_id,
                mm.c.minute.between(ranges.c.first, ranges.c.last),
            )
        )
    if within.untimed:
        await connection.execute(
            statement.where(
                mm.c.minute.is_(None),
                mm.c.deployment_id == any_(_array("untimed", within.untimed, Uuid())),
            )
        )


def _media_in(project_id: uuid.UUID, within: Within) -> Any:
    """The ids of the project's media in ``within``'s ranges."""
    media = col(Media.id)
    in_project = col(Media.project_id) == project_id
    deployment, at = col(Media.deployment_id), col(Media.captured_at)
    if not within.arrays:
        return select_columns(media).where(in_project, within.condition(deployment, at))
    parts: list[Any] = []
    if within.timed:
        ranges = within.rows()
        joined = and_(deployment == ranges.c.deployment_id, at >= ranges.c.start, at < ranges.c.end)
        parts.append(select_columns(media).select_from(ranges).join(Media, joined))
    if within.untimed:
        untimed = deployment == any_(_array("untimed", within.untimed, Uuid()))
        parts.append(select_columns(media).where(at.is_(None), untimed))
    parts = [part.where(in_project) for part in parts]
    return parts[0] if len(parts) == 1 else union_all(*parts)


async def summarised(connection: AsyncConnection, project_id: uuid.UUID) -> int:
    """How many media minutes the project's summaries hold now."""
    mm = MediaMinute.__table__  # type: ignore[attr-defined]
    counted = await connection.execute(
        select_columns(func.count()).select_from(mm).where(mm.c.project_id == project_id)
    )
    return int(counted.scalar_one())


async def lock_refreshes(connection: AsyncConnection, project_id: uuid.UUID, *, wait: bool) -> bool:
    """This transaction's hold on refreshing the project."""
    key = int.from_bytes(project_id.bytes[:8], "big", signed=True)
    return await transaction_lock(connection, key, wait=wait)


async def has_changes(connection: AsyncConnection, project_id: uuid.UUID) -> bool:
    """Whether any media minute of the project awaits a refresh."""
    changes = SummaryChange.__table__  # type: ignore[attr-defined]
    pending = await connection.execute(
        select_columns(changes.c.id).where(changes.c.project_id == project_id).limit(1)
    )
    return pending.first() is not None


async def plan_each_refresh(connection: AsyncConnection) -> None:
    """Plan this transaction's statements for their own arrays (PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        # Every refresh brings arrays of another size; a plan made once for any of them
        # cannot hash a thousand media ids and compares each row with every one of them.
        await connection.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def take_changes(
    connection: AsyncConnection, project_id: uuid.UUID
) -> set[tuple[uuid.UUID, int | None]]:
    """The project's changed (deployment, minute) pairs, their notes deleted."""
    changes = SummaryChange.__table__  # type: ignore[attr-defined]
    taken = await connection.execute(
        delete(changes)
        .where(changes.c.project_id == project_id)
        .returning(changes.c.deployment_id, changes.c.minute)
    )
    return {(d, m) for d, m in taken.all()}


async def changed_projects(connection: AsyncConnection) -> list[uuid.UUID]:
    """The projects with media minutes awaiting a refresh."""
    changes = SummaryChange.__table__  # type: ignore[attr-defined]
    rows = await connection.execute(select_columns(changes.c.project_id).distinct())
    return [r for (r,) in rows.all()]


async def vacuum(connection: AsyncConnection) -> None:
    """Vacuum and analyse the detection records and media summaries (PostgreSQL), outside
    any transaction."""
    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
    await autocommit.execute(text("VACUUM (ANALYZE) detection_records, media_minutes"))
