"""The catalogue's consumers as plain functions: called in a transaction of the test's own,
with no bus in between, an ingested medium is recorded in its deployment and its analysis
shows as observations, as the API serves them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.support.api import Site, bearer, ok
from tests.support.platform import RunningPlatform
from tests.support.results import analysis, animal, person
from wildlens.catalogue.consumers import media_analyzed, media_ingested
from wildlens.common.events import new_envelope
from wildlens.common.events.v1.media_pb2 import MediaIngested, MediaKind
from wildlens.common.settings import Settings

FOX = "Vulpes vulpes"
CAPTURED = "2021-04-02T06:30:00+01:00"


def _ingested(media_id: uuid.UUID, project_id: str, deployment_id: str) -> MediaIngested:
    sha256 = media_id.hex * 2
    return MediaIngested(
        media_id=str(media_id),
        project_id=project_id,
        deployment_id=deployment_id,
        sha256=sha256,
        object_key=f"originals/{sha256}.jpg",
        content_type="image/jpeg",
        kind=MediaKind.MEDIA_KIND_IMAGE,
        size_bytes=2048,
        width=640,
        height=480,
        filename="fox.jpg",
        captured_at=CAPTURED,
        uploaded_by="gateway-1",
    )


@pytest.mark.services("catalogue")
async def test_an_ingested_and_analysed_medium_shows_its_observations(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site
) -> None:
    ctx = wl.platform.contexts["catalogue"]
    media_id = uuid.uuid4()
    received_at = datetime(2021, 4, 2, 6, 31, tzinfo=UTC)

    async with ctx.database.transaction() as session:
        event = _ingested(media_id, site.project_id, site.deployment_id)
        await media_ingested.handle(session, ctx.service_bus, event, received_at)
    analysed = analysis(str(media_id), site.project_id, animal(0.92, FOX), person(0.7))
    async with ctx.database.transaction() as session:
        await media_analyzed.handle(
            session,
            ctx.service_bus,
            [new_envelope(analysed, producer="test")],
            base_url=settings.public_url,
        )

    media = await ok(await wl.client.get(f"/v1/media/{media_id}", headers=bearer(admin)), 200)
    assert media["deployment_id"] == site.deployment_id
    assert datetime.fromisoformat(media["captured_at"]) == datetime.fromisoformat(CAPTURED)
    assert [a["model_name"] for a in media["analyses"]] == ["test-detector"]
    found = sorted(
        (o["observation_type"], o["scientific_name"] or "", o["classification_method"])
        for o in media["observations"]
    )
    assert found == [("animal", FOX, "machine"), ("human", "", "machine")]

    # The same medium announced again, and the same analysis stored again: nothing twice.
    async with ctx.database.transaction() as session:
        await media_ingested.handle(session, ctx.service_bus, event, received_at)
        await media_analyzed.handle(
            session,
            ctx.service_bus,
            [new_envelope(analysed, producer="test")],
            base_url=settings.public_url,
        )
    again = await ok(await wl.client.get(f"/v1/media/{media_id}", headers=bearer(admin)), 200)
    assert len(again["observations"]) == 2
    assert len(again["analyses"]) == 1
