"""The review queue reads each medium's score parts as the catalogue keeps them; after every
kind of change people and models make (validations, corrections, discards, volunteers'
labels, a newer model's analysis, a first analysis, deletions) the kept parts are exactly
what a computation from scratch gives, and the queue is exactly the one the aggregate over
every unverified observation (the order before the parts were kept) and the explanations
give, on both backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy import select as select_columns
from sqlmodel import col, select

from tests.e2e.test_review_queue import SPECIES, _expected, _survey
from tests.e2e.test_taxa import import_tree
from tests.support import review_reference
from tests.support.api import bearer, ok
from tests.support.platform import RunningPlatform, eventually
from wildlens.catalogue.models import (
    Media,
    ModelRun,
    Observation,
    ReviewScore,
    ReviewScoreChange,
)
from wildlens.catalogue.observations import review_scores as refreshing
from wildlens.catalogue.observations.repository import review_scores
from wildlens.catalogue.observations.repository.review_order import SCORE_COLUMNS, score_rows
from wildlens.catalogue.runtime import CatalogueRuntime
from wildlens.common.db import utcnow
from wildlens.common.http.pagination import PageParams


async def _queue(wl: RunningPlatform, admin: str, pid: uuid.UUID) -> list[tuple[str, float]]:
    """The whole queue through the API, a few items a page."""
    queue: list[tuple[str, float]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 9, **({"cursor": cursor} if cursor else {})}
        page = await ok(
            await wl.client.get(f"/v1/projects/{pid}/review", params=params, headers=bearer(admin)),
            200,
        )
        queue += [(i["media_id"], i["score"]) for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return queue


def _row(values: Any) -> tuple[Any, ...]:
    """A score row comparable across how each backend hands back numbers and booleans."""
    v = dict(zip(SCORE_COLUMNS, values, strict=True))
    return (
        str(v["media_id"]),
        v["species"],
        int(v["species_count"]),
        None if v["lowest"] is None else round(float(v["lowest"]), 9),
        None if v["entropy"] is None else round(float(v["entropy"]), 9),
        None if v["margin"] is None else round(float(v["margin"]), 9),
        bool(v["volunteers_disagree"]),
        bool(v["models_disagree"]),
        bool(v["not_analysed"]),
        round(float(v["base"]), 9),
        round(float(v["descending"]), 9),
    )


async def _agree(wl: RunningPlatform, admin: str, pid: uuid.UUID) -> list[tuple[str, float]]:
    """Check the kept parts and the queue against computations from scratch; answers the
    queue."""
    queue = await _queue(wl, admin, pid)
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        connection = await session.connection()
        table = ReviewScore.__table__  # type: ignore[attr-defined]
        kept = await connection.execute(
            select_columns(*(table.c[c] for c in SCORE_COLUMNS)).where(table.c.project_id == pid)
        )
        arrays = connection.dialect.name == "postgresql"
        fresh = await connection.execute(score_rows(pid, None, arrays=arrays))
        assert sorted(map(_row, kept.all()), key=repr) == sorted(map(_row, fresh.all()), key=repr)
        reference, _ = await review_reference.ranked(session, pid, PageParams(limit=100_000))
        stored = (
            await session.exec(select(Observation).where(Observation.project_id == pid))
        ).all()
        media = (await session.exec(select(Media).where(Media.project_id == pid))).all()
    assert queue == [(str(m), score) for m, score in reference]
    assert queue == _expected(list(stored), list(media))
    return queue


async def _machine_labels(wl: RunningPlatform, media_id: str) -> list[Observation]:
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        found = await session.exec(
            select(Observation).where(
                Observation.media_id == uuid.UUID(media_id),
                Observation.classification_method == "machine",
                Observation.verification_state != "discarded",
            )
        )
        return list(found.all())


async def _analyse_again(wl: RunningPlatform, pid: uuid.UUID, media_id: str, name: str) -> None:
    """A newer model version's analysis of the medium (its first, for one nobody analysed)."""
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        medium = await session.get(Media, uuid.UUID(media_id))
        assert medium is not None
        medium.status = "analyzed"
        at = utcnow() + timedelta(days=1)
        run = ModelRun(
            media_id=medium.id, model_name="detector", model_version="9.0", analyzed_at=at
        )
        session.add(run)
        await session.flush()
        for confidence in (0.9, 0.4):
            session.add(
                Observation(
                    project_id=pid,
                    media_id=medium.id,
                    model_run_id=run.id,
                    observation_type="animal",
                    category="animal",
                    scientific_name=name,
                    classification_method="machine",
                    classified_by="detector@9.0",
                    classified_at=at,
                    confidence=confidence,
                )
            )


async def test_kept_scores_stay_exact_through_every_change(wl: RunningPlatform, admin: str) -> None:
    taxa = await import_tree(wl.client, admin)
    project = await ok(
        await wl.client.post("/v1/projects", json={"name": "Kept"}, headers=bearer(admin)), 201
    )
    pid = uuid.UUID(project["id"])
    await _survey(wl, pid, taxa, seed=11)
    queue = await _agree(wl, admin, pid)
    queued = [m for m, _ in queue]
    assert len(queued) > 40
    base = f"/v1/projects/{pid}/observations"
    h = bearer(admin)

    # People validate the model on some media: they leave the queue, and their species
    # weigh less in everyone else's.
    validated = [m for m in queued if await _machine_labels(wl, m)][:4]
    for m in validated:
        label = (await _machine_labels(wl, m))[0]
        await ok(await wl.client.post(f"{base}/{label.id}/validate", headers=h), 200)
    queue = await _agree(wl, admin, pid)
    assert not {m for m, _ in queue} & set(validated)

    # A correction and a discard: judged, out of the queue.
    rest = [m for m, _ in queue if await _machine_labels(wl, m)]
    corrected, discarded = rest[0], rest[1]
    label = (await _machine_labels(wl, corrected))[0]
    body = {"scientific_name": SPECIES[2]}
    await ok(await wl.client.post(f"{base}/{label.id}/correct", json=body, headers=h), 200)
    label = (await _machine_labels(wl, discarded))[0]
    await ok(await wl.client.post(f"{base}/{label.id}/discard", headers=h), 200)
    queue = await _agree(wl, admin, pid)
    assert not {m for m, _ in queue} & {corrected, discarded}

    # Volunteers say something on media still queued; a newer model analyses others, and a
    # detector reaches one nobody had analysed.
    catalogue = wl.platform.contexts["catalogue"]
    still = [m for m, _ in queue]
    async with catalogue.db.transaction() as session:
        for m in still[:3]:
            session.add(
                Observation(
                    project_id=pid,
                    media_id=uuid.UUID(m),
                    observation_type="animal",
                    category="animal",
                    scientific_name=SPECIES[3],
                    classification_method="human",
                    classified_by="volunteers:zooniverse",
                    classified_at=utcnow(),
                )
            )
    for m in still[3:6]:
        await _analyse_again(wl, pid, m, SPECIES[0])
    async with catalogue.db.transaction() as session:
        waiting = (
            await session.exec(
                select(Media.id).where(Media.project_id == pid, Media.status == "recorded")
            )
        ).all()
    assert waiting
    await _analyse_again(wl, pid, str(waiting[0]), SPECIES[1])
    queue = await _agree(wl, admin, pid)
    assert str(waiting[0]) in {m for m, _ in queue}

    # Deletions: a queued medium with all it holds, and one volunteers' label.
    gone = queue[0][0]
    await ok(await wl.client.delete(f"/v1/projects/{pid}/media/{gone}", headers=h), 200)
    async with catalogue.db.transaction() as session:
        await session.exec(
            delete(Observation).where(
                col(Observation.media_id) == uuid.UUID(still[0]),
                col(Observation.classified_by) == "volunteers:zooniverse",
            )
        )
    queue = await _agree(wl, admin, pid)
    assert gone not in {m for m, _ in queue}

    # The whole project noted at once, as an upgrade notes what was there before: computed
    # in one pass, the same parts.
    async with catalogue.db.transaction() as session:
        session.add(ReviewScoreChange(project_id=pid))
    assert await _agree(wl, admin, pid) == queue


async def test_a_page_never_queues_behind_a_long_refresh(wl: RunningPlatform, admin: str) -> None:
    """Under a stream of uploads and validations a reviewer's page does not wait for another
    refresh of the project: it reads at once, leaving out the media still to be scored
    afresh (what it shows is scored as its explanations say), and they come back after."""
    taxa = await import_tree(wl.client, admin)
    project = await ok(
        await wl.client.post("/v1/projects", json={"name": "Busy"}, headers=bearer(admin)), 201
    )
    pid = uuid.UUID(project["id"])
    await _survey(wl, pid, taxa, seed=5)
    queued = [m for m, _ in await _agree(wl, admin, pid)]
    catalogue = wl.platform.contexts["catalogue"]
    labelled = [m for m in queued if await _machine_labels(wl, m)]
    validated = labelled[0]
    label = (await _machine_labels(wl, validated))[0]
    async with catalogue.db.transaction() as session:
        waiting = (
            await session.exec(
                select(Media.id).where(Media.project_id == pid, Media.status == "recorded")
            )
        ).first()
    assert waiting is not None
    analysed = str(waiting)

    async with catalogue.db.engine.connect() as other, other.begin():
        # Another refresh of the project, taking its time.
        await review_scores.lock_refreshes(other, pid, wait=True)
        h = bearer(admin)
        base = f"/v1/projects/{pid}/observations"
        await ok(await wl.client.post(f"{base}/{label.id}/validate", headers=h), 200)
        await _analyse_again(wl, pid, analysed, SPECIES[1])
        queue = await asyncio.wait_for(_queue(wl, admin, pid), timeout=20)
        shown = {m for m, _ in queue}
        assert validated not in shown
        if other.dialect.name == "postgresql":
            # Its new analysis is not scored yet, so it is not shown yet.
            assert analysed not in shown
        else:
            # SQLite has one writer, and no other refresh to wait for: the page refreshed.
            assert analysed in shown
    queue = await _agree(wl, admin, pid)
    assert analysed in {m for m, _ in queue}
    assert validated not in {m for m, _ in queue}


async def test_a_page_leaves_a_burst_of_changes_to_the_background_refresher(
    wl: RunningPlatform, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a project with plenty to show, a page does not score a burst of changes (the last
    seconds' uploads under load) before it answers: it reads at once, leaving the changed
    media out, and the background refresher's next round brings them back, scored. A project
    with few scored media scores them first (the other tests' first pages)."""
    taxa = await import_tree(wl.client, admin)
    project = await ok(
        await wl.client.post("/v1/projects", json={"name": "Burst"}, headers=bearer(admin)), 201
    )
    pid = uuid.UUID(project["id"])
    await _survey(wl, pid, taxa, seed=9)
    await _agree(wl, admin, pid)
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        recorded = (
            await session.exec(
                select(Media.id).where(Media.project_id == pid, Media.status == "recorded")
            )
        ).all()
    burst = {str(m) for m in recorded[:3]}
    assert len(burst) == 3
    # A project of 80 media stands for one of thousands; a burst of 3 for a hundred.
    monkeypatch.setattr(refreshing, "PLENTY", 10)
    monkeypatch.setattr(refreshing, "PAGE_REFRESHES_AT_MOST", 2)
    reviews = catalogue.runtime_as(CatalogueRuntime).reviews
    await reviews.close()
    try:
        for media_id in burst:
            await _analyse_again(wl, pid, media_id, SPECIES[1])
        shown = {m for m, _ in await _queue(wl, admin, pid)}
        assert shown
        assert not shown & burst
        async with catalogue.db.engine.connect() as connection:
            # The page scored none of them: their notes wait for the refresher.
            assert await review_scores.changes_up_to(connection, pid, 100) >= len(burst)
    finally:
        await reviews.start()

    async def back() -> list[tuple[str, float]] | None:
        queue = await _queue(wl, admin, pid)
        return queue if burst <= {m for m, _ in queue} else None

    await eventually(back, timeout=30)
    await _agree(wl, admin, pid)
