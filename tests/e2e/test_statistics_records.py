"""Every change to what a statistic counts shows in the very next statistic, on both backends.

A camera's photos are grouped into sequences and labelled by the machine; then a person edits
a count, verifies a label and says a photo is empty, a medium and single observations are
deleted, and the project's sequence gap changes so that photos move between sequences. After
each change the counts the API gives are the ones counted by hand (each sequence once, the
most animals in any one of its photos), and the maintained detection records give what the
observations give.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.e2e.test_deployment_time import exif_jpeg, recorded, upload
from tests.e2e.test_statistics_counting import MALLARD, NORTH, counting_package
from tests.e2e.test_statistics_counting import _import as import_package
from tests.e2e.test_taxa import TAXA_CSV, import_tree
from tests.support.api import Site, bearer, ok
from tests.support.platform import RunningPlatform, eventually
from tests.support.statistics import records_agree
from wildlens.catalogue.models import Observation
from wildlens.catalogue.statistics.params import Scope
from wildlens.common.events import new_envelope
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)

pytestmark = pytest.mark.services("catalogue", "ingest")

FOX, BADGER = "Vulpes vulpes", "Meles meles"
# The site's camera writes local time on +01:00: 07:00 local is 06:00 UTC.
START = datetime(2021, 4, 1, 6, 0, tzinfo=UTC)
# (seconds after START, the machine's animals in the photo): a fox family passing in three
# photos within a minute (1, 2 and 1 in view), and a badger an hour later.
PHOTOS = [(0, [FOX]), (10, [FOX, FOX]), (20, [FOX]), (3600, [BADGER])]

Counts = dict[str, tuple[int, int, int]]


def _reading(seconds: int) -> str:
    return (datetime(2021, 4, 1, 7, 0) + timedelta(seconds=seconds)).strftime("%Y:%m:%d %H:%M:%S")


def _analysis(media_id: str, project_id: str, labels: list[str]) -> MediaAnalyzed:
    event = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name="md", version="1.0"),
        detections=[
            Detection(
                category="animal",
                confidence=0.9,
                bbox=BoundingBox(x=0.1 * n, y=0.1, width=0.2, height=0.2),
                classifications=[Classification(label=name, scientific_name=name, confidence=0.8)],
            )
            for n, name in enumerate(labels)
        ],
    )
    event.analyzed_at.GetCurrentTime()
    return event


async def _counts(wl: RunningPlatform, admin: str, site: Site, **params: Any) -> Counts:
    """(independent detections, records, individuals) per taxon, from the API."""
    body = await ok(
        await wl.client.get(
            f"/v1/projects/{site.project_id}/statistics/counts",
            params=params,
            headers=bearer(admin),
        ),
        200,
    )
    return {
        r["taxon"]: (r["independent_detections"], r["records"], r["individuals"])
        for r in body["rows"]
    }


async def _observations(wl: RunningPlatform, admin: str, site: Site, media_id: str) -> list[Any]:
    page = await ok(
        await wl.client.get(
            f"/v1/projects/{site.project_id}/observations",
            params={"limit": 1000},
            headers=bearer(admin),
        ),
        200,
    )
    return [o for o in page["items"] if o["media_id"] == media_id]


async def _delete(wl: RunningPlatform, observation_id: uuid.UUID) -> None:
    """An observation deleted from the catalogue's database (no route deletes one alone)."""
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        statement = select(Observation).where(col(Observation.id) == observation_id)
        await session.delete((await session.exec(statement)).one())


async def test_each_change_shows_in_the_next_statistic(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    h = bearer(admin)
    pid = site.project_id
    media = []
    for n, (seconds, _) in enumerate(PHOTOS):
        media_id = await upload(wl, site.device_token, exif_jpeg(_reading(seconds), 30 + n))
        await recorded(wl, admin, media_id)
        media.append(media_id)
    first, family, _, badger = media
    await wl.platform.bus.publish(
        [
            new_envelope(_analysis(m, pid, labels), producer="test")
            for m, (_, labels) in zip(media, PHOTOS, strict=True)
        ]
    )
    scopes = [
        Scope(),
        Scope(verified_only=True),
        Scope(location_ids=(uuid.UUID(site.location_id),)),
        Scope(captured_from=START, captured_to=START + timedelta(hours=2)),
    ]

    async def labelled() -> Counts | None:
        counts = await _counts(wl, admin, site)
        return counts if FOX in counts and BADGER in counts else None

    # One sequence of foxes, at most two in one photo; one of a badger.
    assert await eventually(labelled) == {FOX: (1, 1, 2), BADGER: (1, 1, 1)}
    assert await records_agree(wl, pid, scopes) == len(scopes)

    # A person says five foxes were in the first photo: the sequence held five.
    (fox,) = await _observations(wl, admin, site, first)
    url = f"/v1/projects/{pid}/observations"
    await ok(await wl.client.post(f"{url}/{fox['id']}/correct", json={"count": 5}, headers=h), 200)
    assert await _counts(wl, admin, site) == {FOX: (1, 1, 5), BADGER: (1, 1, 1)}
    assert await _counts(wl, admin, site, verified_only="true") == {FOX: (1, 1, 5)}
    assert await records_agree(wl, pid, scopes) == len(scopes)

    # The badger verified: it counts among the verified records too.
    (seen,) = await _observations(wl, admin, site, badger)
    await ok(await wl.client.post(f"{url}/{seen['id']}/validate", headers=h), 200)
    assert await _counts(wl, admin, site, verified_only="true") == {
        FOX: (1, 1, 5),
        BADGER: (1, 1, 1),
    }
    assert await records_agree(wl, pid, scopes) == len(scopes)

    # The first photo deleted: the second's two foxes are the most again.
    await ok(await wl.client.delete(f"/v1/projects/{pid}/media/{first}", headers=h), 200)
    assert await _counts(wl, admin, site) == {FOX: (1, 1, 2), BADGER: (1, 1, 1)}
    assert FOX not in await _counts(wl, admin, site, verified_only="true")
    assert await records_agree(wl, pid, scopes) == len(scopes)

    # A person says the second photo shows nothing: the machine's foxes there no longer
    # count (a person's label outranks the machine's), and then that label is deleted.
    catalogue = wl.platform.contexts["catalogue"]
    empty = Observation(
        project_id=uuid.UUID(pid),
        media_id=uuid.UUID(family),
        observation_type="blank",
        category="blank",
        classification_method="human",
        classified_by="expert-1",
        verification_state="validated",
    )
    async with catalogue.db.transaction() as session:
        session.add(empty)
    assert await _counts(wl, admin, site) == {FOX: (1, 1, 1), BADGER: (1, 1, 1)}
    assert await records_agree(wl, pid, scopes) == len(scopes)
    await _delete(wl, empty.id)
    assert await _counts(wl, admin, site) == {FOX: (1, 1, 2), BADGER: (1, 1, 1)}

    # One of the second photo's two foxes deleted: one fox at most.
    await _delete(wl, uuid.UUID((await _observations(wl, admin, site, family))[0]["id"]))
    assert await _counts(wl, admin, site) == {FOX: (1, 1, 1), BADGER: (1, 1, 1)}
    assert await records_agree(wl, pid, scopes) == len(scopes)

    # A gap of five seconds splits the foxes' photos (ten seconds apart) into two sequences:
    # two records, within one independent detection.
    project = f"/v1/projects/{pid}"
    await ok(await wl.client.patch(project, json={"event_gap_s": 5}, headers=h), 200)
    assert await _counts(wl, admin, site) == {FOX: (1, 2, 2), BADGER: (1, 1, 1)}
    assert await records_agree(wl, pid, scopes) == len(scopes)

    # A gap of two hours puts every photo into one sequence: one record of each taxon.
    await ok(await wl.client.patch(project, json={"event_gap_s": 7200}, headers=h), 200)
    assert await _counts(wl, admin, site) == {FOX: (1, 1, 1), BADGER: (1, 1, 1)}
    assert await records_agree(wl, pid, scopes) == len(scopes)

    # A period that cuts the sequence after its foxes counts the part inside it alone, as
    # the observations say (the detection records cannot answer it).
    cut = Scope(captured_from=START + timedelta(seconds=15))
    assert await records_agree(wl, pid, [cut]) == 0
    bound = (START + timedelta(seconds=15)).isoformat()
    assert await _counts(wl, admin, site, captured_from=bound) == {
        FOX: (1, 1, 1),
        BADGER: (1, 1, 1),
    }
    before = await _counts(wl, admin, site, captured_from=START.isoformat(), captured_to=bound)
    assert before == {FOX: (1, 1, 1)}


async def test_a_correction_in_an_imported_sequence_shows_in_the_next_statistic(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    h = bearer(admin)
    await import_tree(wl.client, admin)
    pid = await import_package(wl, admin, counting_package(tmp_path / "pkg"))
    url = f"/v1/projects/{pid}/observations"
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        imported = select(Observation.external_id, Observation.id).where(
            Observation.project_id == uuid.UUID(pid)
        )
        by_external = dict((await session.exec(imported)).all())

    async def fox_and_mallards() -> tuple[Any, Any]:
        body = await ok(
            await wl.client.get(f"/v1/projects/{pid}/statistics/counts", headers=h), 200
        )
        rows = {(r["taxon"], r["location_name"]): r for r in body["rows"]}
        fox, mallard = rows[FOX, NORTH], rows[MALLARD, NORTH]
        return (fox["records"], fox["individuals"]), (mallard["records"], mallard["individuals"])

    # The fox family's busiest frame (3) said to hold one fox: the next busiest (2) counts.
    assert await fox_and_mallards() == ((2, 5), (1, 2))
    frame = by_external["m2b-0"]
    await ok(await wl.client.post(f"{url}/{frame}/correct", json={"count": 1}, headers=h), 200)
    assert await fox_and_mallards() == ((2, 4), (1, 2))
    # The mallards' event-level count corrected: the sequence's record says so.
    event_level = by_external["e1-0"]
    await ok(
        await wl.client.post(f"{url}/{event_level}/correct", json={"count": 4}, headers=h), 200
    )
    assert await fox_and_mallards() == ((2, 4), (1, 4))
    assert await records_agree(wl, pid, [Scope(), Scope(verified_only=True)]) == 2

    # The taxonomy renames the mallard's taxon: its records go by the new name.
    renamed = "Anas platyrhynchos platyrhynchos"
    await import_tree(wl.client, admin, TAXA_CSV.replace(MALLARD, renamed))
    body = await ok(await wl.client.get(f"/v1/projects/{pid}/statistics/counts", headers=h), 200)
    names = {r["taxon"] for r in body["rows"] if r["location_name"] == NORTH}
    assert names == {renamed, FOX}
    assert await records_agree(wl, pid, [Scope(), Scope(verified_only=True)]) == 2
