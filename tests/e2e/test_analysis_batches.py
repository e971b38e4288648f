"""``media.analyzed`` in large batches, as the catalogue's consumer takes them from the bus:
every medium analysed once, each detection one observation carrying its event's smoothed
label from the start, a person's label still outranking the machine, and a batch delivered
again storing nothing twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api import Site, bearer, ok
from tests.support.platform import RunningPlatform
from tests.support.results import analysis, animal, person
from wildlens.catalogue.consumers import media_analyzed
from wildlens.catalogue.models import Media, Observation, Sequence
from wildlens.common.events import new_envelope

START = datetime(2021, 4, 1, 6, 0, tzinfo=UTC)
FOX, BADGER = "Vulpes vulpes", "Meles meles"


async def _event_with_media(ctx: Any, project_id: str, deployment_id: str, count: int) -> str:
    """An event of ``count`` recorded media, one second apart; its id."""
    event_id = uuid.uuid4()
    async with ctx.db.transaction() as session:
        session.add(
            Sequence(
                id=event_id,
                project_id=uuid.UUID(project_id),
                deployment_id=uuid.UUID(deployment_id),
                start=START,
                end=START + timedelta(seconds=count - 1),
                media_count=count,
            )
        )
        await session.flush()
        for n in range(count):
            media_id = uuid.uuid4()
            session.add(
                Media(
                    id=media_id,
                    project_id=uuid.UUID(project_id),
                    deployment_id=uuid.UUID(deployment_id),
                    sha256=media_id.hex * 2,
                    object_key=f"media/{media_id.hex}.jpg",
                    content_type="image/jpeg",
                    captured_at=START + timedelta(seconds=n),
                    event_id=event_id,
                )
            )
    return str(event_id)


async def _detail(wl: Any, admin: str, project_id: str, event_id: str) -> dict[str, Any]:
    url = f"/v1/projects/{project_id}/events/{event_id}"
    detail: dict[str, Any] = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
    return detail


# Analysis batches are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")


async def test_a_large_batch_stores_each_medium_once_with_its_event_s_label(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    ctx = wl.platform.contexts["catalogue"]
    # More media than one batch of the bus holds, in two events.
    machine_only = await _event_with_media(ctx, site.project_id, site.deployment_id, 200)
    labelled = await _event_with_media(ctx, site.project_id, site.deployment_id, 100)
    media = {
        event_id: [m["id"] for m in (await _detail(wl, admin, site.project_id, event_id))["media"]]
        for event_id in (machine_only, labelled)
    }
    # A person already said the second event shows a badger.
    async with ctx.db.transaction() as session:
        session.add(
            Observation(
                project_id=uuid.UUID(site.project_id),
                media_id=uuid.UUID(media[labelled][0]),
                observation_type="animal",
                category="animal",
                scientific_name=BADGER,
                classification_method="human",
                classified_by="expert-1",
            )
        )
    # Two foxes for every badger, and a person walking past in every tenth image.
    envelopes = []
    for ids in media.values():
        for n, media_id in enumerate(ids):
            detections = [animal(0.9, BADGER if n % 3 == 2 else FOX)]
            if n % 10 == 0:
                detections.append(person(0.8))
            envelopes.append(
                new_envelope(analysis(media_id, site.project_id, *detections), producer="t")
            )
    assert len(envelopes) > media_analyzed.BATCH_SIZE

    async def handle(batch: list[Any]) -> None:
        # As the bus hands a batch to the consumer.
        await media_analyzed.consume(ctx, batch)

    await handle(envelopes)

    detail = await _detail(wl, admin, site.project_id, machine_only)
    assert detail["label"]["method"] == "machine"
    assert detail["label"]["scientific_name"] == FOX
    # Only animals vote: 134 of the 200 media were labelled a fox.
    assert (detail["label"]["votes"], detail["label"]["total"]) == (134, 200)
    observations = [o for m in detail["media"] for o in m["observations"]]
    assert len(observations) == 200 + 20
    for o in observations:
        smoothed = FOX if o["observation_type"] == "animal" else ""
        assert o["smoothed_scientific_name"] == smoothed, o

    detail = await _detail(wl, admin, site.project_id, labelled)
    assert detail["label"]["method"] == "human"
    assert detail["label"]["scientific_name"] == BADGER
    for m in detail["media"]:
        for o in m["observations"]:
            machine_animal = o["classification_method"] == "machine" and (
                o["observation_type"] == "animal"
            )
            # The machine's own label stays; the person's carries no smoothed one.
            assert o["smoothed_scientific_name"] == (BADGER if machine_animal else ""), o
    assert sum(len(m["observations"]) for m in detail["media"]) == 1 + 100 + 10

    # The same batch again, and the same results under new envelopes (a republish):
    # the model runs' natural key keeps every medium analysed once.
    await handle(envelopes)
    await handle(
        [
            new_envelope(analysis(i, site.project_id, animal(0.5, BADGER)), producer="t")
            for i in media[machine_only]
        ]
    )
    again = await _detail(wl, admin, site.project_id, machine_only)
    stored_again = [o for m in again["media"] for o in m["observations"]]
    assert sorted(stored_again, key=lambda o: o["id"]) == sorted(
        observations, key=lambda o: o["id"]
    )
    assert (again["label"]["votes"], again["label"]["total"]) == (134, 200)
