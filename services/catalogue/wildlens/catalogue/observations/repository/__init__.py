"""Every query of the observations domain: observations, their history, the taxa corrections
name, the review queue's reads (its order is one statement of its own, ``review_order``), and
what label smoothing reads and writes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, func, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import (
    Media,
    ModelRun,
    Observation,
    ObservationChange,
    Taxon,
    VolunteerConsensus,
)
from wildlens.catalogue.models import Sequence as Event
from wildlens.catalogue.observations.repository.review_order import ranked
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_int
from wildlens.common.http.pagination import PageParams

__all__ = [
    "ANNOUNCED_COLUMNS",
    "ANNOUNCED_MEDIA",
    "LABEL_COLUMNS",
    "LABEL_PARAMETERS",
    "announced_rows",
    "changes",
    "changes_page",
    "clear_smoothing",
    "consensus_observations",
    "consensus_of",
    "event_media_ids",
    "get_observation",
    "get_taxon",
    "lock_observations",
    "lock_observations_of_media",
    "lock_with_their_media",
    "media_by_ids",
    "media_with_people",
    "ranked",
    "review_rows",
    "sibling_media",
    "smoothing_rows",
    "taxon_named",
    "validated_counts",
    "versions",
    "write_event_labels",
    "write_smoothed",
]


async def get_observation(session: AsyncSession, observation_id: uuid.UUID) -> Observation | None:
    return await session.get(Observation, observation_id)


async def event_media_ids(
    session: AsyncSession, project_id: uuid.UUID, event_id: uuid.UUID
) -> list[uuid.UUID]:
    rows = await session.exec(
        select(Media.id).where(Media.project_id == project_id, Media.event_id == event_id)
    )
    return list(rows.all())


async def _locked(session: AsyncSession, condition: ColumnElement[bool]) -> list[Observation]:
    """The observations that meet ``condition``, by id, read afresh and held until the
    transaction ends, so that changes to them (and their history's version numbers) take
    turns instead of colliding.

    PostgreSQL locks their rows (in id order, so that two callers cannot wait on each other).
    SQLite's driver starts a transaction only at the first write, so reads before it may be
    stale whatever is locked later: a write that changes nothing comes first, which takes the
    database's write lock, and everything read after it is current.
    """
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.execute(
            update(_OBSERVATIONS).where(condition).values(id=_OBSERVATIONS.c.id)
        )
    rows = await session.exec(
        select(Observation)
        .where(condition)
        .order_by(col(Observation.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def lock_observations(session: AsyncSession, ids: Collection[uuid.UUID]) -> list[Observation]:
    """These observations, read afresh and held until the transaction ends."""
    return await _locked(session, col(Observation.id).in_(list(ids)))


async def lock_observations_of_media(
    session: AsyncSession, media_ids: Sequence[uuid.UUID]
) -> list[Observation]:
    """The media's observations, by medium then id, read afresh and held until the
    transaction ends."""
    found = await _locked(session, col(Observation.media_id).in_(list(media_ids)))
    return sorted(found, key=lambda o: (str(o.media_id), str(o.id)))


async def lock_with_their_media(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> list[Observation]:
    """These observations and every other observation of their media, locked in one
    statement (so in one id order: two selections that share media wait for each other
    rather than each holding what the other needs)."""
    if not ids:
        return []
    media = select(Observation.media_id).where(
        col(Observation.id).in_(list(ids)), col(Observation.media_id).is_not(None)
    )
    return await _locked(
        session,
        or_(col(Observation.id).in_(list(ids)), col(Observation.media_id).in_(media)),
    )


async def media_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> list[Media]:
    rows = await session.exec(select(Media).where(col(Media.id).in_(list(ids))))
    return list(rows.all())


async def changes_page(
    session: AsyncSession, observation_id: uuid.UUID, page: PageParams
) -> tuple[list[ObservationChange], str | None]:
    """A page of the observation's changes, oldest first, and the cursor of the next page."""
    query = select(ObservationChange).where(ObservationChange.observation_id == observation_id)
    return await page_by_keys(
        session,
        query,
        [SortKey(col(ObservationChange.version), parse_int)],
        lambda change: [change.version],
        page,
    )


async def changes(session: AsyncSession, observation_id: uuid.UUID) -> list[ObservationChange]:
    """Every change of the observation, oldest first."""
    rows = await session.exec(
        select(ObservationChange)
        .where(ObservationChange.observation_id == observation_id)
        .order_by(col(ObservationChange.version))
    )
    return list(rows.all())


async def versions(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Observation id → its number of changes so far, for many observations in one query."""
    if not ids:
        return {}
    rows = await session.exec(
        select(ObservationChange.observation_id, func.max(ObservationChange.version))
        .where(col(ObservationChange.observation_id).in_(list(ids)))
        .group_by(col(ObservationChange.observation_id))
    )
    found: dict[uuid.UUID, int] = dict.fromkeys(ids, 0)
    found.update({i: int(v) for i, v in rows.all()})
    return found


async def get_taxon(session: AsyncSession, taxon_id: uuid.UUID) -> Taxon | None:
    return await session.get(Taxon, taxon_id)


async def taxon_named(session: AsyncSession, scientific_name: str) -> Taxon | None:
    """The taxon of that name: the accepted one among homonyms and synonyms, then by id."""
    rows = await session.exec(
        select(Taxon)
        .where(Taxon.scientific_name == scientific_name)
        .order_by(col(Taxon.taxonomic_status) != "accepted", col(Taxon.external_id))
    )
    return rows.first()


async def review_rows(
    session: AsyncSession, media_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[Observation]], dict[uuid.UUID, tuple[Any, Any, str]]]:
    """The observations of ``media_ids``, and each medium's capture time, event and status."""
    about: dict[uuid.UUID, tuple[Any, Any, str]] = {
        media_id: (captured_at, event_id, status)
        for media_id, captured_at, event_id, status in (
            await session.exec(
                select(Media.id, Media.captured_at, Media.event_id, Media.status).where(
                    col(Media.id).in_(media_ids)
                )
            )
        ).all()
    }
    by_media: dict[uuid.UUID, list[Observation]] = defaultdict(list)
    for o in await session.exec(
        select(Observation).where(col(Observation.media_id).in_(media_ids))
    ):
        assert o.media_id is not None
        by_media[o.media_id].append(o)
    return by_media, about


async def validated_counts(session: AsyncSession, project_id: uuid.UUID) -> dict[str, int]:
    """Validated observations per species (taxon id, else scientific name) in the project."""
    rows = await session.exec(
        select(Observation.taxon_id, Observation.scientific_name, func.count())
        .where(Observation.project_id == project_id, Observation.verification_state == "validated")
        .group_by(col(Observation.taxon_id), col(Observation.scientific_name))
    )
    counts: dict[str, int] = defaultdict(int)
    for taxon_id, name, n in rows.all():
        counts[str(taxon_id) if taxon_id else name] += int(n)
    return counts


_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
_MEDIA: Table = Media.__table__  # type: ignore[attr-defined]
_OBSERVATIONS: Table = Observation.__table__  # type: ignore[attr-defined]
_RUNS: Table = ModelRun.__table__  # type: ignore[attr-defined]
# An event's label columns and the parameters they are written from.
LABEL_PARAMETERS = ("e_id", "l_name", "l_taxon", "l_method", "l_votes", "l_total", "l_at")
LABEL_COLUMNS = {
    "label_scientific_name": "l_name",
    "label_taxon_id": "l_taxon",
    "label_method": "l_method",
    "label_votes": "l_votes",
    "label_total": "l_total",
    "updated_at": "l_at",
}


async def smoothing_rows(session: AsyncSession, event_ids: Collection[uuid.UUID]) -> Sequence[Any]:
    """For each event, its stored label (id, name, taxon, method, votes, total), then one of
    its observations: id, type, verification state, smoothed name and taxon, then its vote
    (medium, method, name, taxon, confidence, model run, when the run analysed it)."""
    e, o, m, r = _EVENTS.c, _OBSERVATIONS.c, _MEDIA.c, _RUNS.c
    # Only the columns smoothing needs: results arrive in batches and this runs for each. An
    # event without observations still gives one row (its label, then NULLs).
    observed = _MEDIA.join(_OBSERVATIONS, o.media_id == m.id).outerjoin(
        _RUNS, o.model_run_id == r.id
    )
    query = (
        select_columns(
            e.id,
            e.label_scientific_name,
            e.label_taxon_id,
            e.label_method,
            e.label_votes,
            e.label_total,
            o.id,
            o.observation_type,
            o.verification_state,
            o.smoothed_scientific_name,
            o.smoothed_taxon_id,
            o.media_id,
            o.classification_method,
            o.scientific_name,
            o.taxon_id,
            o.confidence,
            o.model_run_id,
            r.analyzed_at,
        )
        .select_from(_EVENTS.outerjoin(observed, m.event_id == e.id))
        .where(e.id.in_(list(event_ids)))
    )
    return (await (await session.connection()).execute(query)).all()


async def write_event_labels(session: AsyncSession, labels: list[dict[str, Any]]) -> None:
    """Events' new labels, one executemany; each dict keyed by ``LABEL_PARAMETERS``."""
    await (await session.connection()).execute(
        update(_EVENTS)
        .where(_EVENTS.c.id == bindparam("e_id"))
        .values({name: bindparam(key) for name, key in LABEL_COLUMNS.items()}),
        labels,
    )


async def write_smoothed(
    session: AsyncSession, changed: Mapping[uuid.UUID, tuple[str, uuid.UUID | None]]
) -> None:
    """Observations' new smoothed labels: on PostgreSQL in one statement (arrays)."""
    if not changed:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        # The driver's own connection, inside the transaction the session already began.
        driver: Any = raw.driver_connection
        table = _OBSERVATIONS.name
        await driver.execute(
            f'UPDATE "{table}" SET smoothed_scientific_name = v.name, smoothed_taxon_id = v.taxon '
            "FROM unnest($1::uuid[], $2::varchar[], $3::uuid[]) AS v(id, name, taxon) "
            f'WHERE "{table}".id = v.id',
            list(changed),
            [name for name, _ in changed.values()],
            [taxon for _, taxon in changed.values()],
        )
        return
    by_label: dict[tuple[str, uuid.UUID | None], list[uuid.UUID]] = defaultdict(list)
    for obs_id, smoothed in changed.items():
        by_label[smoothed].append(obs_id)
    for (name, taxon_id), ids in by_label.items():
        await connection.execute(
            update(_OBSERVATIONS)
            .where(_OBSERVATIONS.c.id.in_(ids))
            .values(smoothed_scientific_name=name, smoothed_taxon_id=taxon_id)
        )


async def clear_smoothing(session: AsyncSession, media_ids: Sequence[uuid.UUID]) -> None:
    """Media that left every event carry no smoothed label any more."""
    if not media_ids:
        return
    await session.exec(
        update(Observation)
        .where(col(Observation.media_id).in_(media_ids))
        .values(smoothed_scientific_name="", smoothed_taxon_id=None)
        .execution_options(synchronize_session="fetch")
    )


# What an announcement of a medium's labels reads of each observation (``announcements``).
ANNOUNCED_COLUMNS = (
    "id",
    "media_id",
    "model_run_id",
    "observation_type",
    "scientific_name",
    "taxon_id",
    "classification_method",
    "classified_by",
    "classified_at",
    "verification_state",
    "verified_by",
    "confidence",
    "classification_confidence",
    "count",
    "bbox_x",
    "bbox_y",
    "bbox_width",
    "bbox_height",
    "top_labels",
    "classification_entropy",
    "classification_margin",
)
# A medium's: what the announcement says of it.
ANNOUNCED_MEDIA = ("id", "project_id", "deployment_id", "event_id", "captured_at", "kind")


async def announced_rows(
    session: AsyncSession, media_ids: Collection[uuid.UUID]
) -> tuple[list[Any], dict[uuid.UUID, list[Any]]]:
    """These media (``ANNOUNCED_MEDIA``) and every observation of theirs
    (``ANNOUNCED_COLUMNS``), by medium: plain rows, read afresh, as many as a batch of
    analyses announces (whole entities would cost the consumer more than storing them)."""
    if not media_ids:
        return [], {}
    connection = await session.connection()
    media_table = Media.__table__  # type: ignore[attr-defined]
    media = (
        await connection.execute(
            select_columns(*(media_table.c[c] for c in ANNOUNCED_MEDIA)).where(
                media_table.c.id.in_(list(media_ids))
            )
        )
    ).all()
    table = Observation.__table__  # type: ignore[attr-defined]
    rows = await connection.execute(
        select_columns(*(table.c[c] for c in ANNOUNCED_COLUMNS)).where(
            table.c.media_id.in_([m.id for m in media])
        )
    )
    found: dict[uuid.UUID, list[Any]] = {m.id: [] for m in media}
    for row in rows.all():
        found[row.media_id].append(row)
    return list(media), found


async def consensus_of(
    session: AsyncSession, observation_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, VolunteerConsensus]:
    """The provenance of those of these observations that are volunteers' consensus."""
    if not observation_ids:
        return {}
    rows = await session.exec(
        select(VolunteerConsensus).where(
            col(VolunteerConsensus.observation_id).in_(list(observation_ids))
        )
    )
    return {c.observation_id: c for c in rows.all()}


async def consensus_observations(
    session: AsyncSession, project_id: uuid.UUID, consensus_id: str
) -> list[tuple[VolunteerConsensus, Observation]]:
    """What earlier versions of a consensus wrote: each observation with its provenance,
    held until the transaction ends (two deliveries of one consensus take turns)."""
    rows = await session.exec(
        select(VolunteerConsensus, Observation)
        .join(Observation, col(Observation.id) == col(VolunteerConsensus.observation_id))
        .where(
            col(VolunteerConsensus.project_id) == project_id,
            col(VolunteerConsensus.consensus_id) == consensus_id,
        )
        .order_by(col(Observation.media_id), col(Observation.id))
        .with_for_update(of=Observation)
    )
    return [(c, o) for c, o in rows.all()]


async def media_with_people(
    session: AsyncSession, project_id: uuid.UUID, media_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``media_ids`` with a human observation (anyone's, not discarded)."""
    if not media_ids:
        return set()
    rows = await session.exec(
        select(Observation.media_id).where(
            Observation.project_id == project_id,
            col(Observation.media_id).in_(list(media_ids)),
            Observation.observation_type == "human",
            Observation.verification_state != "discarded",
        )
    )
    return {m for m in rows.all() if m is not None}


async def sibling_media(
    session: AsyncSession,
    project_id: uuid.UUID,
    event_ids: Collection[uuid.UUID],
    video_ids: Collection[uuid.UUID],
) -> tuple[dict[uuid.UUID, list[Media]], dict[uuid.UUID, list[Media]]]:
    """The pictures (images and frames) of each event, in capture order, and the frames cut
    from each video, by offset."""
    by_event: dict[uuid.UUID, list[Media]] = defaultdict(list)
    by_video: dict[uuid.UUID, list[Media]] = defaultdict(list)
    if event_ids:
        rows = await session.exec(
            select(Media)
            .where(
                Media.project_id == project_id,
                col(Media.event_id).in_(list(event_ids)),
                col(Media.kind).in_(["image", "frame"]),
            )
            .order_by(col(Media.captured_at), col(Media.offset_ms), col(Media.id))
        )
        for m in rows.all():
            assert m.event_id is not None
            by_event[m.event_id].append(m)
    if video_ids:
        rows = await session.exec(
            select(Media)
            .where(
                Media.project_id == project_id,
                col(Media.parent_media_id).in_(list(video_ids)),
                Media.kind == "frame",
            )
            .order_by(col(Media.offset_ms), col(Media.id))
        )
        for m in rows.all():
            assert m.parent_media_id is not None
            by_video[m.parent_media_id].append(m)
    return by_event, by_video
